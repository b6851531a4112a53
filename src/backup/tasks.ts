import { InterruptedError } from '../core/errors.js';

/**
 * Runs every task, at most `concurrency` at a time; on the first failure aborts the run (so the
 * running ones stop), starts no more, and rethrows the root cause. Calls nest (users ‖ settings,
 * each with its own parts), so the first failure *here* may only be the echo of an abort caused
 * elsewhere (InterruptedError, AbortError): the run's abort reason is the cause, unless the run
 * was interrupted from outside (Ctrl-C), which the caller reports.
 */
export async function allOrAbort(
  tasks: readonly (() => Promise<unknown>)[],
  run: { readonly signal: AbortSignal; readonly abort: (reason: unknown) => void },
  concurrency = Infinity,
): Promise<void> {
  let first: unknown;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (first === undefined && next < tasks.length) {
      const task = tasks[next++];
      try {
        await task?.();
      } catch (e) {
        if (first === undefined) {
          first = e;
          run.abort(e);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  if (first !== undefined) {
    const reason: unknown = run.signal.reason;
    throw reason !== undefined && !(reason instanceof InterruptedError) ? reason : first;
  }
}

/**
 * `p`, or the signal's reason once it aborts, whichever comes first: a call that does not end on
 * the abort (a hung connection) does not hold the segment open.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * What `p` gave if it has settled by the next turn of the event loop (a page that answered just
 * as the run was stopped), else undefined; a failure is undefined too.
 */
export function settledAlready<T>(p: Promise<T>): Promise<T | undefined> {
  const tick = new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)));
  return Promise.race([p.catch(() => undefined), tick]);
}
