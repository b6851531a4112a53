import { sleep } from '../core/concurrency.js';
import { InterruptedError, ServiceUnavailableError } from '../core/errors.js';

/** One attempt per call: the caller decides what a failure that may have taken effect means. */
export const SINGLE_ATTEMPT = { transientAttempts: 1 } as const;

/**
 * Creates something that Cognito would happily create twice (a pool, an app client) without the
 * gateway's blind retries. After an ambiguous failure — a reset connection or a 5xx, where the
 * request may have taken effect and only the answer was lost — `find` looks for what the
 * attempt may have created, and only when it finds nothing is the call sent again.
 * Throttling is retried by the gateway itself (a throttled request did nothing).
 */
export async function createOnce<T>(
  attempt: () => Promise<T>,
  find: () => Promise<T | undefined>,
  opts: { tries?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const tries = opts.tries ?? 6;
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      const ambiguous =
        e instanceof ServiceUnavailableError &&
        (e.code === 'CONNECTION_FAILED' || e.code === 'SERVICE_ERROR');
      if (!ambiguous || i >= tries) throw e;
      const found = await find();
      if (found !== undefined) return found;
      try {
        await sleep(Math.min(5000, 100 * 2 ** i) * (0.5 + Math.random() / 2), opts.signal);
      } catch {
        throw new InterruptedError();
      }
    }
  }
}
