import type { Command } from 'commander';
import { ExitCode, SnapshotInvalidError } from '../core/errors.js';
import {
  addOutputOptions,
  addStorageOptions,
  addS3Options,
  type CommonFlags,
  makeStorage,
  runCommand,
} from './common.js';
import { parseLocationArg } from './validate.js';

export function registerVerify(program: Command): void {
  const cmd = program
    .command('verify')
    .argument(
      '<snapshot>',
      'path or s3:// URL of one snapshot, as backup prints it',
      parseLocationArg('snapshot'),
    )
    .description(
      'check a snapshot: format version, manifest, sha256, size and record count of every file',
    );
  addS3Options(cmd);
  addOutputOptions(cmd);
  addStorageOptions(cmd);
  cmd.action(async (snapshot: string, flags: CommonFlags) => {
    await runCommand(
      flags,
      async ({ progress }) => {
        const [{ noLeaseWarning, withReadLease }, { SnapshotReader }] = await Promise.all([
          import('../snapshot/lease.js'),
          import('../snapshot/reader.js'),
        ]);
        try {
          const opened = await SnapshotReader.open(
            await makeStorage(snapshot, flags, flags.region),
          );
          // Under a lease, so a concurrent prune does not pull the files away mid-read.
          const [reader, v] = await withReadLease(
            opened.storage,
            'verify',
            (e) => progress(noLeaseWarning(e)),
            async () => {
              const r = await SnapshotReader.open(opened.storage);
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
          };
        } catch (e) {
          if (e instanceof SnapshotInvalidError)
            return {
              ok: false,
              problems: e.problems.length ? [e.message, ...e.problems] : [e.message],
              snapshot,
            };
          throw e;
        }
      },
      (r, say) => {
        if (r.ok)
          say(`ok: ${r.snapshot} (${r.files} files, ${r.records} records, ${r.bytes} bytes)`);
        else for (const p of r.problems) say(`problem: ${p}`);
      },
      { exitCode: (r) => (r.ok ? ExitCode.Ok : ExitCode.SnapshotInvalid) },
    );
  });
}
