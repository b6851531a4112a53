import { forTerminal } from '../core/terminal.js';
import { ExitCode, InterruptedError } from '../core/errors.js';

/**
 * SIGINT and SIGTERM, handled alike for every command. This module is light (no AWS SDK) and
 * main.ts imports it first, so the handlers are in place while the commands still load:
 *
 * - a command running (runCommand): its AbortController is aborted — retry sleeps, rate-limiter
 *   waits, streams and uploads stop, the command prints one line saying what state it left and
 *   exits 130. Should anything still hold on after SHUTDOWN_GRACE_MS (a file system call that
 *   never returns, a hung connection), the process exits 130 anyway;
 * - no command running (start-up, `policy`), or a second signal: exit 130 at once.
 */

/** How long a command may take to wind down after SIGINT/SIGTERM before the process exits. */
export const SHUTDOWN_GRACE_MS = Number(process.env.COGNITO_VAULT_SHUTDOWN_GRACE_MS ?? 3000);

export interface RunningCommand {
  controller: AbortController;
  /** The line printed on interruption: what state it leaves behind. */
  interrupted: string;
  json: boolean;
}

let running: RunningCommand | undefined;
let installed = false;
let signals = 0;

function exitInterrupted(message: string, json: boolean): never {
  const err = new InterruptedError(message);
  process.stderr.write(`cognito-vault: error: ${forTerminal(err.message)}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ error: err.toJSON() }, null, 2)}\n`);
  process.exit(ExitCode.Interrupted);
}

function onSignal(): void {
  signals++;
  const r = running;
  if (!r) exitInterrupted('interrupted', false);
  if (signals > 1) exitInterrupted(r.interrupted, r.json);
  r.controller.abort(new InterruptedError());
  setTimeout(() => exitInterrupted(r.interrupted, r.json), SHUTDOWN_GRACE_MS).unref();
}

/** Installs the handlers once per process (idempotent). */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Marks `cmd` as the running command until the returned function is called. */
export function beginCommand(cmd: RunningCommand): () => void {
  installSignalHandlers();
  running = cmd;
  return () => {
    if (running === cmd) running = undefined;
  };
}
