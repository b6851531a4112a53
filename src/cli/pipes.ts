import { ExitCode } from '../core/errors.js';

/**
 * A closed stdout or stderr (`cognito-vault … | head`: the reader went away). Node reports the
 * failed write as an 'error' event (EPIPE), which, unhandled, ends the process with a stack trace.
 * Instead the stream is left closed — later writes to it are dropped — and the command runs to
 * its end with its own exit code (help and --version: 0), as a well-behaved CLI whose reader
 * stopped listening: a restore is not cut short because `| head` stopped reading its output.
 * Any other write failure (EIO, ENOSPC on a redirected file) is told on stderr when that is still
 * open, and the process ends with exit 1 unless the command already failed.
 *
 * Installed first by main.ts (through install-signals.ts), before anything writes.
 */
let installed = false;
let lost = false;

function onWriteError(stream: NodeJS.WriteStream, e: NodeJS.ErrnoException): void {
  // The reader closed the pipe, or a write after that (the stream is destroyed by then).
  if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
  if (lost) return;
  lost = true;
  if (stream !== process.stderr && !process.stderr.destroyed)
    process.stderr.write(
      `cognito-vault: error: the output could not be written (${e.code ?? 'error'})\n`,
    );
}

export function installPipeGuards(): void {
  if (installed) return;
  installed = true;
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (e: NodeJS.ErrnoException) => onWriteError(stream, e));
  process.on('exit', () => {
    if (lost && !process.exitCode) process.exitCode = ExitCode.Unexpected;
  });
}
