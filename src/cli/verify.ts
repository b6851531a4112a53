import type { Command } from 'commander';
import { ExitCode, SnapshotInvalidError } from '../core/errors.js';
import { tryAcquireReadLease } from '../snapshot/lease.js';
import { SnapshotReader } from '../snapshot/reader.js';
import { addOutputOptions, type CommonFlags, makeStorage, runCommand } from './common.js';

export function registerVerify(program: Command): void {
  const cmd = program
    .command('verify')
    .argument('<snapshot>', 'path or s3:// URL of one snapshot, as backup prints it')
    .description(
      'check a snapshot: format version, manifest, sha256, size and record count of every file',
    )
    .option('--endpoint-url <url>', 'S3 endpoint (for s3:// snapshots on an emulator)')
    .option('--profile <profile>', 'AWS shared-config profile (for s3:// snapshots)')
    .option('--region <region>', 'AWS Region of the bucket');
  addOutputOptions(cmd);
  cmd.action(async (snapshot: string, flags: CommonFlags) => {
    await runCommand(
      flags,
      async ({ progress }) => {
        try {
          const storage = makeStorage(snapshot, flags, flags.region);
          await SnapshotReader.open(storage);
          // Held while the files are read, so a concurrent prune does not pull them away (a
          // verify with read-only credentials goes on without, with a warning).
          const lease = await tryAcquireReadLease(storage, 'verify', (e) =>
            progress({
              type: 'warning',
              code: 'NO_LEASE',
              message: `could not write a lease on the snapshot (${e.message}); a concurrent prune is not held off`,
            }),
          );
          let reader: SnapshotReader;
          let v: Awaited<ReturnType<SnapshotReader['verify']>>;
          try {
            reader = await SnapshotReader.open(storage);
            v = await reader.verify();
          } finally {
            await lease?.release();
          }
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
