/**
 * Named readiness: follow-ups wait for exactly the group (or resource) they need, not for the
 * whole phase that creates it. `open(name)` releases waiters of that name; `fail(e)` rejects
 * every current and future wait; `openAll()` releases everything (the phase is done).
 */
export class Gate {
  private readonly opened = new Set<string>();
  private readonly waiters = new Map<string, (() => void)[]>();
  private failure: { error: unknown } | undefined;
  private allOpen = false;
  private readonly rejecters = new Set<(e: unknown) => void>();

  isOpen(name: string): boolean {
    return this.allOpen || this.opened.has(name);
  }

  open(name: string): void {
    this.opened.add(name);
    for (const w of this.waiters.get(name) ?? []) w();
    this.waiters.delete(name);
  }

  openAll(): void {
    this.allOpen = true;
    for (const ws of this.waiters.values()) for (const w of ws) w();
    this.waiters.clear();
  }

  fail(error: unknown): void {
    this.failure ??= { error };
    for (const r of this.rejecters) r(error);
    this.rejecters.clear();
  }

  async wait(name: string): Promise<void> {
    if (this.failure) throw this.failure.error;
    if (this.isOpen(name)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.rejecters.delete(reject);
        resolve();
      };
      this.rejecters.add(reject);
      const list = this.waiters.get(name) ?? [];
      list.push(done);
      this.waiters.set(name, list);
    });
  }
}
