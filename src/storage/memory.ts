import { Readable } from 'node:stream';
import { StorageError } from '../core/errors.js';
import { assertSafeKey, joinKey, type Storage, type StorageEntry } from './storage.js';

/** In-memory storage for tests and dry runs. Children share the parent's map. */
export class MemoryStorage implements Storage {
  readonly location: string;

  constructor(
    private readonly objects: Map<string, Buffer> = new Map(),
    private readonly prefix = '',
  ) {
    this.location = `memory://${prefix}`;
  }

  private full(key: string): string {
    assertSafeKey(key);
    return joinKey(this.prefix, key);
  }

  async put(key: string, body: Readable | Uint8Array | string): Promise<void> {
    const k = this.full(key);
    if (typeof body === 'string' || body instanceof Uint8Array) {
      this.objects.set(k, Buffer.from(body));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
    this.objects.set(k, Buffer.concat(chunks));
  }

  async get(key: string): Promise<Readable> {
    const buf = this.objects.get(this.full(key));
    if (!buf)
      throw new StorageError('NOT_FOUND', `${this.location}/${key} does not exist`, { key });
    return Readable.from([buf]);
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(this.full(key));
  }

  async *list(prefix = ''): AsyncIterable<StorageEntry> {
    const base = joinKey(this.prefix, prefix);
    for (const [k, v] of [...this.objects]) {
      // Objects *under* the prefix, as a directory or an S3 listing of `prefix/` would give.
      if (base && !k.startsWith(`${base}/`)) continue;
      const rel = this.prefix ? k.slice(this.prefix.length + 1) : k;
      yield { key: rel, bytes: v.length };
    }
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(this.full(key));
  }

  child(prefix: string): Storage {
    assertSafeKey(prefix);
    return new MemoryStorage(this.objects, joinKey(this.prefix, prefix));
  }

  /** Raw bytes, for tests. */
  bytes(key: string): Buffer | undefined {
    return this.objects.get(this.full(key));
  }
}
