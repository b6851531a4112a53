import { type Command, Option } from 'commander';
import { CognitoError, UsageError } from '../core/errors.js';
import { regionOfPoolId } from '../cognito/pool-id.js';
import type { PoolDocument } from '../snapshot/format.js';
import type { ImportFileSet } from '../snapshot/import-csv.js';
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

export interface ExportCsvResult extends Omit<ImportFileSet, 'files' | 'report'> {
  snapshot: string;
  /** Users erased with `cognito-vault forget` (the erasure ledger): left out. */
  erased?: number;
  to: string;
  headerSource: 'derived' | 'GetCSVHeader';
  files: (ImportFileSet['files'][number] & { path: string; indexPath: string })[];
  report: string;
  poolBlockers: string[];
}

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
    const [
      { PoolDocument, UserRecord },
      { deriveCsvHeader, ImportRowEncoder, writeImportFiles },
      { noLeaseWarning, withReadLease },
      { SnapshotReader },
    ] = await Promise.all([
      import('../snapshot/format.js'),
      import('../snapshot/import-csv.js'),
      import('../snapshot/lease.js'),
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
        // An encrypted snapshot without (or with a wrong) --identity: one line, exit 3, at once.
        (await SnapshotReader.open(source, keyring ? { keyring } : {})).assertCanDecrypt();
        // A lease on the snapshot while it is read, so a concurrent prune leaves it alone.
        return withReadLease(
          source,
          'export',
          (e) => progress(noLeaseWarning(e)),
          async () => {
            const reader = await SnapshotReader.open(source, {
              ...(keyring ? { keyring } : {}),
              ...(erasures ? { erasures } : {}),
            });
            await reader.assertValid();
            const sink = await makeStorage(to, flags, flags.region);
            for await (const _ of sink.list()) {
              throw new UsageError('TARGET_NOT_EMPTY', `--to ${sink.location} is not empty`, {
                to: sink.location,
              });
            }
            let pool: Pick<PoolDocument, 'userPool' | 'mfaConfig'> = await reader.readJson(
              'pool',
              PoolDocument,
            );
            let header: string[];
            if (flags.headerFrom) {
              const gw = await makeGateway(flags, region, signal);
              const { DescribeUserPoolCommand, GetCSVHeaderCommand, GetUserPoolMfaConfigCommand } =
                await import('@aws-sdk/client-cognito-identity-provider');
              try {
                const input = { UserPoolId: flags.headerFrom };
                header = await gw.send(new GetCSVHeaderCommand(input)).then(
                  (r) => r.CSVHeader ?? [],
                  (e: unknown) => {
                    if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') {
                      throw new UsageError(
                        'POOL_NOT_FOUND',
                        `user pool ${flags.headerFrom} does not exist in ${region}`,
                        { userPoolId: flags.headerFrom },
                        { cause: e },
                      );
                    }
                    throw e;
                  },
                );
                const { UserPool: live } = await gw.send(new DescribeUserPoolCommand(input));
                const mfa = await gw.send(new GetUserPoolMfaConfigCommand(input));
                pool = {
                  userPool: { ...live, Id: flags.headerFrom },
                  mfaConfig: { MfaConfiguration: mfa.MfaConfiguration },
                };
              } finally {
                gw.destroy();
              }
            } else {
              header = deriveCsvHeader(pool);
            }
            const encoder = new ImportRowEncoder(header, pool);
            const set = await writeImportFiles(reader.records('users', UserRecord), encoder, sink, {
              signal,
            });
            const at = (key: string): string => `${sink.location}/${key}`;
            const result: ExportCsvResult = {
              snapshot: reader.location,
              to: sink.location,
              headerSource: flags.headerFrom ? 'GetCSVHeader' : 'derived',
              header: set.header,
              files: set.files.map((f) => ({ ...f, path: at(f.name), indexPath: at(f.index) })),
              eligible: set.eligible,
              ineligible: set.ineligible,
              report: at(set.report),
              poolBlockers: encoder.poolBlockers(),
              ...(erasures ? { erased: erasures.erasedSeen } : {}),
            };
            return result;
          },
        );
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
