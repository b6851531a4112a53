import type { Command } from 'commander';
import { ExitCode, SnapshotInvalidError } from '../core/errors.js';
import {
  addIdentityOption,
  addOutputOptions,
  addStorageOptions,
  addS3Options,
  type CommonFlags,
  loadKeyring,
  makeStorage,
  runCommand,
} from './common.js';
import { parseLocationArg } from './validate.js';
import { addChoiceOptions, type ChoiceFlags, LATEST } from './snapshot-choice.js';

export function registerVerify(program: Command): void {
  const cmd = program
    .command('verify')
    .argument(
      '<snapshot>',
      'path or s3:// URL of one snapshot, as backup prints it, or `latest` (with --root and --source-pool-id)',
      (v: string) => (v === LATEST ? v : parseLocationArg('snapshot')(v)),
    )
    .description(
      'check a snapshot: format version, manifest, sha256, size and record count of every file',
    );
  addChoiceOptions(cmd, '<snapshot>');
  addS3Options(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  addIdentityOption(cmd);
  cmd.action(async (given: string, flags: CommonFlags & ChoiceFlags) => {
    await runCommand(
      flags,
      async ({ progress }) => {
        const [{ noLeaseWarning, withReadLease }, { SnapshotReader }] = await Promise.all([
          import('../snapshot/lease.js'),
          import('../snapshot/reader.js'),
        ]);
        // An identity file that cannot be used is a usage error (exit 2), before any read.
        const keyring = await loadKeyring(flags.identity, progress);
        const snapshot = await (
          await import('./snapshot-choice.js')
        ).choose(flags, undefined, progress, given);
        try {
          const opened = await SnapshotReader.open(
            await makeStorage(snapshot, flags, flags.region),
            keyring ? { keyring } : {},
          );
          // A wrong key: one line, exit 3, before any file is read.
          if (keyring) opened.assertCanDecrypt();
          // Under a lease, so a concurrent prune does not pull the files away mid-read.
          const [reader, v] = await withReadLease(
            opened.storage,
            'verify',
            (e) => progress(noLeaseWarning(e)),
            async () => {
              const r = await SnapshotReader.open(opened.storage, keyring ? { keyring } : {});
              return [r, await r.verify()] as const;
            },
          );
          return {
            ok: v.ok,
            problems: v.problems,
            snapshot: reader.location,
            files: v.files,
            records: v.records,
            bytes: v.bytes,
            counts: reader.manifest.counts,
            ...(v.encrypted ? { encrypted: v.encrypted } : {}),
          };
        } catch (e) {
          // Key errors (KEY_MISMATCH) are one stderr line, exit 3, like every reader's.
          if (e instanceof SnapshotInvalidError && e.code === 'SNAPSHOT_INVALID')
            return {
              ok: false,
              problems: e.problems.length ? [e.message, ...e.problems] : [e.message],
              snapshot,
            };
          throw e;
        }
      },
      (r, say) => {
        if (!('files' in r)) for (const p of r.problems) say(`problem: ${p}`);
        else if (r.ok && r.encrypted === 'stored-only')
          say(
            `ok: ${r.snapshot} (${r.files} files, ${r.bytes} bytes; encrypted: sizes and sha256 of the stored bytes verified, contents and record counts not checked without --identity)`,
          );
        else if (r.ok)
          say(
            `ok: ${r.snapshot} (${r.files} files, ${r.records} records, ${r.bytes} bytes${r.encrypted ? ', decrypted' : ''})`,
          );
        else for (const p of r.problems) say(`problem: ${p}`);
      },
      { exitCode: (r) => (r.ok ? ExitCode.Ok : ExitCode.SnapshotInvalid) },
    );
  });
}
