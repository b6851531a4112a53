import type { Command } from 'commander';
import {
  addOutputOptions,
  addStorageOptions,
  addS3Options,
  type CommonFlags,
  makeStorage,
  runCommand,
} from './common.js';
import { parseLocationArg } from './validate.js';

const LABEL = {
  complete: 'complete      ',
  incomplete: 'INCOMPLETE    ',
  unreadable: 'UNREADABLE    ',
  'unknown-format': 'UNKNOWN-FORMAT',
  damaged: 'DAMAGED       ',
} as const;

export function registerList(program: Command): void {
  const cmd = program
    .command('list')
    .argument(
      '[root]',
      'backup root: a directory or s3://bucket/prefix',
      parseLocationArg('root'),
      './cognito-backups',
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
        const [{ listSnapshots }, { describeLease }] = await Promise.all([
          import('../snapshot/catalog.js'),
          import('../snapshot/lease.js'),
        ]);
        const storage = await makeStorage(root, flags, flags.region);
        const items = await listSnapshots(storage);
        return {
          root: storage.location,
          snapshots: items.map((s) => ({
            path: `${storage.location}/${s.path}`,
            userPoolId: s.userPoolId,
            snapshotId: s.snapshotId,
            status: s.status,
            complete: s.complete,
            bytes: s.bytes,
            ...(s.lastActivity ? { lastActivity: s.lastActivity.toISOString() } : {}),
            ...(s.manifest && s.status === 'complete'
              ? { users: s.manifest.counts.users, finishedAt: s.manifest.finishedAt }
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
        for (const s of r.snapshots) {
          const what = s.users !== undefined ? `${s.users} users` : (s.problem ?? '');
          const use = s.inUse.length ? `  [in use: ${s.inUse.join('; ')}]` : '';
          say(`${LABEL[s.status]}  ${s.path}  ${what}${use}`);
        }
      },
    );
  });
}
