import { type Command, Option } from 'commander';
import { CognitoError, UsageError } from '../core/errors.js';
import { regionOfPoolId } from '../cognito/pool-id.js';
import type { PoolDocument } from '../snapshot/format.js';
import {
  addAwsOptions,
  addOutputOptions,
  addStorageOptions,
  addRateOptions,
  type CommonFlags,
  addIdentityOption,
  loadKeyring,
  makeGateway,
  makeOutputStorage,
  makeStorage,
  runCommand,
} from './common.js';
import { parseLocationArg, parsePoolId } from './validate.js';
import { addChoiceOptions, type ChoiceFlags, LATEST } from './snapshot-choice.js';

interface ExportCsvFlags extends CommonFlags, ChoiceFlags {
  to?: string;
  headerFrom?: string;
}

export type { ExportCsvResult } from '../snapshot/export-csv.js';

const EXPORT_CSV_HELP = `
Writes the snapshot's users as Cognito user-import CSV files (CreateUserImportJob), split at
500,000 rows / 100 MB, with a line index beside each file and a 0600 report of the users that
cannot be imported (counts by reason are printed; usernames never are). See docs/format.md.`;

export function registerExportCsv(program: Command): void {
  const cmd = program
    .command('export-csv')
    .argument(
      '<snapshot>',
      'path or s3:// URL of one snapshot, as backup prints it, or `latest` (with --root and --source-pool-id)',
      (v: string) => (v === LATEST ? v : parseLocationArg('snapshot')(v)),
    )
    .description("write a snapshot's users as Cognito user-import CSV files")
    .addOption(
      new Option('--to <dir>', 'directory for the CSV files (created 0700; must be empty)')
        .makeOptionMandatory()
        .argParser(parseLocationArg('--to')),
    )
    .addOption(
      new Option(
        '--header-from <poolId>',
        "take the header (GetCSVHeader) and the import rules from this live pool instead of the snapshot's",
      ).argParser(parsePoolId),
    );
  addAwsOptions(cmd);
  addRateOptions(cmd);
  addChoiceOptions(cmd, '<snapshot>');
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  addIdentityOption(cmd);
  cmd.addHelpText('after', EXPORT_CSV_HELP);
  cmd.action(async (given: string, flags: ExportCsvFlags) => {
    // Loaded when the command runs (docs/architecture.md, "Start-up").
    const [{ exportCsv }, { SnapshotReader }] = await Promise.all([
      import('../snapshot/export-csv.js'),
      import('../snapshot/reader.js'),
    ]);
    await runCommand(
      flags,
      async ({ signal, progress }) => {
        const to = flags.to ?? '';
        const region = flags.headerFrom ? regionOfPoolId(flags.headerFrom) : flags.region;
        // Both locations checked before anything is read: --to must be writable.
        await makeOutputStorage(to, flags, flags.region, '--to');
        const keyring = await loadKeyring(flags.identity, progress);
        const { choose, openErasures } = await import('./snapshot-choice.js');
        const snapshot = await choose(flags, undefined, progress, given);
        const source = await makeStorage(snapshot, flags, flags.region);
        // Users erased with `forget` are never exported (counted in the result).
        const erasures = await openErasures(snapshot, flags, flags.region);
        const reader = await SnapshotReader.open(source, {
          ...(keyring ? { keyring } : {}),
          ...(erasures ? { erasures } : {}),
        });
        // An encrypted snapshot without (or with a wrong) --identity: one line, exit 3, at once.
        reader.assertCanDecrypt();
        const sink = await makeStorage(to, flags, flags.region);
        // exportCsv holds a read lease on the snapshot while it reads it.
        return exportCsv(reader, sink, {
          signal,
          onProgress: progress,
          ...(flags.headerFrom
            ? { live: () => liveHeader(flags, flags.headerFrom ?? '', region, signal) }
            : {}),
        });
      },
      (r, say) => {
        say(
          `wrote ${r.eligible} users into ${r.files.length} import file(s) under ${r.to} (header ${r.headerSource})`,
        );
        for (const f of r.files) say(`  ${f.name}: ${f.rows} rows, ${f.bytes} bytes`);
        for (const b of r.poolBlockers)
          say(`warning: ${b}: an import job into this pool would not start`);
        if (r.ineligible.total > 0) {
          say(
            `${r.ineligible.total} users cannot be imported (restore them with AdminCreateUser):`,
          );
          for (const [reason, n] of Object.entries(r.ineligible.byReason)) say(`  ${reason}: ${n}`);
          say(`per-user detail: ${r.report}`);
        }
      },
      { interrupted: 'interrupted; the files under --to are incomplete: delete them' },
    );
  });
}

/** --header-from: GetCSVHeader and the import rules (schema, MFA) of a live pool. */
async function liveHeader(
  flags: ExportCsvFlags,
  userPoolId: string,
  region: string | undefined,
  signal: AbortSignal,
): Promise<{ header: string[]; pool: Pick<PoolDocument, 'userPool' | 'mfaConfig'> }> {
  const gw = await makeGateway(flags, region, signal);
  const { DescribeUserPoolCommand, GetCSVHeaderCommand, GetUserPoolMfaConfigCommand } =
    await import('@aws-sdk/client-cognito-identity-provider');
  try {
    const input = { UserPoolId: userPoolId };
    const header = await gw.send(new GetCSVHeaderCommand(input)).then(
      (r) => r.CSVHeader ?? [],
      (e: unknown) => {
        if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') {
          throw new UsageError(
            'POOL_NOT_FOUND',
            `user pool ${userPoolId} does not exist in ${region}`,
            { userPoolId },
            { cause: e },
          );
        }
        throw e;
      },
    );
    const { UserPool: live } = await gw.send(new DescribeUserPoolCommand(input));
    const mfa = await gw.send(new GetUserPoolMfaConfigCommand(input));
    return {
      header,
      pool: {
        userPool: { ...live, Id: userPoolId },
        mfaConfig: { MfaConfiguration: mfa.MfaConfiguration },
      },
    };
  } finally {
    gw.destroy();
  }
}
