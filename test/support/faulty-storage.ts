import type { Readable } from 'node:stream';
import type { Storage, StorageEntry, StorageStat } from '../../src/storage/storage.js';

export type StorageOp = 'put' | 'get' | 'exists' | 'stat' | 'list' | 'delete';

/**
 * Wraps a storage and lets a test fail (or observe) any operation on any key. Keys given to
 * `fault` are relative to the outermost wrapper's root, whatever child the call went through.
 */
export class FaultyStorage implements Storage {
  readonly location: string;
  constructor(
    readonly inner: Storage,
    readonly fault: (op: StorageOp, key: string) => Error | undefined,
    readonly at = '',
    readonly calls: { op: StorageOp; key: string }[] = [],
  ) {
    this.location = inner.location;
  }

  private check(op: StorageOp, key: string): void {
    const full = this.at ? (key ? `${this.at}/${key}` : this.at) : key;
    this.calls.push({ op, key: full });
    const e = this.fault(op, full);
    if (e) throw e;
  }

  async put(key: string, body: Readable | Uint8Array | string, signal?: AbortSignal) {
    this.check('put', key);
    return this.inner.put(key, body, signal);
  }
  async get(key: string): Promise<Readable> {
    this.check('get', key);
    return this.inner.get(key);
  }
  async exists(key: string): Promise<boolean> {
    this.check('exists', key);
    return this.inner.exists(key);
  }
  async stat(key: string): Promise<StorageStat | undefined> {
    this.check('stat', key);
    return this.inner.stat(key);
  }
  async *list(prefix?: string): AsyncIterable<StorageEntry> {
    this.check('list', prefix ?? '');
    yield* this.inner.list(prefix);
  }
  async delete(key: string): Promise<void> {
    this.check('delete', key);
    return this.inner.delete(key);
  }
  removeEmptyDirs(): Promise<void> {
    return this.inner.removeEmptyDirs();
  }
  child(prefix: string): Storage {
    return new FaultyStorage(
      this.inner.child(prefix),
      this.fault,
      this.at ? `${this.at}/${prefix}` : prefix,
      this.calls,
    );
  }
}
