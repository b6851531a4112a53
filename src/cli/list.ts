import type { Command } from 'commander';
import { listSnapshots } from '../snapshot/catalog.js';
import {
  addOutputOptions,
  addStorageOptions,
  type CommonFlags,
  makeStorage,
  runCommand,
} from './common.js';

export function registerList(program: Command): void {
  const cmd = program
    .command('list')
    .argument('[root]', 'backup root: a directory or s3://bucket/prefix', './cognito-backups')
    .description('list the snapshots under a backup root, complete or not')
    .option('--endpoint-url <url>', 'S3 endpoint (for s3:// roots on an emulator)')
    .option('--profile <profile>', 'AWS shared-config profile')
    .option('--region <region>', 'AWS Region of the bucket');
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  cmd.action(async (root: string, flags: CommonFlags) => {
    await runCommand(
      flags,
      async () => {
        const storage = makeStorage(root, flags, flags.region);
        const items = await listSnapshots(storage);
        return {
          root: storage.location,
          snapshots: items.map((s) => ({
            path: `${storage.location}/${s.path}`,
            userPoolId: s.userPoolId,
            snapshotId: s.snapshotId,
            complete: s.complete,
            bytes: s.bytes,
            ...(s.manifest
              ? { users: s.manifest.counts.users, finishedAt: s.manifest.finishedAt }
              : {}),
            ...(s.problem ? { problem: s.problem } : {}),
          })),
        };
      },
      (r, say) => {
        if (r.snapshots.length === 0) say(`no snapshots under ${r.root}`);
        for (const s of r.snapshots) {
          say(
            `${s.complete ? 'complete  ' : 'INCOMPLETE'}  ${s.path}  ${s.users !== undefined ? `${s.users} users` : (s.problem ?? '')}`,
          );
        }
      },
    );
  });
}
