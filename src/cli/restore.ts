import { type Command, Option } from 'commander';
import { ExitCode, UsageError } from '../core/errors.js';
import { regionOfPoolId } from '../cognito/pool-id.js';
import type {
  ResourceFailure,
  RestoreOptions,
  RestoreOutcome,
  RestorePlan,
  RestoreResult,
  RestoreTarget,
} from '../restore/types.js';
import { DEFAULT_USERS_PATH, type UsersPath } from '../restore/users/path.js';
import {
  addAwsOptions,
  addOutputOptions,
  addStorageOptions,
  addRateOptions,
  addIdentityOption,
  loadKeyring,
  makeGateway,
  makeStorage,
  runCommand,
} from './common.js';
import {
  checkUsersPathFlags,
  parseAccountId,
  parseLocalDir,
  parseLocalFile,
  parseLocationArg,
  parsePoolId,
  parsePoolName,
} from './validate.js';
import {
  addSelectionOptions,
  assertSelectionOnlyFlags,
  loadOptionFiles,
  runSelectiveRestore,
  type SelectiveRestoreFlags,
  selectionGiven,
} from './restore-selective.js';
import { addChoiceOptions } from './snapshot-choice.js';

/** Every flag of `restore`: the selective restore's (which it refuses or ignores) and these. */
interface RestoreFlags extends SelectiveRestoreFlags {
  acceptMauCost?: boolean;
  allowForeignArns?: boolean;
  targetAccount?: string;
}

const RESTORE_HELP = `
No message is sent to anyone (MessageAction SUPPRESS). --users auto (default) imports every
user a CSV import job can take (RESET_REQUIRED, "forgot password" works, no MAU; needs
--import-logs-role-arn, see \`cognito-vault policy import-role\`) and creates the rest with
AdminCreateUser; without the role every user is created, each billed as a monthly active user
(MAU): above 10,000 such users restore stops in preflight (exit 4, nothing written) unless
--import-logs-role-arn, --users admin-create or --accept-mau-cost (--dry-run shows an estimate
of the cost at list prices). Created users who could sign in come
back CONFIRMED with a random password nobody knows (--password-state force-change:
FORCE_CHANGE_PASSWORD, as before). Passwords, TOTP secrets, devices and subs cannot be
restored: see docs/restore.md.
Re-run the same command after a crash or Ctrl-C to resume from the journal in --state-dir.`;

/** "identityProvider Apple, client web": kinds and names (configuration, not personal data). */
function describeFailures(failures: ResourceFailure[]): string {
  return failures.map((f) => `${f.kind} ${f.name}`).join(', ');
}

/**
 * What the CLI prints of a restore: counts and file paths. The per-user detail of the library's
 * RestoreOutcome — `failedUsers` (usernames, raw AWS messages) and `externalProviderUsers`
 * (usernames, old subs) — is personal data and stays in the 0600 report file.
 */
export type PrintedRestore =
  | RestorePlan
  | (Omit<RestoreResult, 'failedUsers' | 'externalProviderUsers'> & {
      /** Failed user operations (creates and follow-ups), listed in the report. */
      failedOperations: number;
    });

export function printedRestore(r: RestoreOutcome): PrintedRestore {
  if (r.dryRun) return r;
  const { failedUsers, externalProviderUsers, ...rest } = r;
  void externalProviderUsers;
  return { ...rest, failedOperations: failedUsers.length };
}

function exitCodeOf(r: PrintedRestore): number {
  if (r.dryRun) return ExitCode.Ok;
  return r.failedOperations > 0 || r.resourceFailures.length > 0
    ? ExitCode.PartialRestore
    : ExitCode.Ok;
}

function render(r: PrintedRestore, say: (line: string) => void): void {
  if (r.dryRun) {
    const target =
      r.userPoolId ?? ('createPool' in r.target ? `new pool "${r.target.createPool}"` : '');
    say(`dry run: restore ${r.snapshot} into ${target}${r.resumed ? ' (resuming)' : ''}`);
    for (const p of r.phases) {
      const parts = [`${p.create} to create`];
      if (p.existing) parts.push(`${p.existing} existing`);
      if (p.skipped) parts.push(`${p.skipped} skipped`);
      say(`  ${p.phase.padEnd(20)} ${parts.join(', ')}${p.detail ? `  (${p.detail})` : ''}`);
    }
    for (const w of r.warnings) say(`warning: ${w.message}`);
    if (r.resourceFailures.length) {
      say(
        `${r.resourceFailures.length} resource(s) would not be restored (the restore would exit 6): ${describeFailures(r.resourceFailures)}`,
      );
    }
    say('nothing was written');
    return;
  }
  const u = r.users;
  for (const j of r.importJobs) {
    say(
      `import job ${j.jobId} (${j.file}, ${j.rows} rows): ${j.status}, ${j.imported} imported, ${j.skipped} skipped, ${j.failed} failed` +
        (j.lineResults === 'unreadable' ? ' (per-row results unreadable: see the report)' : ''),
    );
  }
  say(
    `restored into ${r.userPoolId}${r.createdPool ? ' (new pool)' : ''}: users ${u.imported} imported, ${u.created} created, ${u.existing} existing, ` +
      `${u.failed} failed, ${u.federatedPrecreated !== undefined ? `${u.federatedPrecreated} federated precreated and linked` : `${u.externalProvider} federated (not restorable)`}; ${r.groups} groups, ` +
      `${r.memberships} memberships, ${r.disabled} disabled, ${r.links} identity links, ${r.clients} app clients ` +
      `in ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  const si = r.signIn;
  say(
    `sign-in: ${si.confirmed} CONFIRMED ("forgot password" works), ${si.passwordless} passwordless, ` +
      `${si.forceChangePassword} FORCE_CHANGE_PASSWORD; ${si.needsAdmin} need an administrator` +
      (si.needsAdmin ? ` (listed in ${si.needsAdminFile})` : ''),
  );
  say(`sub map:       ${r.subMap}`);
  say(`client id map: ${r.clientMap}`);
  say(`report:        ${r.report}`);
  if (r.mfa) {
    say(
      `user MFA: ${r.mfa.preferencesSet} SMS/email preference(s) set, ${r.mfa.totpNotRestorable} TOTP user(s) not restorable`,
    );
  }
  if (r.triggersAttached) say('Lambda triggers attached after the users (--without-triggers)');
  if (r.reconfigure.length) say('reconfigure outside Cognito:');
  for (const item of r.reconfigure) {
    say(`  ${item.subject}: ${item.action}`);
    for (const [k, v] of Object.entries(item.values)) say(`    ${k}: ${v}`);
  }
  for (const w of r.warnings) say(`warning: ${w.message}`);
  if (r.resourceFailures.length) {
    say(
      `${r.resourceFailures.length} resource(s) not restored (listed in the report; dependants adjusted, see the warnings): ${describeFailures(r.resourceFailures)}`,
    );
  }
  if (r.failedOperations) {
    say(
      `${r.failedOperations} user operation(s) failed (listed in the report); fix the cause and run the same command again`,
    );
  }
}

export function registerRestore(program: Command): void {
  const cmd = program
    .command('restore')
    .description(
      'restore a snapshot into a new pool (--create-pool) or an existing one (--to-user-pool-id): settings, groups, resource servers, identity providers, app clients, users, memberships; resumable',
    )
    .addOption(
      new Option(
        '--from <snapshot>',
        'the snapshot: a directory or s3:// URL, as backup printed it, or `latest` (with --root)',
      ).argParser((v: string) => (v === 'latest' ? v : parseLocationArg('--from')(v))),
    )
    .addOption(
      new Option(
        '--create-pool <name>',
        'create a new pool with this name from the snapshot settings',
      ).argParser(parsePoolName),
    )
    .addOption(
      new Option(
        '--to-user-pool-id <id>',
        'restore into this existing (empty, compatible) pool',
      ).argParser(parsePoolId),
    )
    .option('--dry-run', 'run the preflight and print the plan; write nothing')
    .option('--merge', 'allow a target that already has users (they count as existing)')
    .addOption(
      new Option(
        '--sub-map <file>',
        'where the old→new sub map goes (JSON Lines; default in the state dir)',
      ).argParser(parseLocalFile('--sub-map')),
    )
    .addOption(
      new Option(
        '--state-dir <dir>',
        'journal, report and maps (default ./cognito-vault-restore/<snapshotId>--<target>)',
      ).argParser(parseLocalDir('--state-dir')),
    )
    .option('--legacy-sub-attribute <name>', "store each user's old sub in custom:<name>")
    .addOption(
      new Option(
        '--idp-secrets <file>',
        'identity provider secrets the snapshot lacks: {"<ProviderName>": {"client_secret": "…"}}',
      ).argParser(parseLocalFile('--idp-secrets')),
    )
    .option('--domain <prefix>', 'create a Cognito domain with this prefix (prefixes are global)')
    .addOption(
      new Option(
        '--password-state <state>',
        'how created users land: sign-in-ready (CONFIRMED with a random password nobody knows, or passwordless; default) or force-change (FORCE_CHANGE_PASSWORD)',
      ).choices(['sign-in-ready', 'force-change']),
    )
    .option(
      '--users <path>',
      `how users are written: auto (import jobs where possible, AdminCreateUser for the rest), import-job, admin-create (default ${DEFAULT_USERS_PATH})`,
    )
    .option(
      '--import-logs-role-arn <arn>',
      "IAM role Cognito writes the import jobs' CloudWatch Logs with (`cognito-vault policy import-role`)",
    )
    .option(
      '--accept-mau-cost',
      'go ahead although more than 10,000 users would be created with AdminCreateUser, each billed as a monthly active user (without it such a restore stops in preflight, exit 4)',
    )
    .option(
      '--webauthn-rp-id <id>',
      "the new pool's passkey (WebAuthn) relying party id, when its domain differs from the snapshot's",
    )
    .option(
      '--map-arns <file>',
      'rewrite account/Region-bound ARNs (triggers, KMS, SES, SMS role, group roles, …): {"<old ARN>": "<new ARN>", "<old prefix>*": "<new prefix>"}',
    )
    .option(
      '--allow-foreign-arns',
      'restore ARNs of another account or Region as they are (the preflight otherwise stops, exit 4)',
    )
    // Checked as the flags are parsed (exit 2 before the snapshot is read).
    .addOption(
      new Option(
        '--target-account <id>',
        "the target account, to check the snapshot's ARNs before a new pool exists",
      ).argParser(parseAccountId),
    )
    .addOption(
      new Option(
        '--federated-users <mode>',
        'federated (EXTERNAL_PROVIDER) users: skip (default; they come back at their next IdP sign-in, without groups or disabled flag) or precreate (a local profile linked to their IdP identity, with groups and disabled flag)',
      ).choices(['skip', 'precreate']),
    )
    .option(
      '--without-triggers',
      'create the new pool without its Lambda triggers and attach them after the users (--create-pool only)',
    );
  addSelectionOptions(cmd);
  addChoiceOptions(cmd, '--from');
  addAwsOptions(cmd);
  addRateOptions(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  addIdentityOption(cmd);
  cmd.addHelpText('after', RESTORE_HELP);
  cmd.action(restoreAction);
}

/**
 * Step: every flag value checked before the snapshot is read (exit 2). Returns the users path.
 */
function checkRestoreFlags(
  flags: RestoreFlags,
  domainPrefix: RegExp,
  legacyAttributeName: (name: string) => unknown,
): UsersPath {
  if (!flags.from) throw new UsageError('BAD_FLAG', 'give the snapshot with --from SNAPSHOT');
  assertSelectionOnlyFlags(flags);
  if (!flags.createPool === !flags.toUserPoolId) {
    throw new UsageError(
      'BAD_FLAG',
      'give exactly one of --create-pool NAME or --to-user-pool-id ID',
    );
  }
  // Flag values checked before the snapshot is read.
  if (flags.withoutTriggers && !flags.createPool) {
    throw new UsageError(
      'BAD_FLAG',
      "--without-triggers works with --create-pool only: an existing pool's triggers are its owner's (detach them yourself, or restore into a new pool)",
    );
  }
  if (flags.legacySubAttribute !== undefined) legacyAttributeName(flags.legacySubAttribute);
  if (flags.domain !== undefined && !domainPrefix.test(flags.domain)) {
    throw new UsageError(
      'BAD_FLAG',
      `--domain expects a domain prefix (lowercase letters, digits, hyphens), got "${flags.domain}"`,
    );
  }
  if (flags.webauthnRpId !== undefined) {
    if (!flags.createPool) {
      throw new UsageError(
        'BAD_FLAG',
        "--webauthn-rp-id sets a new pool's WebAuthn relying party id; it needs --create-pool",
      );
    }
    if (!/^[a-z0-9.-]{1,127}$/i.test(flags.webauthnRpId)) {
      throw new UsageError(
        'BAD_FLAG',
        `--webauthn-rp-id expects a domain name (1 to 127 letters, digits, dots, hyphens), got "${flags.webauthnRpId}"`,
      );
    }
  }
  if (flags.toUserPoolId) {
    const poolRegion = regionOfPoolId(flags.toUserPoolId);
    if (flags.region && flags.region !== poolRegion) {
      throw new UsageError(
        'REGION_MISMATCH',
        `user pool ${flags.toUserPoolId} is in ${poolRegion}, not in --region ${flags.region}`,
      );
    }
  }
  return checkUsersPathFlags(flags);
}

/** Step: the restore engine's options from the flags (signal and progress apart). */
function restoreOptionsOf(
  flags: RestoreFlags,
  o: {
    target: RestoreTarget;
    usersPath: UsersPath;
    idpSecrets: RestoreOptions['idpSecrets'];
    mapArns: RestoreOptions['mapArns'];
    importLogs: RestoreOptions['importLogs'];
  },
): RestoreOptions {
  const { target, usersPath, idpSecrets, mapArns } = o;
  return {
    target,
    dryRun: Boolean(flags.dryRun),
    merge: Boolean(flags.merge),
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    ...(flags.subMap ? { subMapFile: flags.subMap } : {}),
    ...(flags.legacySubAttribute ? { legacySubAttribute: flags.legacySubAttribute } : {}),
    ...(idpSecrets ? { idpSecrets } : {}),
    ...(flags.domain ? { domain: flags.domain } : {}),
    ...(flags.passwordState
      ? { passwordState: flags.passwordState as RestoreOptions['passwordState'] }
      : {}),
    usersPath,
    ...(flags.acceptMauCost ? { acceptMauCost: true } : {}),
    ...(flags.importLogsRoleArn && o.importLogs
      ? { importLogsRoleArn: flags.importLogsRoleArn, importLogs: o.importLogs }
      : {}),
    ...(flags.webauthnRpId ? { webauthnRpId: flags.webauthnRpId } : {}),
    ...(mapArns ? { mapArns, mapArnsSource: flags.mapArns } : {}),
    ...(flags.allowForeignArns ? { allowForeignArns: true } : {}),
    ...(flags.targetAccount ? { targetAccount: flags.targetAccount } : {}),
    ...(flags.withoutTriggers ? { withoutTriggers: true } : {}),
    ...(flags.federatedUsers
      ? { federatedUsers: flags.federatedUsers as RestoreOptions['federatedUsers'] }
      : {}),
  };
}

/** The `restore` command's action: a selection goes to the selective engine, else a full restore. */
async function restoreAction(flags: RestoreFlags): Promise<void> {
  // A selection (--user, --group, …) restores into the live pool: its own engine.
  if (selectionGiven(flags)) return runSelectiveRestore(flags);
  // Loaded when the command runs (docs/architecture.md, "Start-up").
  const [
    { SnapshotReader },
    { DOMAIN_PREFIX, restoreSnapshot },
    { legacyAttributeName },
    { cloudWatchLogReader },
  ] = await Promise.all([
    import('../snapshot/reader.js'),
    import('../restore/engine.js'),
    import('../restore/pool/target.js'),
    import('../restore/users/import/jobs.js'),
  ]);
  await runCommand(
    flags,
    async ({ signal, progress }) => {
      const usersPath = checkRestoreFlags(flags, DOMAIN_PREFIX, legacyAttributeName);
      const { idpSecrets, mapArns } = await loadOptionFiles(flags);
      const target: RestoreTarget = flags.toUserPoolId
        ? { userPoolId: flags.toUserPoolId }
        : { createPool: flags.createPool ?? '' };
      const storageRegion = flags.region ?? process.env.AWS_REGION;
      const keyring = await loadKeyring(flags.identity, progress);
      const { choose, openErasures } = await import('./snapshot-choice.js');
      const from = await choose(flags, flags.toUserPoolId, progress);
      // Users erased with `forget` are left out of every read of the snapshot (and counted).
      const erasures = await openErasures(from, flags, storageRegion);
      const reader = await SnapshotReader.open(
        await makeStorage(from, flags, storageRegion, '--from'),
        { ...(keyring ? { keyring } : {}), ...(erasures ? { erasures } : {}) },
      );
      // An encrypted snapshot without (or with a wrong) --identity: one line, exit 3, before
      // any call to Cognito.
      reader.assertCanDecrypt();
      let region: string;
      if (flags.toUserPoolId) {
        region = regionOfPoolId(flags.toUserPoolId);
        if (flags.region && flags.region !== region) {
          throw new UsageError(
            'REGION_MISMATCH',
            `user pool ${flags.toUserPoolId} is in ${region}, not in --region ${flags.region}`,
          );
        }
      } else {
        region = flags.region ?? process.env.AWS_REGION ?? reader.manifest.userPool.region;
      }
      const gw = await makeGateway(flags, region, signal);
      try {
        // restoreSnapshot holds a read lease on the snapshot for the whole run.
        const outcome = await restoreSnapshot(gw, reader, {
          ...restoreOptionsOf(flags, {
            target,
            usersPath,
            idpSecrets,
            mapArns,
            importLogs: flags.importLogsRoleArn
              ? cloudWatchLogReader({
                  region,
                  ...(flags.profile ? { profile: flags.profile } : {}),
                  ...(process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS || flags.endpointUrl
                    ? {
                        endpointUrl:
                          process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS || flags.endpointUrl,
                      }
                    : {}),
                })
              : undefined,
          }),
          signal,
          onProgress: progress,
        });
        return printedRestore(outcome);
      } finally {
        gw.destroy();
      }
    },
    render,
    {
      exitCode: exitCodeOf,
      interrupted: 'interrupted; run the same command again to continue where it stopped',
    },
  );
}
