import path from 'node:path';
import { type Command, Option } from 'commander';
import { ExitCode, UsageError } from '../core/errors.js';
import { regionOfPoolId } from '../cognito/pool-id.js';
import type {
  ActionCounts,
  SelectiveOutcome,
  SelectiveResult,
  Selection,
} from '../restore/selective/types.js';
import { type CommonFlags, loadKeyring, makeGateway, makeStorage, runCommand } from './common.js';
import type { ChoiceFlags } from './snapshot-choice.js';
import { parseLocalFile } from './validate.js';

/** The selectors of `restore --to-user-pool-id ID` (any of them makes the restore selective). */
export interface SelectionFlags {
  user?: string[];
  usersFrom?: string[];
  group?: string[];
  client?: string[];
  identityProvider?: string[];
  resourceServer?: string[];
  differences?: boolean;
  existing?: string;
  planHash?: string;
  planFile?: string;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function addSelectionOptions(cmd: Command): void {
  cmd
    .option('--user <name>', 'selective: restore this user (repeatable)', collect)
    .addOption(
      new Option(
        '--users-from <file>',
        'selective: the users named in this file, one username a line, or a `diff --details` file (repeatable)',
      ).argParser((v: string, prev: string[] | undefined) =>
        collect(parseLocalFile('--users-from')(v), prev),
      ),
    )
    .option(
      '--group <name>',
      "selective: this group's settings and its members as of the snapshot (repeatable)",
      collect,
    )
    .option('--client <name>', 'selective: this app client, by name (repeatable)', collect)
    .option('--identity-provider <name>', 'selective: this identity provider (repeatable)', collect)
    .option(
      '--resource-server <identifier>',
      'selective: this resource server (repeatable)',
      collect,
    )
    .option(
      '--differences',
      'selective: everything `diff` finds between the snapshot and the pool (narrowed by the other selectors when given)',
    )
    .addOption(
      new Option(
        '--existing <mode>',
        'selective: what happens to selected users and resources that exist: skip (default: counted, untouched) or revert (put back the snapshot values)',
      ).choices(['skip', 'revert']),
    )
    .option(
      '--plan-hash <hash>',
      'selective: refuse (exit 9, nothing written) unless the plan computed now is the one a --dry-run printed as planHash',
    )
    .addOption(
      new Option(
        '--plan-file <file>',
        'selective --dry-run: where the per-user plan goes (0600; default ./cognito-vault-plan-<pool>-<time>.jsonl)',
      ).argParser(parseLocalFile('--plan-file')),
    );
}

/** Whether any selector is given (the restore is selective). */
export function selectionGiven(f: SelectionFlags): boolean {
  return Boolean(
    f.user?.length ||
    f.usersFrom?.length ||
    f.group?.length ||
    f.client?.length ||
    f.identityProvider?.length ||
    f.resourceServer?.length ||
    f.differences,
  );
}

/** Flags that only mean something with a selection. */
export function assertSelectionOnlyFlags(f: SelectionFlags): void {
  for (const [flag, v] of [
    ['--existing', f.existing],
    ['--plan-hash', f.planHash],
    ['--plan-file', f.planFile],
  ] as const) {
    if (v !== undefined)
      throw new UsageError(
        'BAD_FLAG',
        `${flag} works with a selection (--user, --users-from, --group, --client, --identity-provider, --resource-server, --differences)`,
      );
  }
}

/** The flags of `restore` a selective restore reads (the others it refuses). */
export interface SelectiveRestoreFlags extends CommonFlags, SelectionFlags, ChoiceFlags {
  from?: string;
  createPool?: string;
  toUserPoolId?: string;
  dryRun?: boolean;
  merge?: boolean;
  subMap?: string;
  stateDir?: string;
  legacySubAttribute?: string;
  idpSecrets?: string;
  passwordState?: string;
  users?: string;
  mapArns?: string;
  domain?: string;
  withoutTriggers?: boolean;
  webauthnRpId?: string;
  federatedUsers?: string;
  importLogsRoleArn?: string;
}

/** The JSON files `--idp-secrets` and `--map-arns` name, read when given (exit 2 when bad). */
export async function loadOptionFiles(flags: { idpSecrets?: string; mapArns?: string }): Promise<{
  idpSecrets: Record<string, Record<string, string>> | undefined;
  mapArns: Record<string, string> | undefined;
}> {
  return {
    idpSecrets: flags.idpSecrets
      ? await (await import('../restore/preflight/idp-secrets.js')).loadIdpSecrets(flags.idpSecrets)
      : undefined,
    mapArns: flags.mapArns
      ? await (await import('../restore/preflight/arns.js')).loadArnMap(flags.mapArns)
      : undefined,
  };
}

function counts(c: ActionCounts): string {
  const parts: string[] = [];
  if (c.create) parts.push(`${c.create} to create`);
  if (c.revert) parts.push(`${c.revert} to revert`);
  if (c.skip) parts.push(`${c.skip} differ (skipped)`);
  if (c.unchanged) parts.push(`${c.unchanged} unchanged`);
  return parts.length ? parts.join(', ') : 'none selected';
}

export type PrintedSelective =
  | Exclude<SelectiveOutcome, SelectiveResult>
  | (Omit<SelectiveResult, 'failedUsers'> & { failedOperations: number });

function printed(r: SelectiveOutcome): PrintedSelective {
  if (r.dryRun) return r;
  const { failedUsers, ...rest } = r;
  return { ...rest, failedOperations: failedUsers.length };
}

function render(r: PrintedSelective, say: (line: string) => void): void {
  const c = r.counts;
  say(
    `${r.dryRun ? 'plan' : 'restored'}: selection from ${r.snapshot} into ${r.userPoolId} (--existing ${r.existing})`,
  );
  say(
    `  users               ${counts(c.users)}${c.users.erased ? `, ${c.users.erased} erased (never re-created)` : ''}${c.users.notInSnapshot ? `, ${c.users.notInSnapshot} not in the snapshot` : ''}${c.users.externalProvider ? `, ${c.users.externalProvider} federated (not restorable)` : ''}`,
  );
  say(`  groups              ${counts(c.group)}`);
  say(`  resource servers    ${counts(c.resourceServer)}`);
  say(`  identity providers  ${counts(c.identityProvider)}`);
  say(`  app clients         ${counts(c.client)}`);
  say(`  memberships         ${c.memberships.add} to add, ${c.memberships.remove} to remove`);
  say(
    `  attributes          ${c.attributes.revert} to put back, ${c.attributes.unwritable} not writable (reported), ${c.attributes.refused} refused (Cognito would send a verification message)`,
  );
  say(`  enabled state       ${c.enabled.enable} to enable, ${c.enabled.disable} to disable`);
  for (const w of r.warnings) say(`warning: ${w.message}`);
  if (r.dryRun) {
    say(`users written (billed as monthly active users): ${r.usersToWrite}`);
    if (r.planFile) say(`per-user plan: ${r.planFile}`);
    say(`planHash: ${r.planHash}`);
    say(`Cognito requests: ${r.requests}`);
    say('nothing was written');
    return;
  }
  say(
    `users written (billed as monthly active users): ${r.usersWritten} (${r.created} created, ${r.reverted} reverted) in ${(r.durationMs / 1000).toFixed(1)} s, ${r.requests} Cognito requests`,
  );
  say(`sub map:       ${r.subMap}`);
  say(`client id map: ${r.clientMap}`);
  say(`report:        ${r.report}`);
  if (r.resourceFailures.length)
    say(
      `${r.resourceFailures.length} resource(s) not restored (see the report): ${r.resourceFailures.map((f) => `${f.kind} ${f.name}`).join(', ')}`,
    );
  if (r.failedOperations)
    say(
      `${r.failedOperations} user operation(s) failed (listed in the report); fix the cause and run the same command again`,
    );
}

function exitCodeOf(r: PrintedSelective): number {
  if (r.dryRun) return ExitCode.Ok;
  return r.failedOperations > 0 || r.resourceFailures.length > 0
    ? ExitCode.PartialRestore
    : ExitCode.Ok;
}

/** `restore --to-user-pool-id ID` with selectors: plan (and --dry-run), or apply. */
export async function runSelectiveRestore(flags: SelectiveRestoreFlags): Promise<void> {
  const [{ SnapshotReader }, { restoreSelection }, { differenceSelection }] = await Promise.all([
    import('../snapshot/reader.js'),
    import('../restore/selective/engine.js'),
    import('../compare/index.js'),
  ]);
  await runCommand(
    flags,
    async ({ signal, progress }) => {
      if (!flags.from) throw new UsageError('BAD_FLAG', 'give the snapshot with --from SNAPSHOT');
      if (!flags.toUserPoolId || flags.createPool) {
        throw new UsageError(
          'BAD_FLAG',
          'a selection (--user, --group, --client, …) restores into the live pool: give --to-user-pool-id ID, not --create-pool',
        );
      }
      for (const [flag, v] of [
        ['--domain', flags.domain],
        ['--without-triggers', flags.withoutTriggers],
        ['--webauthn-rp-id', flags.webauthnRpId],
        ['--import-logs-role-arn', flags.importLogsRoleArn],
      ] as const) {
        if (v !== undefined && v !== false)
          throw new UsageError('BAD_FLAG', `${flag} does not apply to a selective restore`);
      }
      if (flags.users !== undefined && flags.users !== 'admin-create' && flags.users !== 'auto') {
        throw new UsageError(
          'BAD_FLAG',
          '--users import-job does not apply to a selective restore: its users are created with AdminCreateUser, as --users auto does without an import role',
        );
      }
      if (flags.federatedUsers === 'precreate') {
        throw new UsageError(
          'BAD_FLAG',
          '--federated-users precreate does not apply to a selective restore (federated users are counted, not created)',
        );
      }
      const poolId = flags.toUserPoolId;
      const region = regionOfPoolId(poolId);
      if (flags.region && flags.region !== region) {
        throw new UsageError(
          'REGION_MISMATCH',
          `user pool ${poolId} is in ${region}, not in --region ${flags.region}`,
        );
      }
      const { idpSecrets, mapArns } = await loadOptionFiles(flags);
      const keyring = await loadKeyring(flags.identity, progress);
      const { choose, openErasures } = await import('./snapshot-choice.js');
      const from = await choose(flags, poolId, progress);
      const storage = await makeStorage(from, flags, region, '--from');
      // Erased users are counted and never re-created by the engine (not hidden by the reader).
      const erasures = await openErasures(from, flags, region);
      const reader = await SnapshotReader.open(storage, keyring ? { keyring } : {});
      reader.assertCanDecrypt();
      const gw = await makeGateway(flags, region, signal);
      try {
        const selection: Selection = {
          ...(flags.user ? { users: flags.user } : {}),
          ...(flags.usersFrom ? { usersFrom: flags.usersFrom.map((f) => path.resolve(f)) } : {}),
          ...(flags.group ? { groups: flags.group } : {}),
          ...(flags.client ? { clients: flags.client } : {}),
          ...(flags.identityProvider ? { identityProviders: flags.identityProvider } : {}),
          ...(flags.resourceServer ? { resourceServers: flags.resourceServer } : {}),
        };
        const planFile = flags.dryRun
          ? path.resolve(
              flags.planFile ??
                `cognito-vault-plan-${poolId}-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`,
            )
          : undefined;
        // restoreSelection holds a read lease on the snapshot for the whole run (the comparison
        // of --differences included).
        const outcome = await restoreSelection(
          gw,
          reader,
          { userPoolId: poolId },
          {
            selection,
            ...(flags.differences
              ? {
                  findDifferences: (s: AbortSignal) =>
                    differenceSelection(reader, gw, poolId, { signal: s }),
                }
              : {}),
            dryRun: Boolean(flags.dryRun),
            ...(flags.existing ? { existing: flags.existing as 'skip' | 'revert' } : {}),
            ...(flags.planHash ? { planHash: flags.planHash } : {}),
            ...(planFile ? { planFile } : {}),
            ...(idpSecrets ? { idpSecrets } : {}),
            ...(flags.passwordState
              ? { passwordState: flags.passwordState as 'sign-in-ready' | 'force-change' }
              : {}),
            ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
            ...(flags.subMap ? { subMapFile: flags.subMap } : {}),
            ...(flags.legacySubAttribute ? { legacySubAttribute: flags.legacySubAttribute } : {}),
            ...(mapArns ? { mapArns, mapArnsSource: flags.mapArns } : {}),
            ...(erasures ? { erasures } : {}),
            signal,
            onProgress: progress,
          },
        );
        return printed(outcome);
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
