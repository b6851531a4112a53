import { type Command, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import {
  addAwsOptions,
  addOutputOptions,
  addStorageOptions,
  addRateOptions,
  type CommonFlags,
  makeGateway,
  makeOutputStorage,
  runCommand,
} from './common.js';
import { parseLocationArg, parsePoolId } from './validate.js';

interface BackupFlags extends CommonFlags {
  userPoolId?: string;
  allPools?: boolean;
  to: string;
  includeSecrets?: boolean;
  shards?: string;
  userMfa?: boolean;
}

const BACKUP_HELP = `
--user-mfa costs money: ListUsers does not return per-user MFA settings, so each user is read
again with AdminGetUser, and AWS counts every user read that way as a monthly active user (MAU)
for that month's bill — a full backup with --user-mfa bills the whole pool as active once a
month. The result says how many users were read (userMfa.billedAsMau). TOTP authenticator
secrets cannot be exported at all; SMS and email MFA preferences can be restored.`;

export function registerBackup(program: Command): void {
  const cmd = program
    .command('backup')
    .description(
      'capture a whole user pool (settings, clients, IdPs, resource servers, groups, users, memberships) into a verified snapshot',
    )
    .addOption(new Option('--user-pool-id <id>', 'the pool to back up').argParser(parsePoolId))
    .option('--all-pools', 'back up every user pool in the Region')
    .addOption(
      new Option('--to <dir|s3://bucket/prefix>', 'where snapshots go')
        .default('./cognito-backups')
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
    .option(
      '--user-mfa',
      "capture each user's MFA settings with AdminGetUser: every user read is billed as a monthly active user (see below)",
    );
  addAwsOptions(cmd);
  addRateOptions(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  cmd.addHelpText('after', BACKUP_HELP);
  cmd.action(async (flags: BackupFlags) => {
    const [{ backupAllPools, backupPool, backupSummary }, { regionOfPoolId }] = await Promise.all([
      import('../backup/engine.js'),
      import('../cognito/gateway.js'),
    ]);
    await runCommand(
      flags,
      async ({ signal, progress }) => {
        if (!flags.userPoolId === !flags.allPools) {
          throw new UsageError('BAD_FLAG', 'give exactly one of --user-pool-id ID or --all-pools');
        }
        const shards = flags.shards === undefined ? undefined : Number(flags.shards);
        if (shards !== undefined && shards !== 1 && shards !== 16 && shards !== 256) {
          throw new UsageError('BAD_FLAG', `--shards must be 1, 16 or 256, got "${flags.shards}"`);
        }
        const region = flags.userPoolId
          ? regionOfPoolId(flags.userPoolId)
          : (flags.region ?? process.env.AWS_REGION);
        if (!region)
          throw new UsageError('NO_REGION', '--all-pools needs --region (or AWS_REGION)');
        // Checked before the first AWS call: a location that cannot be written fails at once.
        const root = await makeOutputStorage(flags.to, flags, region, '--to');
        const gw = await makeGateway(flags, region, signal);
        const base = {
          ...(flags.region ? { region: flags.region } : {}),
          includeSecrets: Boolean(flags.includeSecrets),
          ...(shards ? { shards: shards as 1 | 16 | 256 } : {}),
          ...(flags.userMfa ? { userMfa: true } : {}),
          signal,
          onProgress: progress,
        };
        try {
          if (flags.allPools) {
            const results = await backupAllPools(gw, root, base);
            return { pools: results.map(backupSummary) };
          }
          return backupSummary(
            await backupPool(gw, root, { ...base, userPoolId: flags.userPoolId ?? '' }),
          );
        } finally {
          gw.destroy();
        }
      },
      (result, say) => {
        const list = 'pools' in result ? (result.pools as Record<string, unknown>[]) : [result];
        for (const r of list) {
          say(
            `backed up ${String(r.userPoolId)}: ${String(r.users)} users, ${String(r.groups)} groups, ${String(r.memberships)} memberships, ` +
              `${String(r.clients)} clients, ${String(r.identityProviders)} identity providers, ${String(r.resourceServers)} resource servers ` +
              `in ${(Number(r.durationMs) / 1000).toFixed(1)} s`,
          );
          say(`snapshot: ${String(r.snapshot)}`);
          const mfa = r.userMfa as { billedAsMau: number } | undefined;
          if (mfa) {
            say(
              `user MFA: ${mfa.billedAsMau} users read with AdminGetUser (each billed as a monthly active user)`,
            );
          }
          for (const w of (r.warnings as { message: string }[]) ?? []) say(`warning: ${w.message}`);
        }
      },
      { interrupted: 'interrupted; the partial snapshot has no manifest and is marked incomplete' },
    );
  });
}
