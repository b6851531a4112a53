import { z } from 'zod';
import {
  ClientRecord,
  GroupRecord,
  IdentityProviderRecord,
  ManagedLoginBrandingRecord,
  PoolDocument,
  ResourceServerRecord,
} from './format.js';
import type { SnapshotReader } from './reader.js';

/** A snapshot's small documents: everything but the users and memberships part files. */
export interface SnapshotDocuments {
  pool: PoolDocument;
  groups: GroupRecord[];
  clients: ClientRecord[];
  identityProviders: IdentityProviderRecord[];
  resourceServers: ResourceServerRecord[];
  /** Per-client managed login styles; undefined for snapshots taken before they were captured. */
  managedLoginBranding: ManagedLoginBrandingRecord[] | undefined;
}

/** Reads and validates every document of a snapshot (restore's preflight, compare's snapshot side). */
export async function readDocuments(reader: SnapshotReader): Promise<SnapshotDocuments> {
  const [pool, groups, clients, identityProviders, resourceServers, managedLoginBranding] =
    await Promise.all([
      reader.readJson('pool', PoolDocument),
      reader.readJson('groups', z.array(GroupRecord)),
      reader.readJson('clients', z.array(ClientRecord)),
      reader.readJson('identityProviders', z.array(IdentityProviderRecord)),
      reader.readJson('resourceServers', z.array(ResourceServerRecord)),
      // Added later in format version 1: older snapshots have no such file.
      reader.filesOf('managedLoginBranding').length > 0
        ? reader.readJson('managedLoginBranding', z.array(ManagedLoginBrandingRecord))
        : Promise.resolve(undefined),
    ]);
  return { pool, groups, clients, identityProviders, resourceServers, managedLoginBranding };
}
