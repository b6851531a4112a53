import type { UserPoolType } from '@aws-sdk/client-cognito-identity-provider';
import { DescribeUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import type { CognitoGateway } from '../cognito/gateway.js';
import { beat, deleteDrillPool, findDrillPool, HEARTBEAT_EVERY_MS } from './pools.js';

/**
 * The scratch pool's life: a heartbeat while the drill runs (so a concurrent drill's cleanup
 * leaves it alone, and a killed drill's pool goes stale after two minutes), and a guard that
 * deletes it when the drill ends, however it ends. Both use a view of the gateway without the
 * run's abort signal: an interrupted drill must still be able to delete what it made.
 */

export interface Heartbeat {
  /** The pool id, once the restore has answered it. */
  known(poolId: string): void;
  poolId(): string | undefined;
  /** Stops the timer and waits for a beat in flight. */
  stop(): Promise<void>;
}

export function startHeartbeat(
  gw: CognitoGateway,
  drillId: string,
  opts: {
    now: () => Date;
    everyMs?: number | undefined;
    onPool?: (id: string) => void;
    onError?: (message: string) => void;
  },
): Heartbeat {
  const free = gw.withSignal(undefined);
  let pool: UserPoolType | undefined;
  let id: string | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;
  const found = (p: UserPoolType): void => {
    pool = p;
    if (p.Id && p.Id !== id) {
      id = p.Id;
      opts.onPool?.(p.Id);
    }
  };
  const tick = async (): Promise<void> => {
    try {
      if (!pool) {
        const p = id
          ? (await free.send(new DescribeUserPoolCommand({ UserPoolId: id }))).UserPool
          : await findDrillPool(free, drillId);
        if (p) found(p);
      }
      if (pool && !stopped) await beat(free, pool, opts.now());
    } catch (e) {
      opts.onError?.(`heartbeat: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(tick);
  }, opts.everyMs ?? HEARTBEAT_EVERY_MS);
  timer.unref();
  return {
    known(poolId) {
      if (id !== poolId) {
        id = poolId;
        pool = undefined;
        opts.onPool?.(poolId);
      }
    },
    poolId: () => id,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}

export interface Guarded {
  /** The scratch pool (when one was created). */
  poolId?: string;
  deleted: boolean;
  deleteError?: string;
  /** What the body threw (rethrown by the caller once the pool is gone). */
  error?: unknown;
}

/**
 * Runs `body`; then, whatever happened, deletes the drill's scratch pool — found by the id the
 * restore answered, else by its unique name and drill tag (the restore may have created it and
 * failed before answering). Never deletes a pool without the drill tag (deleteDrillPool reads
 * the tag right before the delete).
 */
export async function runGuarded(
  gw: CognitoGateway,
  drillId: string,
  heartbeat: Heartbeat,
  body: () => Promise<void>,
): Promise<Guarded> {
  const out: Guarded = { deleted: false };
  try {
    await body();
  } catch (e) {
    out.error = e;
  }
  await heartbeat.stop();
  const free = gw.withSignal(undefined);
  try {
    const id = heartbeat.poolId() ?? (await findDrillPool(free, drillId))?.Id;
    if (id) {
      out.poolId = id;
      out.deleted = await deleteDrillPool(free, id);
      if (!out.deleted) out.deleteError = 'the pool has no drill tag or is gone';
    }
  } catch (e) {
    out.deleteError = e instanceof Error ? e.message : String(e);
  }
  return out;
}
