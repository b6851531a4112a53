import { SnapshotInvalidError } from '../../core/errors.js';
import {
  ClientRecord,
  GroupRecord,
  IdentityProviderRecord,
  ManagedLoginBrandingRecord,
  MembershipRecord,
  PoolDocument,
  ResourceServerRecord,
  UserRecord,
} from '../../snapshot/format.js';
import type { SnapshotReader } from '../../snapshot/reader.js';
import { readDocuments } from '../../snapshot/documents.js';
import { parseIdentities } from '../../cognito/fields.js';
import { attributeOf, isExternalProvider, loginOf } from '../../snapshot/user-record.js';
import { MembershipIndex } from '../users/memberships.js';
import type { UserScan } from '../pool/target.js';
import { planSignIn, type SignInContext } from '../users/sign-in.js';

export interface SnapshotData {
  pool: PoolDocument;
  groups: GroupRecord[];
  clients: ClientRecord[];
  identityProviders: IdentityProviderRecord[];
  resourceServers: ResourceServerRecord[];
  /** Per-client managed login styles; empty for snapshots taken before they were captured. */
  managedLoginBranding: ManagedLoginBrandingRecord[];
}

/**
 * The snapshot is complete (the reader opened its manifest and checked formatVersion) and every
 * file's size, sha256 and record count match the manifest. Then the small documents are read.
 */
export async function loadSnapshot(reader: SnapshotReader): Promise<SnapshotData> {
  const v = await reader.verify();
  if (!v.ok) {
    throw new SnapshotInvalidError(
      `${reader.location} failed verification: ${v.problems[0]}${v.problems.length > 1 ? ` (and ${v.problems.length - 1} more)` : ''}`,
      v.problems,
      { problems: v.problems.length },
    );
  }
  const docs = await readDocuments(reader);
  return { ...docs, managedLoginBranding: docs.managedLoginBranding ?? [] };
}

export { parseIdentities, type LinkedIdentity } from '../../cognito/fields.js';

/** What a user scan checks users against. */
export interface ScanOptions {
  /** The attributes the target requires (requiredAttributes of its schema). */
  required: readonly string[];
  usernameAttributes: readonly string[];
  signIn?: SignInContext;
  /** --federated-users precreate: federated users are created too, so they are checked. */
  includeExternal?: boolean;
}

export function newUserScan(required: readonly string[]): UserScan {
  return {
    total: 0,
    externalProvider: 0,
    disabled: 0,
    withLinks: 0,
    links: 0,
    customAttributes: new Set(),
    missingRequired: new Map(required.map((r) => [r, 0])),
    noLogin: 0,
    signIn: { c: 0, p: 0, f: 0, needsAdmin: 0 },
  };
}

/** One user into the scan: the step of the full restore's pass and of the selective restore. */
export function scanUser(scan: UserScan, u: UserRecord, opts: ScanOptions): void {
  scan.total++;
  const external = isExternalProvider(u);
  if (external) {
    scan.externalProvider++;
    if (!opts.includeExternal) return;
  }
  if (u.Enabled === false) scan.disabled++;
  const names = new Set<string>();
  for (const a of u.Attributes) {
    if (a.Value === undefined) continue;
    names.add(a.Name);
    if (a.Name.startsWith('custom:') || a.Name.startsWith('dev:'))
      scan.customAttributes.add(a.Name);
  }
  for (const r of opts.required) {
    if (!names.has(r)) scan.missingRequired.set(r, (scan.missingRequired.get(r) ?? 0) + 1);
  }
  const links = parseIdentities(attributeOf(u, 'identities'));
  if (links.length) {
    scan.withLinks++;
    scan.links += links.length;
  }
  if (loginOf(u, opts.usernameAttributes) === undefined) scan.noLogin++;
  if (opts.signIn && !external) {
    const plan = planSignIn(u, opts.signIn);
    scan.signIn[plan.kind]++;
    if (plan.needsAdmin) scan.signIn.needsAdmin++;
  }
}

/** One streaming pass over the snapshot's users: counts and what the target must support. */
export async function scanUsers(reader: SnapshotReader, opts: ScanOptions): Promise<UserScan> {
  const scan = newUserScan(opts.required);
  for await (const u of reader.records('users', UserRecord)) scanUser(scan, u, opts);
  return scan;
}

/** Memberships per user, from the snapshot's membership files (see MembershipIndex). */
export async function buildMembershipIndex(
  reader: SnapshotReader,
  groups: GroupRecord[],
): Promise<{ index: MembershipIndex; unknownGroups: Map<string, number> }> {
  const index = new MembershipIndex();
  const known = new Set<string>();
  for (const g of groups) {
    index.intern(g.GroupName);
    known.add(g.GroupName);
  }
  const unknownGroups = new Map<string, number>();
  for await (const m of reader.records('memberships', MembershipRecord)) {
    if (!known.has(m.group)) {
      unknownGroups.set(m.group, (unknownGroups.get(m.group) ?? 0) + 1);
      continue;
    }
    index.add(m.username, m.group);
  }
  return { index, unknownGroups };
}
