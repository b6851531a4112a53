import { setMaxListeners } from 'node:events';
import { ExitCode, InterruptedError } from '../core/errors.js';
import { noProgress } from '../core/progress.js';
import type { CognitoGateway } from '../cognito/gateway.js';
import { underReadLease } from '../snapshot/read-lease.js';
import type { SnapshotReader } from '../snapshot/reader.js';
import { planOnly } from './preflight/dry-run.js';
import { ensureDomain } from './pool/domain.js';
import { ensurePool } from './pool/ensure.js';
import { RestoreJournal } from './state/journal.js';
import { releaseUntaken, takeLock } from './state/lock.js';
import { runPreflight } from './preflight/run.js';
import { warnAfterUsers, writeOutputs } from './state/report.js';
import { attachDeferredTriggers, runPhases } from './run-phases.js';
import type { LockSlot, Preflight, RestoreRun } from './run-state.js';
import { snapshotTriggers } from './pool/triggers.js';
import type {
  RestoreOptions,
  RestoreOutcome,
  RestorePlan,
  RestoreResult,
  RestoreWarning,
} from './types.js';

export { DOMAIN_PREFIX } from './preflight/run.js';

/**
 * The process exit code for a finished restore: 6 when any user or pool resource (identity
 * provider, app client, group, …) failed, else 0.
 */
export function restoreExitCode(outcome: RestoreOutcome): number {
  if (outcome.dryRun) return ExitCode.Ok;
  return outcome.failedUsers.length > 0 || outcome.resourceFailures.length > 0
    ? ExitCode.PartialRestore
    : ExitCode.Ok;
}

/**
 * Restores one snapshot into a new or existing user pool: preflight (nothing is written unless
 * it passes) → pool → groups → resource servers → identity providers → app clients → users with
 * their memberships, links and disabled state (pipelined) → sub map, client id map, report.
 * The snapshot is read under a lease (snapshot/read-lease.ts), so a concurrent prune leaves it
 * alone. Every finished unit is journaled in the state directory; running it again with the same
 * target continues where a crash, SIGKILL or Ctrl-C stopped it and ends with the same result.
 *
 * The steps live in their own modules: preflight-run (checks, nothing written), ensure-pool,
 * ensure-domain, run-phases (resources and users, pipelined), report (outputs and result);
 * dry-run plans without writing. They share one RestoreRun (run-state.ts).
 */
export async function restoreSnapshot(
  gw: CognitoGateway,
  reader: SnapshotReader,
  options: RestoreOptions,
): Promise<RestoreOutcome> {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  // This run's view of the gateway: every call carries this run's signal, whatever other runs
  // share the client.
  const run = newRun(gw.withSignal(controller.signal), reader, options, controller);
  const onOuterAbort = (): void => controller.abort(new InterruptedError());
  if (options.signal?.aborted) throw new InterruptedError();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const slot: LockSlot = { lock: undefined, createdStateDir: false };
  try {
    // The whole run under a read lease on the snapshot (a concurrent prune leaves it alone).
    return await underReadLease(reader, 'restore', run.progress, async () => {
      const pre = await runPreflight(run, slot);
      if (options.dryRun) return await dryRun(run, pre);
      return await restore(run, pre, slot);
    });
  } catch (e) {
    if (options.signal?.aborted) throw new InterruptedError();
    throw e;
  } finally {
    // Preflight failed: release, and leave no empty state directory behind.
    releaseUntaken(slot);
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
}

function newRun(
  gw: CognitoGateway,
  reader: SnapshotReader,
  options: RestoreOptions,
  controller: AbortController,
): RestoreRun {
  const progress = options.onProgress ?? noProgress;
  const warnings = new Map<string, RestoreWarning>();
  return {
    gw,
    reader,
    options,
    target: options.target,
    now: options.now ?? (() => new Date()),
    progress,
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    warnings,
    warn: (w) => {
      if (warnings.has(w.message)) return;
      warnings.set(w.message, w);
      progress({ type: 'warning', code: w.code, message: w.message });
    },
    t0: performance.now(),
  };
}

/** The restore proper, once preflight passed: the journal owns the state directory lock. */
async function restore(run: RestoreRun, pre: Preflight, slot: LockSlot): Promise<RestoreResult> {
  const held = takeLock(slot); // the journal owns it now
  const journal = await RestoreJournal.open(held, {
    snapshotId: pre.snapshotId,
    sourcePoolId: pre.sourcePoolId,
    target: run.target,
    at: run.now().toISOString(),
  });
  try {
    const step = { run, pre, journal };
    if (!journal.state.preflightPassed)
      journal.append({ t: 'preflight', at: run.now().toISOString() });
    const pool = await ensurePool(step);
    await ensureDomain(step, pool.poolId);
    const phases = await runPhases(step, pool.poolId);
    warnAfterUsers(step, phases);
    await attachDeferredTriggers(step, pool.poolId);
    return await writeOutputs(step, pool, phases);
  } finally {
    journal.close();
  }
}

/** --dry-run: the plan from read-only calls; nothing is written. */
function dryRun(run: RestoreRun, pre: Preflight): Promise<RestorePlan> {
  const { options } = run;
  return planOnly(run.gw, {
    reader: run.reader,
    data: pre.data,
    target: run.target,
    poolId: pre.poolId,
    prior: pre.prior,
    scan: pre.scan,
    usersPlan: pre.usersPlan,
    memberships: pre.index.size,
    stateDir: pre.stateDir,
    idpSecrets: options.idpSecrets,
    passwordState: pre.passwordState,
    precreateFederated: options.federatedUsers === 'precreate',
    deferTriggers:
      Boolean(options.withoutTriggers) &&
      (pre.prior?.triggers === 'pending' ||
        (!pre.poolId && snapshotTriggers(pre.data.pool.userPool) !== undefined)),
    warnings: [...run.warnings.values()],
  });
}
