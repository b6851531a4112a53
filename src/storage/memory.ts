import { Readable } from 'node:stream';
import { StorageError } from '../core/errors.js';
import {
  abortReason,
  assertSafeKey,
  destroyOnAbort,
  joinKey,
  type Storage,
  type StorageEntry,
  type StorageStat,
} from './storage.js';

const CHUNK = 64 * 1024;

/** In-memory storage for tests and dry runs. Children share the parent's maps. */
export class MemoryStorage implements Storage {
  readonly location: string;

  constructor(
    private readonly objects: Map<string, Buffer> = new Map(),
    private readonly prefix = '',
    private readonly times: Map<string, Date> = new Map(),
  ) {
    this.location = `memory://${prefix}`;
  }

  private full(key: string): string {
    assertSafeKey(key);
    return joinKey(this.prefix, key);
  }

  async put(
    key: string,
    body: Readable | Uint8Array | string,
    signal?: AbortSignal,
  ): Promise<void> {
    const k = this.full(key);
    if (signal?.aborted) {
      if (body instanceof Readable) body.destroy();
      throw abortReason(signal);
    }
    let buf: Buffer;
    if (typeof body === 'string' || body instanceof Uint8Array) buf = Buffer.from(body);
    else {
      const chunks: Buffer[] = [];
      try {
        for await (const c of destroyOnAbort(body, signal))
          chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
      } catch (e) {
        if (signal?.aborted) throw abortReason(signal);
        throw e;
      }
      if (signal?.aborted) throw abortReason(signal);
      buf = Buffer.concat(chunks);
    }
    this.objects.set(k, buf);
    this.times.set(k, new Date());
  }

  async get(key: string, signal?: AbortSignal): Promise<Readable> {
    if (signal?.aborted) throw abortReason(signal);
    const buf = this.objects.get(this.full(key));
    if (!buf)
      throw new StorageError('NOT_FOUND', `${this.location}/${key} does not exist`, { key });
    const chunks = function* (): Generator<Buffer> {
      for (let i = 0; i < buf.length; i += CHUNK) yield buf.subarray(i, i + CHUNK);
    };
    return destroyOnAbort(Readable.from(chunks(), { objectMode: false }), signal);
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(this.full(key));
  }

  async stat(key: string): Promise<StorageStat | undefined> {
    const k = this.full(key);
    const buf = this.objects.get(k);
    if (!buf) return undefined;
    const modified = this.times.get(k);
    return { bytes: buf.length, ...(modified ? { modified } : {}) };
  }

  async *list(prefix = ''): AsyncIterable<StorageEntry> {
    const base = joinKey(this.prefix, prefix);
    for (const [k, v] of [...this.objects]) {
      // Objects *under* the prefix, as a directory or an S3 listing of `prefix/` would give.
      if (base && !k.startsWith(`${base}/`)) continue;
      const rel = this.prefix ? k.slice(this.prefix.length + 1) : k;
      const modified = this.times.get(k);
      yield { key: rel, bytes: v.length, ...(modified ? { modified } : {}) };
    }
  }

  async delete(key: string): Promise<void> {
    const k = this.full(key);
    this.objects.delete(k);
    this.times.delete(k);
  }

  /** Objects leave nothing behind in memory. */
  async removeEmptyDirs(): Promise<void> {
    // nothing to remove
  }

  child(prefix: string): Storage {
    assertSafeKey(prefix);
    return new MemoryStorage(this.objects, joinKey(this.prefix, prefix), this.times);
  }

  /** Raw bytes, for tests. */
  bytes(key: string): Buffer | undefined {
    return this.objects.get(this.full(key));
  }

  /** Sets an object's modification time, for tests (an old incomplete snapshot). */
  touch(key: string, modified: Date): void {
    this.times.set(this.full(key), modified);
  }
}
