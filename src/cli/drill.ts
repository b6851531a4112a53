import { type Command, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import type { CleanupResult, DrillResult } from '../drill/index.js';
import { DEFAULT_USERS_PATH } from '../restore/users/path.js';
import {
  addAwsOptions,
  addIdentityOption,
  addOutputOptions,
  addRateOptions,
  addStorageOptions,
  type CommonFlags,
  loadKeyring,
  makeGateway,
  makeStorage,
  runCommand,
} from './common.js';
import { checkUsersPathFlags, parseInteger, parseLocationArg, parsePoolId } from './validate.js';

interface DrillFlags extends CommonFlags {
  from?: string;
  root?: string;
  userPoolId?: string;
  sample?: number;
  seed?: string;
  users?: string;
  importLogsRoleArn?: string;
  poolLimit?: number;
  cleanup?: boolean;
  force?: boolean;
}

const DRILL_HELP = `
A drill restores the snapshot into a scratch pool of this account (cognito-vault-drill-<id>,
tagged cognito-vault:drill, without its Lambda triggers or domain, deletion protection off),
compares it with the snapshot, checks each restored user can reset their password, estimates
how long a full restore would take here (RTO), and deletes the scratch pool — also on failure,
Ctrl-C or SIGTERM. After a kill -9, the next drill or \`drill --cleanup\` deletes drill pools
whose heartbeat is older than two minutes (--force: every drill-tagged pool). A pool without the
drill tag is never deleted. Users created with AdminCreateUser are billed as monthly active
users of the scratch pool (the cost is printed before it starts); import jobs bill none.
Exit code 0: every check passed; 9: the scratch pool differs from the snapshot or users cannot
recover; 6: the restore left users or resources behind; others as restore.
IAM: \`cognito-vault policy drill\`.`;

type Printed =
  (DrillResult & { mode: 'drill' }) | (CleanupResult & { mode: 'cleanup'; force: boolean });

function render(r: Printed, say: (line: string) => void): void {
  if (r.mode === 'cleanup') {
    say(
      `drill cleanup${r.force ? ' (--force)' : ''}: ${r.deleted.length} drill pool(s) deleted, ${r.alive.length} alive (heartbeat within two minutes) left, ${r.untagged.length} without the drill tag left alone`,
    );
    for (const id of r.deleted) say(`  deleted ${id}`);
    return;
  }
  say(
    `${r.passed ? 'PASSED' : 'FAILED'}: drill ${r.drillId} of ${r.snapshotId} (pool ${r.sourceUserPoolId}) in ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  say(
    `  sample: ${r.sample.users} of ${r.sample.of} users${r.sample.size !== undefined ? ` (seed "${r.sample.seed}")` : ''}, users path ${r.usersPath}`,
  );
  for (const c of r.checks) say(`  ${c.passed ? 'ok  ' : 'FAIL'} ${c.name.padEnd(9)} ${c.detail}`);
  if (r.rto) {
    say(`RTO estimate for a full restore of ${r.rto.users} users on this account:`);
    for (const p of r.rto.paths) {
      if (p.totalSeconds === null) {
        say(`  ${p.path.padEnd(12)} not estimated: ${p.note ?? ''}`);
        continue;
      }
      const phases = p.phases.map((ph) => `${ph.phase} ${formatSeconds(ph.seconds)}`).join(', ');
      say(
        `  ${p.path.padEnd(12)} ${formatSeconds(p.totalSeconds)} (${phases}; bound by ${p.bottleneck ?? '?'})`,
      );
      if (p.note) say(`               ${p.note}`);
    }
  }
  say(
    `cost: ${r.cost.usersWritten} users written, ${r.cost.mauBilled} billed as monthly active users`,
  );
  say(
    r.cleanup.scratchDeleted
      ? `scratch pool ${r.scratchPoolId ?? ''} deleted`
      : `scratch pool ${r.scratchPoolId ?? '(none)'} NOT deleted: run \`cognito-vault drill --cleanup\``,
  );
  if (r.cleanup.stale.deleted.length)
    say(`deleted ${r.cleanup.stale.deleted.length} stale drill pool(s) left by killed drills`);
  for (const w of r.warnings) say(`warning: ${w}`);
}

function formatSeconds(s: number): string {
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function registerDrill(program: Command): void {
  const cmd = program
    .command('drill')
    .description(
      'restore test: restore a snapshot (or a sample of its users) into a scratch pool, compare, check recovery, estimate the RTO, delete the scratch pool',
    )
    .addOption(
      new Option(
        '--from <snapshot>',
        'the snapshot (a directory or s3:// URL), or "latest" with --root and --user-pool-id',
      ),
    )
    .addOption(
      new Option('--root <location>', 'backup root, for --from latest').argParser(
        parseLocationArg('--root'),
      ),
    )
    .addOption(
      new Option('--user-pool-id <id>', 'the source pool, for --from latest').argParser(
        parsePoolId,
      ),
    )
    .addOption(
      new Option(
        '--sample <n>',
        'restore a deterministic sample of N users (by a hash of the sub) instead of all',
      ).argParser(parseInteger(1, 10_000_000)),
    )
    .option('--seed <text>', 'draws a different sample (default: the same users every drill)')
    .option(
      '--users <path>',
      `how users are written, as restore: auto, import-job, admin-create (default ${DEFAULT_USERS_PATH})`,
    )
    .option('--import-logs-role-arn <arn>', "IAM role for the import jobs' CloudWatch Logs")
    .addOption(
      new Option(
        '--pool-limit <n>',
        "the account's user-pool quota in this Region (default 1000); the drill refuses to take one of the last 10",
      ).argParser(parseInteger(1, 1_000_000)),
    )
    .option(
      '--cleanup',
      'delete drill pools left by killed drills (heartbeat older than two minutes); no drill',
    )
    .option('--force', 'with --cleanup: delete every drill-tagged pool, alive or not');
  addAwsOptions(cmd);
  addRateOptions(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  addIdentityOption(cmd);
  cmd.addHelpText('after', DRILL_HELP);
  cmd.action(drillAction);
}

/** The `drill` command's action. */
async function drillAction(flags: DrillFlags): Promise<void> {
  // Loaded when the command runs (docs/architecture.md, "Start-up").
  const [drill, { SnapshotReader, listSnapshots }] = await Promise.all([
    import('../drill/index.js'),
    import('../snapshot/index.js'),
  ]);
  await runCommand<Printed>(
    flags,
    async ({ signal, progress, say }) => {
      if (flags.force && !flags.cleanup)
        throw new UsageError('BAD_FLAG', '--force goes with --cleanup');
      if (flags.cleanup) {
        if (flags.from) throw new UsageError('BAD_FLAG', '--cleanup runs no drill: drop --from');
        const region = flags.region ?? process.env.AWS_REGION;
        if (!region) throw new UsageError('BAD_FLAG', '--cleanup needs --region (or AWS_REGION)');
        const gw = await makeGateway(flags, region, signal);
        try {
          const r = await drill.cleanupDrillPools(gw, { force: Boolean(flags.force) });
          return { ...r, mode: 'cleanup', force: Boolean(flags.force) };
        } finally {
          gw.destroy();
        }
      }
      if (!flags.from)
        throw new UsageError('BAD_FLAG', 'give the snapshot with --from SNAPSHOT|latest');
      const usersPath = checkUsersPathFlags(flags);
      const storageRegion = flags.region ?? process.env.AWS_REGION;
      let location = flags.from;
      if (location === 'latest') {
        if (!flags.root || !flags.userPoolId)
          throw new UsageError('BAD_FLAG', '--from latest needs --root and --user-pool-id');
        const root = await makeStorage(flags.root, flags, storageRegion, '--root');
        const newest = (await listSnapshots(root, { userPoolId: flags.userPoolId }))
          .filter((s) => s.complete)
          .sort((a, b) => a.snapshotId.localeCompare(b.snapshotId))
          .pop();
        if (!newest)
          throw new UsageError(
            'NO_SNAPSHOT',
            `no complete snapshot of ${flags.userPoolId} under ${flags.root}`,
          );
        location = `${flags.root.replace(/\/+$/, '')}/${newest.path}`;
      } else {
        parseLocationArg('--from')(location);
      }
      const keyring = await loadKeyring(flags.identity, progress);
      const reader = await SnapshotReader.open(
        await makeStorage(location, flags, storageRegion, '--from'),
        keyring ? { keyring } : {},
      );
      reader.assertCanDecrypt();
      const region = flags.region ?? process.env.AWS_REGION ?? reader.manifest.userPool.region;
      const gw = await makeGateway(flags, region, signal);
      // runDrill holds a read lease on the snapshot for the whole drill.
      try {
        const importLogs = flags.importLogsRoleArn
          ? (await import('../restore/index.js')).cloudWatchLogReader({
              region,
              ...(flags.profile ? { profile: flags.profile } : {}),
              ...(process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS || flags.endpointUrl
                ? {
                    endpointUrl: process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS || flags.endpointUrl,
                  }
                : {}),
            })
          : undefined;
        const result = await drill.runDrill(gw, reader, {
          ...(flags.sample !== undefined ? { sample: flags.sample } : {}),
          ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
          usersPath,
          ...(flags.importLogsRoleArn ? { importLogsRoleArn: flags.importLogsRoleArn } : {}),
          ...(importLogs ? { importLogs } : {}),
          ...(flags.poolLimit !== undefined ? { poolLimit: flags.poolLimit } : {}),
          signal,
          // The cost line goes out before the drill writes anything (stderr with --json).
          onProgress: (e) => {
            if (e.type === 'phase' && e.phase === 'drill-cost') say(`cost: ${e.detail ?? ''}`);
            else progress(e);
          },
        });
        return { ...result, mode: 'drill' };
      } finally {
        gw.destroy();
      }
    },
    render,
    {
      exitCode: (r) => (r.mode === 'cleanup' ? 0 : drill.drillExitCode(r)),
      interrupted:
        'drill interrupted; its scratch pool was deleted (if not, the next drill or `drill --cleanup` deletes it)',
    },
  );
}
