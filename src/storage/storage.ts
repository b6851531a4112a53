import type { Readable } from 'node:stream';
import { parseLocation } from './location.js';

export interface StorageEntry {
  /** Key relative to the storage root, '/'-separated. */
  key: string;
  bytes: number;
  /**
   * When the object was last written (file mtime, S3 LastModified). Retention measures the age
   * of an incomplete snapshot by its newest object; absent means "unknown", never "old".
   */
  modified?: Date;
}

/** What `stat` knows about one object. */
export interface StorageStat {
  bytes: number;
  modified?: Date;
}

/**
 * Where snapshots live. Keys are '/'-separated paths relative to the root. Implementations:
 * LocalDirStorage (files 0600, directories 0700), S3Storage, MemoryStorage. All pass the same
 * conformance suite (test/support/storage-conformance.ts).
 */
export interface Storage {
  /** Human-readable location of the root (a path or s3:// URL), as printed to users. */
  readonly location: string;
  /**
   * Writes `body` to `key`, replacing any object there. Resolves when durable. The object is
   * whole or absent: a body that fails, or an abort through `signal` (which rejects with the
   * signal's reason and destroys a stream body), leaves no object and no temporary file.
   */
  put(key: string, body: Readable | Uint8Array | string, signal?: AbortSignal): Promise<void>;
  /**
   * A stream of the object's bytes; StorageError NOT_FOUND when absent. Aborting `signal`
   * rejects the call (before the stream exists) or destroys the stream with the signal's reason.
   */
  get(key: string, signal?: AbortSignal): Promise<Readable>;
  /**
   * true when an object is at `key`, false when none is. A failure to tell (permission denied,
   * an I/O or service error) is a StorageError, never `false`.
   */
  exists(key: string): Promise<boolean>;
  /** Size and modification time of the object at `key`; undefined when there is none. */
  stat(key: string): Promise<StorageStat | undefined>;
  /**
   * Every object under `prefix` (recursive), in no particular order. An object removed or renamed
   * while the listing runs is either listed or not, never an error; any other failure is a
   * StorageError.
   */
  list(prefix?: string): AsyncIterable<StorageEntry>;
  /** Deletes the object at `key`; a missing key is not an error, any failure is a StorageError. */
  delete(key: string): Promise<void>;
  /**
   * Removes what deleting objects can leave behind on backends with directories (a local disk):
   * the empty directories below the root, deepest first, and the root itself when it ends up
   * empty. Never removes an object, and a directory something is written into meanwhile stays;
   * a missing root is not an error. Where objects leave nothing behind (S3, memory) it does
   * nothing. Prune and lease release call it after deleting, so storage-agnostic code never
   * needs to know which backend it has.
   */
  removeEmptyDirs(): Promise<void>;
  /** The same storage rooted at `prefix`. */
  child(prefix: string): Storage;
}

export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p.length > 0)
    .join('/');
}

/** Rejects keys that would escape the root. */
export function assertSafeKey(key: string): void {
  if (key.split('/').some((p) => p === '..' || p === '.') || key.startsWith('/')) {
    throw new RangeError(`unsafe storage key: ${key}`);
  }
}

/**
 * `s3://bucket/prefix` → its bucket and prefix; undefined for a local path. A malformed S3 URL
 * is a UsageError (see parseLocation).
 */
export function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const l = parseLocation(url);
  return l.kind === 's3' ? { bucket: l.bucket, prefix: l.prefix } : undefined;
}

/** A 12-digit AWS account id (an S3 bucket's expected owner). */
export const ACCOUNT_ID = /^\d{12}$/;

/** What an aborted storage call rejects with: the signal's reason (an AbortError if none). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return Object.assign(new Error('the operation was aborted'), { name: 'AbortError', cause: r });
}

/** Destroys `stream` with the signal's reason when `signal` aborts (until the stream closes). */
export function destroyOnAbort<T extends Readable>(stream: T, signal: AbortSignal | undefined): T {
  if (!signal) return stream;
  if (signal.aborted) {
    stream.destroy(abortReason(signal));
    return stream;
  }
  const onAbort = (): void => void stream.destroy(abortReason(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
  return stream;
}
