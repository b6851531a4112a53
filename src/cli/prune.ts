import { type Command, InvalidArgumentError } from 'commander';
import { prune } from '../snapshot/retention.js';
import {
  addOutputOptions,
  addStorageOptions,
  type CommonFlags,
  makeStorage,
  runCommand,
} from './common.js';

interface PruneFlags extends CommonFlags {
  keepLast: number;
  keepDaily?: number;
  keepMonthly?: number;
  userPoolId?: string;
  dryRun?: boolean;
}

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

export function registerPrune(program: Command): void {
  const cmd = program
    .command('prune')
    .argument('[root]', 'backup root: a directory or s3://bucket/prefix', './cognito-backups')
    .description(
      'delete old snapshots by a retention policy (per pool); the newest complete snapshot is always kept',
    )
    .requiredOption(
      '--keep-last <n>',
      'keep the newest N complete snapshots of each pool (≥ 1)',
      count,
    )
    .option('--keep-daily <n>', 'also keep the newest snapshot of each of the last N days', count)
    .option(
      '--keep-monthly <n>',
      'also keep the newest snapshot of each of the last N months',
      count,
    )
    .option('--user-pool-id <id>', 'only this pool')
    .option('--dry-run', 'print what would be deleted; delete nothing')
    .option('--endpoint-url <url>', 'S3 endpoint (for s3:// roots on an emulator)')
    .option('--profile <profile>', 'AWS shared-config profile')
    .option('--region <region>', 'AWS Region of the bucket');
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  cmd.action(async (root: string, flags: PruneFlags) => {
    await runCommand(
      flags,
      async () => {
        const storage = makeStorage(root, flags, flags.region);
        const r = await prune(
          storage,
          {
            keepLast: flags.keepLast,
            ...(flags.keepDaily !== undefined ? { keepDaily: flags.keepDaily } : {}),
            ...(flags.keepMonthly !== undefined ? { keepMonthly: flags.keepMonthly } : {}),
          },
          {
            dryRun: Boolean(flags.dryRun),
            ...(flags.userPoolId ? { userPoolId: flags.userPoolId } : {}),
          },
        );
        return {
          root: storage.location,
          dryRun: Boolean(flags.dryRun),
          kept: r.decisions.filter((d) => d.keep),
          deleted: r.decisions.filter((d) => !d.keep),
          deletedObjects: r.deletedObjects,
        };
      },
      (r, say) => {
        for (const d of r.deleted)
          say(`${r.dryRun ? 'would delete' : 'deleted'}  ${d.path}  (${d.reasons.join(', ')})`);
        for (const d of r.kept) say(`kept          ${d.path}  (${d.reasons.join(', ')})`);
        say(
          `${r.deleted.length} snapshot(s) ${r.dryRun ? 'would be deleted' : 'deleted'}, ${r.kept.length} kept under ${r.root}`,
        );
      },
    );
  });
}
