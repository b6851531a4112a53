import type { Command } from 'commander';
import { StorageError } from '../core/errors.js';
import {
  addOutputOptions,
  addStorageOptions,
  addS3Options,
  type CommonFlags,
  defaultRoot,
  makeStorage,
  runCommand,
} from './common.js';
import { parseLocationArg } from './validate.js';

/** What `list` says of a snapshot: the catalog's status, with `resumable` split off incomplete. */
type ListedState =
  'complete' | 'incomplete' | 'resumable' | 'damaged' | 'unreadable' | 'unknown-format';

const LABEL: Record<ListedState, string> = {
  complete: 'complete',
  incomplete: 'INCOMPLETE',
  resumable: 'RESUMABLE',
  unreadable: 'UNREADABLE',
  'unknown-format': 'UNKNOWN-FORMAT',
  damaged: 'DAMAGED',
};

/** 1234567 → "1.2 MB". */
function size(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function registerList(program: Command): void {
  const cmd = program
    .command('list')
    .argument(
      '[root]',
      'backup root: a directory or s3://bucket/prefix (default: COGNITO_VAULT_TO, else ./cognito-backups)',
      parseLocationArg('root'),
      defaultRoot(),
    )
    .description(
      'list the snapshots under a backup root: complete, incomplete, damaged, unreadable or of an unknown format, and why',
    );
  addS3Options(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  cmd.action(async (root: string, flags: CommonFlags) => {
    await runCommand(
      flags,
      async () => {
        const [{ listSnapshots }, { describeLease }, { readPlan }, { LocalDirStorage }] =
          await Promise.all([
            import('../snapshot/catalog.js'),
            import('../snapshot/lease.js'),
            import('../snapshot/progress.js'),
            import('../storage/local.js'),
          ]);
        const storage = await makeStorage(root, flags, flags.region);
        // A root that is not there is a typo or the wrong machine, not "no snapshots" (a missing
        // bucket fails in the listing itself).
        if (storage instanceof LocalDirStorage) {
          const { stat } = await import('node:fs/promises');
          const missing = await stat(storage.location).then(
            () => false,
            (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
          );
          if (missing)
            throw new StorageError('NOT_FOUND', `backup root ${storage.location} does not exist`, {
              location: storage.location,
            });
        }
        const items = await listSnapshots(storage);
        // Incomplete with completion records and no running backup or prune: `backup --resume`
        // finishes it.
        const resumable = async (s: (typeof items)[number]): Promise<boolean> => {
          if (s.status !== 'incomplete') return false;
          const busy = s.leases.some(
            (l) =>
              l.live &&
              (l.unreadable || !l.lease || l.lease.kind === 'backup' || l.lease.kind === 'prune'),
          );
          if (busy) return false;
          return (await readPlan(storage.child(s.path)).catch(() => undefined))?.status === 'ok';
        };
        const states = await Promise.all(
          items.map(async (s): Promise<ListedState> =>
            (await resumable(s)) ? 'resumable' : s.status,
          ),
        );
        return {
          root: storage.location,
          snapshots: items.map((s, i) => ({
            path: `${storage.location}/${s.path}`,
            userPoolId: s.userPoolId,
            snapshotId: s.snapshotId,
            status: s.status,
            state: states[i] as ListedState,
            complete: s.complete,
            bytes: s.bytes,
            ...(s.lastActivity ? { lastActivity: s.lastActivity.toISOString() } : {}),
            ...(s.manifest && s.status === 'complete'
              ? {
                  poolName: s.manifest.userPool.name,
                  users: s.manifest.counts.users,
                  finishedAt: s.manifest.finishedAt,
                }
              : {}),
            ...(s.formatVersion !== undefined ? { formatVersion: s.formatVersion } : {}),
            ...(s.problem ? { problem: s.problem } : {}),
            leases: s.leases.map((l) => ({
              key: l.key,
              live: l.live,
              ...(l.lease
                ? {
                    kind: l.lease.kind,
                    host: l.lease.host,
                    pid: l.lease.pid,
                    expiresAt: l.lease.expiresAt,
                  }
                : {}),
              ...(l.problem ? { problem: l.problem } : {}),
            })),
            inUse: s.leases
              .filter((l) => l.live && l.lease?.kind !== 'prune')
              .map((l) => describeLease(l)),
          })),
        };
      },
      (r, say) => {
        if (r.snapshots.length === 0) say(`no snapshots under ${r.root}`);
        const width = Math.max(...Object.values(LABEL).map((l) => l.length));
        for (const s of r.snapshots) {
          // Pool names are the operator's own labels, not personal data.
          const what =
            s.users !== undefined
              ? `"${s.poolName ?? ''}"  ${s.users} users  ${size(s.bytes)}`
              : `${size(s.bytes)}${s.problem ? `  ${s.problem}` : ''}${s.state === 'resumable' ? '  (backup --resume finishes it)' : ''}`;
          const use = s.inUse.length ? `  [in use: ${s.inUse.join('; ')}]` : '';
          say(`${LABEL[s.state].padEnd(width)}  ${s.path}  ${what}${use}`);
        }
      },
    );
  });
}
