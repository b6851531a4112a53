import { sleep } from '../core/concurrency.js';
import { InterruptedError, ServiceUnavailableError } from '../core/errors.js';

/** One attempt per call: the caller decides what a failure that may have taken effect means. */
export const SINGLE_ATTEMPT = { transientAttempts: 1 } as const;

/**
 * The tag a pool created by a restore carries: the random token of the creation attempt, also
 * journaled (before the call) in the `pool-intent` line. It is how a restore recognises its own
 * pool after a lost answer or a crash — not by name, which anyone can share.
 */
export const RESTORE_TOKEN_TAG = 'cognito-vault:restore-token';

/**
 * How long to look for the result of an ambiguous attempt before sending it again: the List*
 * operations are eventually consistent, so a created pool or client may be missing from the
 * list for a moment. Cumulative delays before each look (ms).
 */
export const SETTLE_DELAYS_MS = [0, 250, 750, 1500] as const;

export function isAmbiguous(e: unknown): boolean {
  return (
    e instanceof ServiceUnavailableError &&
    (e.code === 'CONNECTION_FAILED' || e.code === 'SERVICE_ERROR')
  );
}

/**
 * Creates something that Cognito would happily create twice (a pool, an app client) without the
 * gateway's blind retries. After an ambiguous failure — a reset connection or a 5xx, where the
 * request may have taken effect and only the answer was lost — `find` looks for what an attempt
 * may have created (by a marker the attempt carried, see RESTORE_TOKEN_TAG), several times over
 * a few seconds while the lists settle, and only when it finds nothing is the call sent again.
 * Throttling is retried by the gateway itself (a throttled request did nothing).
 */
export async function createOnce<T>(
  attempt: (n: number) => Promise<T>,
  find: () => Promise<T | undefined>,
  opts: { tries?: number; signal?: AbortSignal; settleDelaysMs?: readonly number[] } = {},
): Promise<T> {
  const tries = opts.tries ?? 6;
  const settle = opts.settleDelaysMs ?? SETTLE_DELAYS_MS;
  const pause = async (ms: number): Promise<void> => {
    if (ms <= 0) return;
    try {
      await sleep(ms, opts.signal);
    } catch {
      throw new InterruptedError();
    }
  };
  for (let i = 1; ; i++) {
    try {
      return await attempt(i);
    } catch (e) {
      if (!isAmbiguous(e) || i >= tries) throw e;
      for (const delay of settle) {
        await pause(delay);
        const found = await find();
        if (found !== undefined) return found;
      }
      await pause(Math.min(5000, 100 * 2 ** i) * (0.5 + Math.random() / 2));
    }
  }
}
