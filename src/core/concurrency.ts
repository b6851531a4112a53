import { InterruptedError, throwIfAborted } from './errors.js';

/** Sleeps `ms`, resolving early (and throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new InterruptedError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason ?? new InterruptedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` over items with at most `concurrency` in flight. Items come from any (async)
 * iterable and are pulled lazily, so a generator of millions of records is never materialised.
 * The first rejection stops new work and is rethrown after the in-flight calls settle.
 */
export async function forEachConcurrent<T>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const it =
    Symbol.asyncIterator in Object(items)
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (items as Iterable<T>)[Symbol.iterator]();
  let index = 0;
  let failed: { error: unknown } | undefined;
  let pulling: Promise<unknown> = Promise.resolve();
  const next = async (): Promise<IteratorResult<T>> => {
    // Serialise pulls: async iterators must not be advanced concurrently.
    const p = pulling.then(() => it.next());
    pulling = p.catch(() => undefined);
    return p;
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failed) return;
      throwIfAborted(signal);
      const r = await next();
      if (r.done) return;
      const i = index++;
      try {
        await fn(r.value, i);
      } catch (error) {
        failed ??= { error };
        return;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, concurrency) }, () => worker());
  const results = await Promise.allSettled(workers);
  if (failed) throw failed.error;
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
