import { InternalError } from '../../core/errors.js';

/**
 * A bounded work queue served by a fixed pool of workers. `push` waits while the queue is full
 * (back-pressure: the producer — user creation — slows to the pace of the consumers instead of
 * buffering the whole pool), `close` + `drained` waits for everything pushed to finish. The
 * handler must deal with per-item failures itself; a rejection is treated as fatal: it stops
 * the workers and is rethrown from `push` and `drained`.
 */
export class WorkQueue<T> {
  private readonly items: T[] = [];
  private head = 0;
  private closed = false;
  private fatal: { error: unknown } | undefined;
  private readonly spaceWaiters: (() => void)[] = [];
  private itemWaiters: (() => void)[] = [];
  private readonly workers: Promise<void>[];

  constructor(
    concurrency: number,
    private readonly limit: number,
    private readonly handler: (item: T) => Promise<void>,
  ) {
    this.workers = Array.from({ length: Math.max(1, concurrency) }, () => this.work());
  }

  get pending(): number {
    return this.items.length - this.head;
  }

  async push(item: T): Promise<void> {
    while (!this.fatal && this.pending >= this.limit) {
      await new Promise<void>((r) => this.spaceWaiters.push(r));
    }
    if (this.fatal) throw this.fatal.error;
    if (this.closed) throw new InternalError('work queue is closed');
    this.items.push(item);
    this.wakeWorkers();
  }

  /** Stops accepting items; resolves when every pushed item is handled. */
  async drained(): Promise<void> {
    this.closed = true;
    this.wakeWorkers();
    await Promise.all(this.workers);
    if (this.fatal) throw this.fatal.error;
  }

  /** Stops the workers after the items in progress (on a fatal error elsewhere). */
  abort(error: unknown): void {
    this.fatal ??= { error };
    this.wakeWorkers();
    this.wakeProducers();
  }

  private wakeWorkers(): void {
    const w = this.itemWaiters;
    this.itemWaiters = [];
    for (const r of w) r();
  }

  private wakeProducers(): void {
    for (const r of this.spaceWaiters.splice(0)) r();
  }

  private take(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as T;
    (this.items as (T | undefined)[])[this.head] = undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  private async work(): Promise<void> {
    for (;;) {
      if (this.fatal) return;
      if (this.pending === 0) {
        if (this.closed) return;
        await new Promise<void>((r) => this.itemWaiters.push(r));
        continue;
      }
      const item = this.take() as T;
      // Space for one more: let a waiting producer in.
      const waiter = this.spaceWaiters.shift();
      if (waiter) waiter();
      try {
        await this.handler(item);
      } catch (error) {
        this.abort(error);
        return;
      }
    }
  }
}
