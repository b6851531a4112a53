import { type Command, Option } from 'commander';
import { ExitCode, UsageError } from '../core/errors.js';
import type { ForgetResult } from '../snapshot/forget.js';
import {
  addIdentityOption,
  addOutputOptions,
  addS3Options,
  addStorageOptions,
  type CommonFlags,
  loadKeyring,
  makeStorage,
  runCommand,
} from './common.js';
import { parseLocationArg, parsePoolId } from './validate.js';

interface ForgetFlags extends CommonFlags {
  user?: string;
  sub?: string;
  root?: string;
  userPoolId?: string;
}

const FORGET_HELP = `
Records the erasure in the pool's erasure ledger (<root>/<pool>/erasure-ledger.jsonl: hashes,
no clear identifier) — every restore (selective or whole) and export-csv honours it from then
on — and rewrites every complete snapshot of the pool that holds the user without them (new
parts and manifest, old parts deleted; encrypted snapshots re-encrypted to their own recipients,
which needs --identity to read them). Snapshots leased by another process, encrypted ones
without a key, and incomplete ones are reported as pending: run forget again later.
The user is not deleted from the live pool (use AdminDeleteUser for that).
A versioned S3 bucket keeps the old objects as noncurrent versions until a lifecycle rule
expires them: see docs/restore.md, "Erasure".
Exit code 0: every complete snapshot is clean; 8: some are pending.`;

function render(r: ForgetResult, say: (line: string) => void): void {
  say(
    `erased from the backups of ${r.userPoolId} under ${r.root}: ${r.snapshots.rewritten} snapshot(s) rewritten, ${r.snapshots.clean} already without the user, of ${r.snapshots.complete} complete`,
  );
  say(
    `erasure ledger: ${r.ledgerEntries ? `${r.ledgerEntries} entr${r.ledgerEntries === 1 ? 'y' : 'ies'} added` : 'already recorded'}`,
  );
  if (r.leftoversDeleted) say(`leftovers of an interrupted rewrite deleted: ${r.leftoversDeleted}`);
  for (const p of r.pending) say(`pending: ${p.path}: ${p.reason}`);
}

export function registerForget(program: Command): void {
  const cmd = program
    .command('forget')
    .description(
      "erase one user from every snapshot of a pool and record it in the pool's erasure ledger, so no restore or export brings them back",
    )
    .option('--user <name>', 'the user, by username')
    .option('--sub <sub>', 'the user, by sub')
    .addOption(
      new Option('--root <dir|s3://bucket/prefix>', 'the backup root')
        .default('./cognito-backups')
        .argParser(parseLocationArg('--root')),
    )
    .addOption(
      new Option('--user-pool-id <id>', 'the pool whose snapshots hold the user').argParser(
        parsePoolId,
      ),
    );
  addS3Options(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  addIdentityOption(cmd);
  cmd.addHelpText('after', FORGET_HELP);
  cmd.action(async (flags: ForgetFlags) => {
    await runCommand(
      flags,
      async ({ signal, progress }) => {
        if (!flags.user === !flags.sub)
          throw new UsageError('BAD_FLAG', 'give exactly one of --user NAME or --sub SUB');
        if (!flags.userPoolId)
          throw new UsageError(
            'BAD_FLAG',
            'give the pool whose backups hold the user: --user-pool-id ID',
          );
        const keyring = await loadKeyring(flags.identity, progress);
        const root = await makeStorage(
          flags.root ?? './cognito-backups',
          flags,
          flags.region,
          '--root',
        );
        const { forgetUser } = await import('../snapshot/forget.js');
        return forgetUser(root, flags.userPoolId, {
          ...(flags.user ? { username: flags.user } : {}),
          ...(flags.sub ? { sub: flags.sub } : {}),
          ...(keyring ? { keyring } : {}),
          signal,
          onProgress: progress,
        });
      },
      render,
      {
        exitCode: (r) =>
          r.pending.some((p) => !p.reason.startsWith('incomplete'))
            ? ExitCode.Storage
            : ExitCode.Ok,
        interrupted:
          'interrupted; run the same command again (the erasure is recorded; snapshots are rewritten whole or not at all)',
      },
    );
  });
}
