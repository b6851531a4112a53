import type { CognitoGateway } from '../cognito/gateway.js';
import type { SnapshotReader } from '../snapshot/reader.js';
import { diffSnapshot } from './diff.js';

/**
 * What `restore --differences` selects: everything `diff` finds between the snapshot and the
 * pool that a restore can put back — users that differ or are only in the snapshot (by
 * username), and groups, app clients (by name), identity providers and resource servers that
 * differ or are only in the snapshot. What is only in the pool is never selected (a selective
 * restore deletes nothing). Same shape as the restore layer's DifferenceSet.
 */
export interface Differences {
  users: Set<string>;
  groups: Set<string>;
  clients: Set<string>;
  identityProviders: Set<string>;
  resourceServers: Set<string>;
  /** Differences found (all kinds, counted by diff). */
  count: number;
}

export async function differenceSelection(
  reader: SnapshotReader,
  gw: CognitoGateway,
  userPoolId: string,
  opts: { signal?: AbortSignal; tempDir?: string } = {},
): Promise<Differences> {
  const out: Differences = {
    users: new Set(),
    groups: new Set(),
    clients: new Set(),
    identityProviders: new Set(),
    resourceServers: new Set(),
    count: 0,
  };
  const r = await diffSnapshot(reader, gw, userPoolId, {
    // Statuses are what sign-in left them (a restore cannot put a status back): not compared.
    userStatus: 'ignore',
    onDifference: (d) => {
      if (d.only === 'B') return;
      if (d.kind === 'user') out.users.add(d.key);
      else if (d.kind === 'group') out.groups.add(d.key);
      else if (d.kind === 'client') out.clients.add(d.key);
      else if (d.kind === 'identityProvider') out.identityProviders.add(d.key);
      else if (d.kind === 'resourceServer') out.resourceServers.add(d.key);
    },
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.tempDir ? { tempDir: opts.tempDir } : {}),
  });
  out.count = r.differenceCount;
  return out;
}
