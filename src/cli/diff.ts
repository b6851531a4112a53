import { once } from 'node:events';
import path from 'node:path';
import { type Command, Option } from 'commander';
import type { DiffResult, PoolDifference, ResourceKind } from '../compare/index.js';
import { ExitCode, StorageError, UsageError } from '../core/errors.js';
import {
  addAwsOptions,
  addOutputOptions,
  addRateOptions,
  type CommonFlags,
  addIdentityOption,
  addStorageOptions,
  loadKeyring,
  makeGateway,
  makeStorage,
  runCommand,
} from './common.js';
import { addChoiceOptions, type ChoiceFlags, LATEST } from './snapshot-choice.js';
import { parseLocationArg } from './validate.js';

interface DiffFlags extends CommonFlags, ChoiceFlags {
  userPoolId?: string;
  details?: string | boolean;
  subMap?: string;
  status: 'equal' | 'ignore' | 'restored';
  userMfa?: boolean;
}

const DIFF_HELP = `
Counts only on the console (no usernames or attribute values); --details writes every
difference, per user, to a file only you can read (0600) and prints its path.
Exit code 0: no differences; 9: differences found (see "Exit codes").`;

const LABELS: Record<ResourceKind, string> = {
  pool: 'pool settings',
  group: 'groups',
  client: 'app clients',
  identityProvider: 'identity providers',
  resourceServer: 'resource servers',
};

type DiffOutput = DiffResult & { details?: string };

function render(r: DiffOutput, say: (line: string) => void): void {
  say(`${r.equal ? 'IDENTICAL' : 'DIFFERENT'}: ${r.snapshot} vs pool ${r.userPoolId}`);
  say(
    `users: ${r.users.snapshot} in the snapshot, ${r.users.pool} in the pool, ${r.users.matched} matched by ${r.matchedBy === 'sub-map' ? 'sub (through the sub map)' : 'username'}` +
      (r.users.externalProviderInSnapshot
        ? ` (${r.users.externalProviderInSnapshot} federated users not compared)`
        : ''),
  );
  say(`  only in the snapshot: ${r.onlyInSnapshot}`);
  say(`  only in the pool:     ${r.onlyInPool}`);
  const c = r.changed;
  say(
    `  changed:              ${c.total} (attributes ${c.attributes}, status ${c.status}, enabled ${c.enabled}, groups ${c.groups})`,
  );
  say(`memberships: ${r.memberships.snapshot} in the snapshot, ${r.memberships.pool} in the pool`);
  for (const [kind, label] of Object.entries(LABELS) as [ResourceKind, string][]) {
    const d = r.resources[kind];
    const parts: string[] = [];
    if (d.onlyInSnapshot.length) parts.push(`only in the snapshot: ${d.onlyInSnapshot.join(', ')}`);
    if (d.onlyInPool.length) parts.push(`only in the pool: ${d.onlyInPool.join(', ')}`);
    if (d.changed.length) parts.push(`changed: ${d.changed.join(', ')}`);
    say(`${label}: ${parts.length ? parts.join('; ') : 'same'}`);
  }
  if (r.settingsNotCompared?.length)
    say(`not compared (not in the snapshot, or unreadable): ${r.settingsNotCompared.join(', ')}`);
  if (r.details) say(`details: ${r.details}`);
}

/** The details file: one JSON line per difference, created 0600 and never overwritten. */
async function openDetails(
  file: string,
): Promise<{ write: (d: PoolDifference) => void; close: () => Promise<void> }> {
  const { createNewPrivateFile } = await import('../storage/local.js');
  const out = await createNewPrivateFile(file, '--details');
  let failed: Error | undefined;
  let closing: Promise<void> | undefined;
  out.on('error', (e) => (failed = e));
  return {
    write: (d) => void out.write(`${JSON.stringify(d)}\n`),
    close: () =>
      (closing ??= (async () => {
        const closed = once(out, 'close');
        out.end();
        await closed;
        if (failed)
          throw new StorageError('IO_ERROR', `writing --details ${file} failed`, { path: file });
      })()),
  };
}

export function registerDiff(program: Command): void {
  const cmd = program
    .command('diff')
    .argument(
      '<snapshot>',
      'path or s3:// URL of one snapshot, as backup prints it, or `latest` (with --root)',
      (v: string) => (v === LATEST ? v : parseLocationArg('snapshot')(v)),
    )
    .description(
      'compare a snapshot with a live pool: users only in either, changed users (attributes, status, enabled, groups), group/client/IdP/resource-server/settings differences',
    )
    .option('--user-pool-id <id>', 'the live pool to compare with')
    .option(
      '--details [file]',
      'write every difference (per user) to this file, mode 0600 (default ./cognito-vault-diff-<pool>-<time>.jsonl)',
    )
    .option(
      '--sub-map <file>',
      "match users by sub through a restore's old→new sub map (JSON Lines), not by username",
    )
    .addOption(
      new Option(
        '--status <mode>',
        'user status check: equal, ignore, or restored (what a restore leaves)',
      )
        .choices(['equal', 'ignore', 'restored'])
        .default('equal'),
    )
    .option(
      '--user-mfa',
      "also compare each user's MFA settings (snapshots taken with backup --user-mfa). Costs money: AdminGetUser per user of the pool, each read billed as a monthly active user",
    );
  addChoiceOptions(cmd, '<snapshot>');
  addAwsOptions(cmd);
  addRateOptions(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  addIdentityOption(cmd);
  cmd.addHelpText('after', DIFF_HELP);
  cmd.action(async (given: string, flags: DiffFlags) => {
    const [{ diffSnapshot, readSubMapFile }, { regionOfPoolId }, { SnapshotReader }] =
      await Promise.all([
        import('../compare/index.js'),
        import('../cognito/gateway.js'),
        import('../snapshot/reader.js'),
      ]);
    await runCommand<DiffOutput>(
      flags,
      async ({ signal, progress }) => {
        if (!flags.userPoolId)
          throw new UsageError('BAD_FLAG', 'give the pool to compare with: --user-pool-id ID');
        const region = regionOfPoolId(flags.userPoolId);
        if (flags.region && flags.region !== region) {
          throw new UsageError(
            'REGION_MISMATCH',
            `user pool ${flags.userPoolId} is in ${region}, not in --region ${flags.region}`,
          );
        }
        const subMap = flags.subMap ? await readSubMapFile(flags.subMap) : undefined;
        const snapshot = await (
          await import('./snapshot-choice.js')
        ).choose(flags, flags.userPoolId, progress, given);
        const keyring = await loadKeyring(flags.identity, progress);
        const reader = await SnapshotReader.open(
          await makeStorage(snapshot, flags, flags.region ?? process.env.AWS_REGION),
          keyring ? { keyring } : {},
        );
        // An encrypted snapshot without (or with a wrong) --identity: one line, exit 3, at once.
        reader.assertCanDecrypt();
        const detailsFile =
          flags.details === undefined || flags.details === false
            ? undefined
            : path.resolve(
                typeof flags.details === 'string'
                  ? flags.details
                  : `cognito-vault-diff-${flags.userPoolId}-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`,
              );
        const details = detailsFile ? await openDetails(detailsFile) : undefined;
        const gw = await makeGateway(flags, region, signal);
        try {
          const r = await diffSnapshot(reader, gw, flags.userPoolId, {
            ...(subMap ? { subMap } : {}),
            userStatus: flags.status,
            ...(flags.userMfa ? { userMfa: true } : {}),
            ...(details ? { onDifference: details.write } : {}),
            signal,
            onProgress: progress,
          });
          await details?.close();
          return { ...r, ...(detailsFile ? { details: detailsFile } : {}) };
        } finally {
          gw.destroy();
          await details?.close().catch(() => undefined);
        }
      },
      render,
      { exitCode: (r) => (r.equal ? ExitCode.Ok : ExitCode.Differs) },
    );
  });
}
