import {
  backupUnit,
  plan,
  type PlanEvent,
  prune,
  report,
  type BackupUnitResult,
  type ReportResult,
  type UnitOutcome,
} from '../../src/lambda/stepfunctions.js';
import type { LambdaContextLike } from '../../src/lambda/handler.js';
import { RETRIED_ERRORS } from '../../src/cdk/index.js';

/**
 * The state machine the CDK construct builds (src/cdk/index.ts), run in-process over the same
 * handlers, step for step: PlanUnits → AccountRegionGroups (groups in parallel) →
 * UnitsOneAtATime (units of a group in sequence) → BackupUnit, looped by UnitDone until done or
 * maxInvocations (UnitTooLong), retried on RETRIED_ERRORS (3 attempts), any other error caught
 * as UnitFailed → PruneUnit (a failure caught as PruneFailed) → UnitSucceeded → Report.
 * test/unit/cdk.test.ts checks that the synthesized definition has these states and rules.
 */
export interface ExecutionTrace {
  plan: Awaited<ReturnType<typeof plan>>;
  /** Every BackupUnit result (or error name), in order. */
  invocations: { userPoolId: string; result?: BackupUnitResult; error?: string }[];
  outcomes: UnitOutcome[][];
  report?: ReportResult;
  reportError?: Error;
  /** Units of the same group that ran at the same time (must stay 0). */
  overlaps: number;
}

export async function runExecution(
  input: PlanEvent,
  opts: {
    maxInvocations?: number;
    /** The Lambda context of the n-th BackupUnit invocation of a unit (deadline tests). */
    contextFor?: (userPoolId: string, n: number) => LambdaContextLike | undefined;
  } = {},
): Promise<ExecutionTrace> {
  const maxInvocations = opts.maxInvocations ?? 24;
  const planned = await plan(input);
  const trace: ExecutionTrace = { plan: planned, invocations: [], outcomes: [], overlaps: 0 };
  trace.outcomes = await Promise.all(
    planned.groups.map(async (group) => {
      const out: UnitOutcome[] = [];
      let running = 0;
      for (const unit of group.units) {
        running++;
        if (running > 1) trace.overlaps++;
        let state: { unit: typeof unit; snapshotId?: string; invocations: number } = {
          unit,
          invocations: 0,
        };
        let outcome: UnitOutcome | undefined;
        let n = 0;
        let attempts = 0;
        while (!outcome) {
          n++;
          let r: BackupUnitResult;
          try {
            r = await backupUnit(state, opts.contextFor?.(unit.userPoolId, n));
            attempts = 0;
          } catch (e) {
            const name = e instanceof Error ? e.name : 'Error';
            trace.invocations.push({ userPoolId: unit.userPoolId, error: name });
            if (RETRIED_ERRORS.includes(name) && ++attempts <= 3) continue;
            outcome = { userPoolId: unit.userPoolId, ok: false, error: name, cause: String(e) };
            break;
          }
          trace.invocations.push({ userPoolId: unit.userPoolId, result: r });
          if (r.done) {
            try {
              const p = await prune({ unit: r.unit });
              outcome = {
                userPoolId: unit.userPoolId,
                ok: true,
                snapshotId: r.snapshotId,
                pruneErrors: p.errors.length,
              };
            } catch {
              outcome = {
                userPoolId: unit.userPoolId,
                ok: true,
                snapshotId: r.snapshotId,
                pruneErrors: 1,
              };
            }
          } else if (r.invocations >= maxInvocations) {
            outcome = {
              userPoolId: unit.userPoolId,
              ok: false,
              error: 'MaxInvocationsExceeded',
            };
          } else {
            state = { unit: r.unit, snapshotId: r.snapshotId, invocations: r.invocations };
          }
        }
        out.push(outcome);
        running--;
      }
      return out;
    }),
  );
  try {
    trace.report = await report({ results: trace.outcomes });
  } catch (e) {
    trace.reportError = e as Error;
  }
  return trace;
}
