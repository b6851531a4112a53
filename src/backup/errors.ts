import { type ErrorContext, ExitCode, InterruptedError, VaultError } from '../core/errors.js';
import type { Tally } from './run-state.js';
import type { BackupOptions } from './types.js';

/**
 * A stopped run (the caller's signal: Ctrl-C, SIGTERM, a Lambda deadline) that made no progress:
 * no page record, unit record or manifest written. Thrown instead of InterruptedError when the
 * caller asked for it (`failWithoutProgress`), so that a scheduler that resumes a stopped
 * backup fails loudly instead of invoking it again and again. Not retried by the state machine.
 */
export class NoProgressError extends VaultError {
  constructor(message: string, context: ErrorContext) {
    super('BACKUP_NO_PROGRESS', message, ExitCode.ServiceUnavailable, context);
    this.name = 'NoProgressError';
  }
}

/**
 * What a run stopped by the caller's signal throws: InterruptedError naming the snapshot to
 * resume and whether this run stored anything (`progressMade`), or NoProgressError.
 */
export function stoppedError(
  opts: BackupOptions,
  snapshotId: string | undefined,
  tally: Tally,
): VaultError {
  const progressMade = tally.durableRecords > 0;
  const context = snapshotId ? { snapshotId, progressMade } : { progressMade };
  // Before the snapshot has an id there is nothing to resume: the caller starts again (the state
  // machine retries InterruptedError a bounded number of times), so only a stop that leaves a
  // snapshot to continue with nothing stored in it is "no progress".
  if (opts.failWithoutProgress && !progressMade && snapshotId) {
    return new NoProgressError(
      `${opts.userPoolId}: stopped before anything was stored${snapshotId ? ` in snapshot ${snapshotId}` : ''} (no page, unit or manifest); resuming it again would make no progress — give each run more time or raise the UserList rate`,
      { userPoolId: opts.userPoolId, ...context },
    );
  }
  return new InterruptedError('interrupted', context);
}
