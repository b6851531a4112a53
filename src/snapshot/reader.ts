import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import { SnapshotInvalidError, StorageError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import { gunzipJsonLines, lines, MAX_DOCUMENT_BYTES, readBounded } from './codec.js';
import {
  type FileEntry,
  type FileKind,
  FORMAT_VERSION,
  Manifest,
  MANIFEST_FILE,
} from './format.js';
import { createGunzip } from 'node:zlib';

export interface VerifyResult {
  ok: boolean;
  problems: string[];
  files: number;
  records: number;
  bytes: number;
}

/** Parses and validates a manifest: the format version is checked before anything else. */
export function parseManifest(text: string, location: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SnapshotInvalidError(`${location}: manifest.json is not valid JSON`, [
      'manifest.json is not JSON',
    ]);
  }
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (version !== FORMAT_VERSION) {
    throw new SnapshotInvalidError(
      `${location}: unsupported snapshot formatVersion ${JSON.stringify(version)} (this cognito-vault reads ${FORMAT_VERSION})`,
      [`formatVersion ${JSON.stringify(version)}`],
      { formatVersion: String(version) },
    );
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `manifest ${i.path.join('.')}: ${i.message}`);
    throw new SnapshotInvalidError(
      `${location}: manifest.json is malformed (${problems[0]})`,
      problems,
    );
  }
  return parsed.data;
}

/** Reads a complete snapshot from a storage rooted at the snapshot directory. */
export class SnapshotReader {
  private constructor(
    readonly storage: Storage,
    readonly manifest: Manifest,
  ) {}

  static async open(storage: Storage): Promise<SnapshotReader> {
    let text: string;
    try {
      text = (
        await readBounded(
          await storage.get(MANIFEST_FILE),
          MAX_DOCUMENT_BYTES,
          `${storage.location}: manifest.json`,
        )
      ).toString('utf8');
    } catch (e) {
      if (e instanceof StorageError && e.code === 'NOT_FOUND') {
        const anything = await firstEntry(storage);
        throw new SnapshotInvalidError(
          anything
            ? `${storage.location} is an incomplete snapshot: it has no manifest.json (the backup did not finish)`
            : `${storage.location} is not a snapshot: nothing there`,
          ['manifest.json missing'],
          { location: storage.location },
        );
      }
      throw e;
    }
    return new SnapshotReader(storage, parseManifest(text, storage.location));
  }

  get location(): string {
    return this.storage.location;
  }

  filesOf(kind: FileKind): FileEntry[] {
    return this.manifest.files.filter((f) => f.kind === kind);
  }

  /** A JSON document, validated by `schema`. */
  async readJson<S extends z.ZodType>(kind: FileKind, schema: S): Promise<z.infer<S>> {
    const entry = this.filesOf(kind)[0];
    if (!entry)
      throw new SnapshotInvalidError(`${this.location}: manifest lists no ${kind} file`, [
        `${kind} missing`,
      ]);
    const text = (
      await readBounded(
        await this.storage.get(entry.path),
        MAX_DOCUMENT_BYTES,
        `${this.location}: ${entry.path}`,
      )
    ).toString('utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      // The parser's message quotes the text: never shown.
      throw new SnapshotInvalidError(`${this.location}: ${entry.path} is not valid JSON`, [
        `${entry.path}: not JSON`,
      ]);
    }
    const r = schema.safeParse(raw);
    if (!r.success) {
      throw new SnapshotInvalidError(`${this.location}: ${entry.path} does not match the format`, [
        ...r.error.issues.slice(0, 5).map((i) => `${entry.path} ${i.path.join('.')}: ${i.message}`),
      ]);
    }
    return r.data;
  }

  /** Streams every record of a JSON Lines kind (users, memberships), validating each. */
  async *records<S extends z.ZodType>(kind: FileKind, schema: S): AsyncGenerator<z.infer<S>> {
    for (const entry of this.filesOf(kind)) {
      let line = 0;
      const decoded = gunzipJsonLines(await this.storage.get(entry.path));
      try {
        for (;;) {
          let next: IteratorResult<unknown>;
          try {
            next = await decoded.next();
          } catch (e) {
            if (e instanceof SnapshotInvalidError) {
              throw new SnapshotInvalidError(
                `${this.location}: ${entry.path}: ${e.message}`,
                e.problems.map((p) => `${entry.path}: ${p}`),
              );
            }
            // A corrupt gzip stream (zlib's message names no data).
            if ((e as NodeJS.ErrnoException)?.code?.startsWith('Z_')) {
              throw new SnapshotInvalidError(
                `${this.location}: ${entry.path} is not valid gzip (${(e as Error).message})`,
                [`${entry.path}: not gzip`],
              );
            }
            throw e;
          }
          if (next.done) break;
          const raw = next.value;
          line++;
          const r = schema.safeParse(raw);
          if (!r.success) {
            throw new SnapshotInvalidError(
              `${this.location}: ${entry.path} line ${line} does not match the format`,
              [
                `${entry.path}:${line} ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`,
              ],
            );
          }
          yield r.data;
        }
      } finally {
        await decoded.return(undefined);
      }
    }
  }

  /** Recomputes sha256, size and record count of every file against the manifest. */
  async verify(): Promise<VerifyResult> {
    const problems: string[] = [];
    let records = 0;
    let bytes = 0;
    for (const f of this.manifest.files) {
      try {
        const got = await digestFile(await this.storage.get(f.path), f.encoding);
        bytes += got.bytes;
        records += got.records;
        if (got.bytes !== f.bytes)
          problems.push(`${f.path}: ${got.bytes} bytes, manifest says ${f.bytes}`);
        if (got.sha256 !== f.sha256) problems.push(`${f.path}: sha256 mismatch`);
        if (got.decodeError !== undefined) {
          problems.push(`${f.path}: not valid gzip'd JSON Lines (${got.decodeError})`);
        } else if (f.encoding === 'jsonl+gzip' && got.records !== f.records) {
          problems.push(`${f.path}: ${got.records} records, manifest says ${f.records}`);
        }
      } catch (e) {
        if (e instanceof StorageError && e.code === 'NOT_FOUND')
          problems.push(`${f.path}: missing`);
        else problems.push(`${f.path}: unreadable (${(e as Error).message})`);
      }
    }
    const counted = (kind: FileKind): number =>
      this.filesOf(kind).reduce((n, f) => n + f.records, 0);
    if (counted('users') !== this.manifest.counts.users) {
      problems.push(
        `users: files hold ${counted('users')}, counts say ${this.manifest.counts.users}`,
      );
    }
    if (counted('memberships') !== this.manifest.counts.memberships) {
      problems.push(
        `memberships: files hold ${counted('memberships')}, counts say ${this.manifest.counts.memberships}`,
      );
    }
    return {
      ok: problems.length === 0,
      problems,
      files: this.manifest.files.length,
      records,
      bytes,
    };
  }

  /** Throws SnapshotInvalidError unless verify() passes. */
  async assertValid(): Promise<void> {
    const v = await this.verify();
    if (!v.ok) {
      throw new SnapshotInvalidError(
        `${this.location} failed verification: ${v.problems[0]}`,
        v.problems,
        {
          problems: v.problems.length,
        },
      );
    }
  }
}

async function firstEntry(storage: Storage): Promise<boolean> {
  for await (const _ of storage.list()) return true;
  return false;
}

/**
 * sha256 and size of the stored bytes, plus, for JSON Lines, the record count. The digest is
 * always computed over every stored byte, so a corrupted part reports a checksum mismatch even
 * when it no longer decompresses; a decoding failure is reported beside it.
 */
async function digestFile(
  stream: Readable,
  encoding: FileEntry['encoding'],
): Promise<{ bytes: number; sha256: string; records: number; decodeError?: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  if (encoding !== 'jsonl+gzip') {
    for await (const c of stream) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
      hash.update(b);
      bytes += b.length;
    }
    return { bytes, sha256: hash.digest('hex'), records: 1 };
  }
  let records = 0;
  let decodeError: string | undefined;
  const gunzip = createGunzip();
  const counting = (async () => {
    try {
      for await (const _ of lines(gunzip)) records++;
    } catch (e) {
      decodeError = (e as Error).message;
    }
  })();
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    hash.update(b);
    bytes += b.length;
    if (decodeError !== undefined || gunzip.destroyed) continue;
    if (!gunzip.write(b)) {
      try {
        await once(gunzip, 'drain');
      } catch {
        // the decoder failed; counting records it, hashing goes on
      }
    }
  }
  if (!gunzip.destroyed) gunzip.end();
  await counting;
  return {
    bytes,
    sha256: hash.digest('hex'),
    records,
    ...(decodeError !== undefined ? { decodeError } : {}),
  };
}
