import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InternalError, InterruptedError, StorageError, VaultError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import { DigestStream, gzipJsonLines } from './codec.js';
import { AGE_SCHEME, AGE_SUFFIX, type AgeRecipients } from './age.js';
import {
  FileEntry,
  type FileKind,
  FORMAT_VERSION,
  FORMAT_VERSION_PLAIN,
  Manifest,
  MANIFEST_FILE,
} from './format.js';

export type ManifestDraft = Omit<Manifest, 'files' | 'formatVersion' | 'encryption'>;

/**
 * Writes one snapshot into a storage rooted at the snapshot's own directory. Every file is
 * hashed as it streams; `commit` writes manifest.json last, so a snapshot without a manifest
 * is, by definition, incomplete.
 */
export class SnapshotWriter {
  private readonly files: FileEntry[] = [];
  private committed = false;

  /**
   * @param encryption recipients to encrypt every data file to (age; `backup --encrypt-to`).
   *   The manifest stays clear: list, prune and verify read it without a key.
   */
  constructor(
    readonly storage: Storage,
    private readonly signal?: AbortSignal,
    private readonly encryption?: AgeRecipients,
  ) {}

  get location(): string {
    return this.storage.location;
  }

  /**
   * Streams `source` into `path` (plus `.age` when encrypting), hashing the stored bytes, and,
   * when encrypting, the plaintext too. Returns the stored path.
   */
  private async putDigested(
    path: string,
    source: Readable,
  ): Promise<{
    path: string;
    bytes: number;
    sha256: string;
    plaintext?: { bytes: number; sha256: string };
  }> {
    const digest = new DigestStream();
    // Its errors are reported through the pipelines and the upload (below); a listener here
    // keeps a teardown before a pipeline is attached from being an uncaught 'error'.
    digest.on('error', () => undefined);
    const opts = this.signal ? { signal: this.signal } : {};
    const stored = this.encryption ? `${path}${AGE_SUFFIX}` : path;
    // pipeline propagates errors from the source (e.g. a failing Cognito paginator) to the sink.
    const upload = this.storage.put(stored, digest, this.signal);
    // A storage that fails without reading its body (a refused put) must not leave the chain
    // before it stalled on a full buffer: the failure tears it down, back to the source.
    upload.catch((e: unknown) => {
      if (!digest.destroyed) digest.destroy(e as Error);
    });
    let plain: DigestStream | undefined;
    let flows: Promise<unknown>[];
    if (this.encryption) {
      plain = new DigestStream();
      const p = plain;
      // source → plaintext digest → age (64 KiB chunks, streaming) → stored digest → storage.
      const encrypted = this.encryption.encrypt(p);
      flows = [pipeline(source, p, opts), encrypted.then((enc) => pipeline(enc, digest, opts))];
      encrypted.catch((e: unknown) => {
        p.destroy(e as Error);
        digest.destroy(e as Error);
      });
    } else {
      flows = [pipeline(source, digest, opts)];
    }
    const settled = await Promise.allSettled([...flows, upload]);
    const errors = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (errors.length > 0) {
      // Both sides fail when either does; report the cause (a Cognito or storage error such as
      // DISK_FULL), not the other side's premature-close or raw errno echo of it.
      throw (
        errors.find((e) => e instanceof VaultError && !(e instanceof InterruptedError)) ??
        errors.find((e) => e instanceof VaultError) ??
        errors[0]
      );
    }
    return {
      path: stored,
      bytes: digest.bytes,
      sha256: digest.digest(),
      ...(plain ? { plaintext: { bytes: plain.bytes, sha256: plain.digest() } } : {}),
    };
  }

  /** The manifest fields of a stored file (encryption and plaintext hashes when encrypted). */
  private stored(
    r: Awaited<ReturnType<SnapshotWriter['putDigested']>>,
  ): Pick<FileEntry, 'path' | 'bytes' | 'sha256' | 'encryption' | 'plaintext'> {
    return {
      path: r.path,
      bytes: r.bytes,
      sha256: r.sha256,
      ...(r.plaintext ? { encryption: 'age' as const, plaintext: r.plaintext } : {}),
    };
  }

  async writeJson(
    path: string,
    kind: FileKind,
    value: unknown,
    records: number,
  ): Promise<FileEntry> {
    const body = `${JSON.stringify(value, null, 2)}\n`;
    const r = await this.putDigested(path, Readable.from([Buffer.from(body)]));
    return this.add({ ...this.stored(r), kind, encoding: 'json', records });
  }

  /** Streams records into a gzip'd JSON Lines file; memory stays flat whatever the count. */
  async writeJsonLines<T>(
    path: string,
    kind: FileKind,
    records: AsyncIterable<T> | Iterable<T>,
  ): Promise<FileEntry> {
    const counter = { records: 0, bytes: 0 };
    const r = await this.putDigested(path, gzipJsonLines(records, counter));
    return this.add({
      ...this.stored(r),
      kind,
      encoding: 'jsonl+gzip',
      records: counter.records,
      // The decompressed size: readers refuse a part that inflates beyond it (a gzip bomb).
      inflatedBytes: counter.bytes,
    });
  }

  /**
   * Lists a file written by an earlier run of this snapshot (a unit kept by `backup --resume`).
   * `commit` checks it with `stat` like every other file.
   */
  adopt(entry: FileEntry): FileEntry {
    return this.add(FileEntry.parse(entry));
  }

  private add(entry: FileEntry): FileEntry {
    if (this.committed) throw new InternalError('snapshot already committed');
    this.files.push(entry);
    return entry;
  }

  /**
   * Checks with `stat` that every file the manifest will list is stored with the size written.
   * A file deleted meanwhile (a prune that took the snapshot for abandoned, a lifecycle rule, an
   * operator) would otherwise be committed into a "complete" snapshot that fails verify.
   */
  async checkFiles(): Promise<void> {
    const problems: string[] = [];
    const queue = [...this.files];
    const worker = async (): Promise<void> => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        if (this.signal?.aborted) return;
        const s = await this.storage.stat(f.path);
        if (!s) problems.push(`${f.path} is missing`);
        else if (s.bytes !== f.bytes)
          problems.push(`${f.path} has ${s.bytes} bytes, ${f.bytes} were written`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, queue.length) }, worker));
    if (this.signal?.aborted) throw new InterruptedError();
    if (problems.length > 0) {
      problems.sort();
      throw new StorageError(
        'SNAPSHOT_FILES_MISSING',
        `not committing ${this.location}: ${problems.length} of its files are not as written (${problems[0]}); the snapshot stays incomplete`,
        { location: this.location, problems: problems.slice(0, 20) },
      );
    }
  }

  /** Writes the manifest, after checking every file is there. Call after every file is written. */
  async commit(draft: ManifestDraft): Promise<Manifest> {
    const manifest = Manifest.parse({
      formatVersion: this.encryption ? FORMAT_VERSION : FORMAT_VERSION_PLAIN,
      ...draft,
      ...(this.encryption
        ? { encryption: { scheme: AGE_SCHEME, recipients: this.encryption.recipients } }
        : {}),
      files: [...this.files].sort((a, b) => a.path.localeCompare(b.path)),
    });
    await this.checkFiles();
    await this.storage.put(MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`, this.signal);
    this.committed = true;
    return manifest;
  }
}
