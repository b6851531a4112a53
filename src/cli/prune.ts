import { type Command, InvalidArgumentError, Option } from 'commander';
import { ExitCode } from '../core/errors.js';
import { DEFAULT_INCOMPLETE_GRACE_MS, formatDuration, parseDuration } from '../core/duration.js';
import {
  addOutputOptions,
  addStorageOptions,
  addS3Options,
  type CommonFlags,
  defaultRoot,
  makeStorage,
  oneLine,
  runCommand,
} from './common.js';
import { parseLocationArg, parsePoolId } from './validate.js';

interface PruneFlags extends CommonFlags {
  keepLast: number;
  keepDaily?: number;
  keepMonthly?: number;
  incompleteGrace?: number;
  userPoolId?: string;
  dryRun?: boolean;
}

function count(v: string): number {
  const n = Number(v.trim());
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

function duration(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined)
    throw new InvalidArgumentError('expected a duration such as 7d, 36h or 90m');
  return ms;
}

export function registerPrune(program: Command): void {
  const cmd = program
    .command('prune')
    .argument(
      '[root]',
      'backup root: a directory or s3://bucket/prefix (default: COGNITO_VAULT_TO, else ./cognito-backups)',
      parseLocationArg('root'),
      defaultRoot(),
    )
    .description(
      'delete old snapshots by a retention policy (per pool); the newest complete snapshot is always kept, unreadable ones and ones in use are never deleted',
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
    .option(
      '--incomplete-grace <duration>',
      `delete an incomplete snapshot only once nothing was written to it for this long (default ${formatDuration(DEFAULT_INCOMPLETE_GRACE_MS)}, at least 1h)`,
      duration,
    )
    .addOption(new Option('--user-pool-id <id>', 'only this pool').argParser(parsePoolId))
    .option('--dry-run', 'print what would be deleted; delete nothing');
  addS3Options(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  cmd.action(async (root: string, flags: PruneFlags) => {
    await runCommand(
      flags,
      async ({ signal }) => {
        const [{ regionOfPoolId }, { prune }] = await Promise.all([
          import('../cognito/gateway.js'),
          import('../snapshot/retention.js'),
        ]);
        if (flags.userPoolId !== undefined) regionOfPoolId(flags.userPoolId);
        const storage = await makeStorage(root, flags, flags.region);
        const r = await prune(
          storage,
          {
            keepLast: flags.keepLast,
            ...(flags.keepDaily !== undefined ? { keepDaily: flags.keepDaily } : {}),
            ...(flags.keepMonthly !== undefined ? { keepMonthly: flags.keepMonthly } : {}),
            ...(flags.incompleteGrace !== undefined
              ? { incompleteGraceMs: flags.incompleteGrace }
              : {}),
          },
          {
            dryRun: Boolean(flags.dryRun),
            signal,
            ...(flags.userPoolId !== undefined ? { userPoolId: flags.userPoolId } : {}),
          },
        );
        const failed = new Set(r.errors.map((e) => e.path));
        return {
          root: storage.location,
          dryRun: Boolean(flags.dryRun),
          kept: r.decisions.filter((d) => d.keep),
          deleted: r.decisions.filter((d) => !d.keep && !failed.has(d.path)),
          /** Kept because nobody can tell what they are, or never deletable: reported with why. */
          unreadable: r.decisions.filter(
            (d) =>
              d.status === 'unreadable' || d.status === 'unknown-format' || d.status === 'damaged',
          ),
          failed: r.errors,
          deletedObjects: r.deletedObjects,
          staleLeasesRemoved: r.staleLeasesRemoved,
        };
      },
      (r, say) => {
        for (const d of r.deleted)
          say(`${r.dryRun ? 'would delete' : 'deleted'}  ${d.path}  (${d.reasons.join(', ')})`);
        for (const d of r.kept)
          say(`kept          ${d.path}  (${d.reasons.join(', ')}${d.why ? `: ${d.why}` : ''})`);
        for (const f of r.failed) say(`FAILED        ${f.path}  (${f.message})`);
        if (r.failed[0])
          process.stderr.write(
            `cognito-vault: error: ${r.failed.length} snapshot(s) could not be deleted: ${oneLine(r.failed[0].message)}\n`,
          );
        say(
          `${r.deleted.length} snapshot(s) ${r.dryRun ? 'would be deleted' : 'deleted'}, ${r.kept.length} kept` +
            `${r.unreadable.length ? ` (${r.unreadable.length} damaged, unreadable or of an unknown format: never deleted)` : ''}` +
            `${r.failed.length ? `, ${r.failed.length} could not be deleted` : ''} under ${r.root}`,
        );
      },
      {
        exitCode: (r) => (r.failed.length ? (r.failed[0]?.exitCode ?? ExitCode.Storage) : 0),
      },
    );
  });
}
