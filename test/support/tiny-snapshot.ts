import { newSnapshotId } from '../../src/snapshot/format.js';
import { type ManifestDraft, SnapshotWriter } from '../../src/snapshot/writer.js';
import type { Storage } from '../../src/storage/storage.js';

/**
 * Writes a real (tiny) snapshot of `pool` started at `iso` under `root`: the required
 * documents (empty), one user, and — unless `complete` is false — its manifest. Returns `<pool>/<snapshotId>`.
 */
export async function tinySnapshot(
  root: Storage,
  pool: string,
  iso: string,
  complete = true,
): Promise<string> {
  const id = newSnapshotId(new Date(iso));
  const w = new SnapshotWriter(root.child(`${pool}/${id}`));
  // Every required document: only a structurally complete snapshot counts for retention.
  await w.writeJson('pool.json', 'pool', { userPool: { Id: pool } }, 1);
  await w.writeJson('clients.json', 'clients', [], 0);
  await w.writeJson('identity-providers.json', 'identityProviders', [], 0);
  await w.writeJson('resource-servers.json', 'resourceServers', [], 0);
  await w.writeJson('groups.json', 'groups', [], 0);
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', [{ Username: 'u', Attributes: [] }]);
  if (complete) {
    const at = new Date(iso).toISOString();
    await w.commit(
      manifestDraft({
        snapshotId: id,
        userPool: { id: pool, name: 'p' },
        startedAt: at,
        finishedAt: at,
        counts: { users: 1 },
      }),
    );
  }
  return `${pool}/${id}`;
}

type Counts = ManifestDraft['counts'];
const NO_COUNTS: Counts = {
  users: 0,
  groups: 0,
  memberships: 0,
  clients: 0,
  identityProviders: 0,
  resourceServers: 0,
};

/**
 * A manifest draft for a test snapshot: every count 0, no secrets, one shard, no warnings,
 * unless `over` says otherwise (counts and options are merged into those defaults).
 */
export function manifestDraft(
  over: {
    snapshotId?: string;
    userPool?: { id: string; name: string };
    startedAt?: string;
    finishedAt?: string;
    counts?: Partial<Counts>;
    options?: Partial<ManifestDraft['options']>;
  } = {},
): ManifestDraft {
  const pool = over.userPool ?? { id: 'us-east-1_S', name: 's' };
  return {
    tool: { name: 'cognito-vault', version: 'test' },
    snapshotId: over.snapshotId ?? '2026-11-27T17-22-00-123Z',
    userPool: { id: pool.id, name: pool.name, region: 'us-east-1' },
    startedAt: over.startedAt ?? '2026-11-27T17:22:00.123Z',
    finishedAt: over.finishedAt ?? '2026-11-27T17:22:01.123Z',
    counts: { ...NO_COUNTS, ...over.counts },
    options: {
      includeSecrets: false,
      ...over.options,
      sharding: over.options?.sharding ?? { mode: 'single', shards: 1 },
    },
    warnings: [],
  };
}
