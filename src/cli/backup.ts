import { type Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import { isOptInRegion, parseRegionList, type RegionSelection } from '../cognito/regions.js';
import type { BackupResult, BackupSummary } from '../backup/engine.js';
import type { PoolOutcome, RegionOutcome } from '../backup/regions.js';
import {
  addAwsOptions,
  addOutputOptions,
  addStorageOptions,
  addRateOptions,
  collectRecipient,
  type CommonFlags,
  makeGateway,
  makeOutputStorage,
  oneLine,
  runCommand,
  withFlagNames,
} from './common.js';
import { renderOptionNames } from './option-flags.js';
import { parseLocationArg, parsePoolId } from './validate.js';

interface BackupFlags extends CommonFlags {
  userPoolId?: string;
  allPools?: boolean;
  regions?: RegionSelection;
  to: string;
  includeSecrets?: boolean;
  shards?: string;
  userMfa?: boolean;
  encryptTo?: string[];
  resume?: string;
}

const BACKUP_HELP = `
--user-mfa costs money: ListUsers does not return per-user MFA settings, so each user is read
again with AdminGetUser, and AWS counts every user read that way as a monthly active user (MAU)
for that month's bill — a full backup with --user-mfa bills the whole pool as active once a
month. The result says how many users were read (userMfa.billedAsMau). TOTP authenticator
secrets cannot be exported at all; SMS and email MFA preferences can be restored.

--all-pools --regions backs the Regions up in parallel (each with its own quota buckets and
--rate-share), the pools of one Region one after another. A pool or a Region that fails does
not stop the others: exit 0 when every pool was backed up, 10 when some failed (or the failures'
own code when all failed alike). With --regions, --region names the S3 bucket's Region only.

--encrypt-to age1… encrypts the snapshot's data files with age (age-encryption.org/v1) to the
given recipients before they are written; only manifest.json (counts, hashes, no user data) stays
readable, so list, prune and verify (of the stored bytes) work without a key. Reading the users
back (verify with contents, restore, export-csv, diff) needs --identity FILE with a matching
secret key: make one with age-keygen, keep the secret key offline, and give backup its public
recipient only. A lost key means an unreadable backup.`;

function regionsArg(v: string): RegionSelection {
  try {
    return parseRegionList(v);
  } catch (e) {
    if (e instanceof UsageError) throw new InvalidArgumentError(renderOptionNames(e.message));
    throw e;
  }
}

/** One pool's line in the --json result: ids, counts and the error's code — no PII. */
function poolJson(p: PoolOutcome, summary: (r: BackupResult) => BackupSummary): unknown {
  if (p.ok) {
    return { region: p.region, ...summary(p.result) };
  }
  return { region: p.region, userPoolId: p.userPoolId, error: p.error };
}

export function registerBackup(program: Command): void {
  const cmd = program
    .command('backup')
    .description(
      'capture a whole user pool (settings, clients, IdPs, resource servers, groups, users, memberships) into a verified snapshot',
    )
    .addOption(new Option('--user-pool-id <id>', 'the pool to back up').argParser(parsePoolId))
    .option('--all-pools', 'back up every user pool in the Region')
    .addOption(
      new Option(
        '--regions <list|all>',
        'with --all-pools: these Regions (us-east-1,eu-west-1) or all Regions with Cognito user pools, in parallel',
      ).argParser(regionsArg),
    )
    .addOption(
      new Option('--to <dir|s3://bucket/prefix>', 'where snapshots go')
        .default('./cognito-backups')
        .env('COGNITO_VAULT_TO')
        .argParser(parseLocationArg('--to')),
    )
    .option(
      '--include-secrets',
      'keep app client secrets and identity provider secrets (default: replaced by a marker)',
    )
    .addOption(
      new Option(
        '--shards <n>',
        'parallel ListUsers chains by sub prefix: 1, 16 or 256 (default: 16, 256 above 2M users)',
      ).choices(['1', '16', '256']),
    )
    .addOption(
      new Option(
        '--encrypt-to <recipient>',
        'encrypt every data file (users, memberships, settings) to this age X25519 recipient (age1…) before it leaves the process; repeat for several recipients (any one of their identities decrypts)',
      )
        .argParser(collectRecipient)
        .env('COGNITO_VAULT_ENCRYPT_TO'),
    )
    .option(
      '--resume <snapshot-id|latest>',
      'finish an interrupted backup instead of starting one: only its unfinished parts run (latest: the newest resumable snapshot of --user-pool-id)',
    )
    .option(
      '--user-mfa',
      "capture each user's MFA settings with AdminGetUser: every user read is billed as a monthly active user (see below)",
    );
  addAwsOptions(cmd);
  addRateOptions(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  cmd.addHelpText('after', BACKUP_HELP);
  cmd.action(backupAction);
}

/** The `backup` command's action: one pool (or a resume), or every pool of the Regions. */
async function backupAction(flags: BackupFlags): Promise<void> {
  const [
    { backupPool, backupSummary },
    { backupRegions, regionsExitCode },
    { findResumableBackup, locateSnapshot },
    { regionOfPoolId },
  ] = await Promise.all([
    import('../backup/engine.js'),
    import('../backup/regions.js'),
    import('../backup/resume.js'),
    import('../cognito/gateway.js'),
  ]);
  await runCommand(
    flags,
    async ({ signal, progress }) => {
      const resuming = flags.resume !== undefined;
      if (
        (flags.userPoolId && flags.allPools) ||
        (!flags.userPoolId && !flags.allPools && !resuming)
      ) {
        throw new UsageError('BAD_FLAG', 'give exactly one of --user-pool-id ID or --all-pools');
      }
      if (resuming && flags.allPools) {
        throw new UsageError(
          'BAD_FLAG',
          "--resume finishes one pool's snapshot: give --user-pool-id ID (or nothing), not --all-pools",
        );
      }
      if (flags.resume === 'latest' && !flags.userPoolId) {
        throw new UsageError('BAD_FLAG', '--resume latest needs --user-pool-id ID');
      }
      if (flags.regions && !flags.allPools) {
        throw new UsageError('BAD_FLAG', '--regions goes with --all-pools only');
      }
      const shards = flags.shards === undefined ? undefined : Number(flags.shards);
      if (shards !== undefined && shards !== 1 && shards !== 16 && shards !== 256) {
        throw new UsageError('BAD_FLAG', `--shards must be 1, 16 or 256, got "${flags.shards}"`);
      }
      const regions = flags.regions?.regions;
      let userPoolId = flags.userPoolId;
      let region = userPoolId
        ? regionOfPoolId(userPoolId)
        : (flags.region ?? process.env.AWS_REGION ?? regions?.[0]);
      if (!region && flags.allPools)
        throw new UsageError('NO_REGION', '--all-pools needs --region (or AWS_REGION)');
      // Checked before the first AWS call: a location that cannot be written fails at once.
      const root = await makeOutputStorage(flags.to, flags, region, '--to');
      if (!userPoolId && flags.resume !== undefined) {
        // --resume ID alone: the pool is the one whose directory holds the snapshot.
        userPoolId = await locateSnapshot(root, flags.resume);
        region = regionOfPoolId(userPoolId);
      }
      const base = {
        // A resume keeps the options its snapshot started with; only flags given are checked.
        ...(!resuming || flags.includeSecrets
          ? { includeSecrets: Boolean(flags.includeSecrets) }
          : {}),
        ...(shards ? { shards: shards as 1 | 16 | 256 } : {}),
        ...(flags.userMfa ? { userMfa: true } : {}),
        ...(flags.encryptTo?.length ? { encryptTo: flags.encryptTo } : {}),
        signal,
      };
      if (flags.allPools) {
        // Every --all-pools run: one gateway (quota buckets, --rate-share) per Region, a
        // failure recorded per pool or Region, the others go on.
        const { createRegionalRenderer } = await import('./progress.js');
        const renderer = createRegionalRenderer({
          json: Boolean(flags.json),
          quiet: Boolean(flags.quiet),
        });
        const all = flags.regions?.all ?? false;
        const r = await backupRegions(
          (regions ?? [region ?? '']).map((x) => ({
            region: x,
            ...(all && isOptInRegion(x) ? { optional: true } : {}),
          })),
          root,
          {
            ...base,
            gatewayFor: (x) => makeGateway(flags, x, signal),
            onProgress: (e) => renderer.listener(withFlagNames(e)),
          },
        );
        return {
          pools: r.pools.map((p) => poolJson(p, backupSummary)),
          regions: r.regions,
          exitCode: regionsExitCode(r),
          outcomes: r.pools,
        };
      }
      const gw = await makeGateway(flags, region, signal);
      try {
        const poolId = userPoolId ?? '';
        let resume = flags.resume;
        if (resume === 'latest') {
          resume = await findResumableBackup(root, poolId);
          if (resume === undefined) {
            throw new UsageError(
              'NOTHING_TO_RESUME',
              `no resumable snapshot of ${poolId} under ${root.location}`,
            );
          }
        }
        return backupSummary(
          await backupPool(gw, root, {
            ...base,
            ...(flags.region ? { region: flags.region } : {}),
            onProgress: progress,
            userPoolId: poolId,
            ...(resume !== undefined ? { resume } : {}),
          }),
        );
      } finally {
        gw.destroy();
      }
    },
    (result, say) => {
      if ('outcomes' in result) {
        renderAllPools(result.outcomes, result.regions, say, backupSummary);
        return;
      }
      renderPool(result, say);
    },
    {
      interrupted:
        'interrupted; the partial snapshot has no manifest and is marked incomplete (its finished parts are recorded: backup --resume continues it)',
      exitCode: (result) => ('exitCode' in result ? result.exitCode : 0),
      json: (result) =>
        'outcomes' in result ? { pools: result.pools, regions: result.regions } : result,
    },
  );
}

function renderPool(r: BackupSummary, say: (line: string) => void): void {
  say(
    `backed up ${String(r.userPoolId)}: ${String(r.users)} users, ${String(r.groups)} groups, ${String(r.memberships)} memberships, ` +
      `${String(r.clients)} clients, ${String(r.identityProviders)} identity providers, ${String(r.resourceServers)} resource servers ` +
      `in ${(Number(r.durationMs) / 1000).toFixed(1)} s`,
  );
  say(`snapshot: ${String(r.snapshot)}`);
  const resumed = r.resumed;
  if (resumed) {
    say(
      `resumed (${resumed.count} time(s)): ${resumed.unitsKept} finished part(s) kept from earlier runs; users were listed at different times`,
    );
  }
  const to = r.encryptedTo as string[] | undefined;
  if (to) say(`encrypted (age) to ${to.join(', ')}`);
  const mfa = r.userMfa as { billedAsMau: number } | undefined;
  if (mfa) {
    say(
      `user MFA: ${mfa.billedAsMau} users read with AdminGetUser (each billed as a monthly active user)`,
    );
  }
  for (const w of (r.warnings as { message: string }[]) ?? []) say(`warning: ${w.message}`);
}

function renderAllPools(
  pools: PoolOutcome[],
  regions: RegionOutcome[],
  say: (line: string) => void,
  summary: (r: BackupResult) => BackupSummary,
): void {
  for (const p of pools) {
    if (p.ok) renderPool(summary(p.result), say);
    else
      process.stderr.write(
        `cognito-vault: ${p.userPoolId} (${p.region}) failed: ${oneLine(p.error.message)} [${p.error.code}, exit ${p.error.exitCode}]\n`,
      );
  }
  for (const r of regions) {
    if (r.status === 'failed' && r.error)
      process.stderr.write(
        `cognito-vault: ${r.region} failed: ${oneLine(r.error.message)} [${r.error.code}, exit ${r.error.exitCode}]\n`,
      );
    if (r.status === 'skipped') say(`skipped ${r.region}: ${r.reason ?? ''}`);
  }
  const ok = pools.filter((p) => p.ok).length;
  const failedRegions = regions.filter((r) => r.status === 'failed').length;
  say(
    `${ok} of ${pools.length} pools backed up in ${regions.length} Region(s)` +
      (pools.length - ok ? `; ${pools.length - ok} failed` : '') +
      (failedRegions ? `; ${failedRegions} Region(s) could not be listed` : ''),
  );
}
