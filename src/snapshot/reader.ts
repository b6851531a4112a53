import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import { SnapshotInvalidError, StorageError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import { DigestStream, gunzipJsonLines, lines, MAX_DOCUMENT_BYTES, readBounded } from './codec.js';
import {
  type FileEntry,
  type FileKind,
  FORMAT_VERSION,
  FORMAT_VERSIONS,
  Manifest,
  MANIFEST_FILE,
} from './format.js';
import { createGunzip } from 'node:zlib';
import { PassThrough } from 'node:stream';
import { type AgeKeyring, KeyMismatchError, KeyRequiredError } from './age.js';

export interface ReaderOptions {
  /** The keys of `--identity`: needed to read the files of an encrypted snapshot. */
  keyring?: AgeKeyring;
  /**
   * Users erased with `forget` (the pool's erasure ledger, erasure-ledger.ts): their user and
   * membership records are left out of `records`, so no restore or export brings them back.
   */
  erasures?: {
    has(username: string, sub: string | undefined): boolean;
    /** Distinct users `has` found erased (a result's count). */
    readonly erasedSeen?: number;
  };
}

/** Whether a users/memberships record belongs to an erased user. */
function erasedRecord(
  kind: FileKind,
  record: unknown,
  erasures: NonNullable<ReaderOptions['erasures']>,
): boolean {
  if (kind === 'users') {
    const u = record as { Username?: string; Attributes?: { Name: string; Value?: string }[] };
    const sub = u.Attributes?.find((a) => a.Name === 'sub')?.Value;
    return u.Username !== undefined && erasures.has(u.Username, sub);
  }
  if (kind === 'memberships') {
    const m = record as { username?: string };
    return m.username !== undefined && erasures.has(m.username, undefined);
  }
  return false;
}

export interface VerifyResult {
  ok: boolean;
  problems: string[];
  files: number;
  records: number;
  bytes: number;
  /**
   * Encrypted snapshots: `stored-only` when verified without a key (sizes and sha256 of the
   * stored bytes; record counts and content unchecked), `decrypted` with --identity.
   */
  encrypted?: 'stored-only' | 'decrypted';
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
  if (typeof version !== 'number' || !FORMAT_VERSIONS.includes(version)) {
    throw new SnapshotInvalidError(
      `${location}: unsupported snapshot formatVersion ${JSON.stringify(version)} (this cognito-vault reads ${FORMAT_VERSIONS.join(' and ')}, up to ${FORMAT_VERSION})`,
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
    readonly keyring?: AgeKeyring,
    readonly erasures?: ReaderOptions['erasures'],
  ) {}

  static async open(storage: Storage, opts: ReaderOptions = {}): Promise<SnapshotReader> {
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
    return new SnapshotReader(
      storage,
      parseManifest(text, storage.location),
      opts.keyring,
      opts.erasures,
    );
  }

  /** True when the snapshot's files are encrypted (format version 2). */
  get encrypted(): boolean {
    return this.manifest.encryption !== undefined;
  }

  /**
   * Throws, one line and exit 3, when the snapshot is encrypted and no key was given
   * (KEY_REQUIRED) or none of the keys is one of the manifest's recipients (KEY_MISMATCH).
   * Commands that read records call it right after opening, before any other work.
   */
  assertCanDecrypt(): void {
    const enc = this.manifest.encryption;
    if (!enc) return;
    if (!this.keyring) throw new KeyRequiredError(this.location, enc.recipients);
    if (!this.keyring.opens(enc.recipients))
      throw new KeyMismatchError(this.location, enc.recipients, this.keyring);
  }

  /** The content of a file: the stored bytes, decrypted when the file is encrypted. */
  private async content(entry: FileEntry): Promise<Readable> {
    const raw = await this.storage.get(entry.path);
    if (!entry.encryption) return raw;
    const recipients = this.manifest.encryption?.recipients ?? [];
    if (!this.keyring) {
      raw.destroy();
      throw new KeyRequiredError(this.location, recipients);
    }
    return this.keyring.decrypt(raw, entry.path, this.location, recipients);
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
        await this.content(entry),
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
    for (const entry of this.filesOf(kind)) yield* this.fileRecords(entry, schema);
  }

  /** The records of one JSON Lines file of the manifest, validated (erased users left out). */
  async *fileRecords<S extends z.ZodType>(entry: FileEntry, schema: S): AsyncGenerator<z.infer<S>> {
    const kind = entry.kind;
    let line = 0;
    const decoded = gunzipJsonLines(await this.content(entry));
    try {
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await decoded.next();
        } catch (e) {
          // Key and decryption errors name the snapshot and file already.
          if (e instanceof SnapshotInvalidError && e.code !== 'SNAPSHOT_INVALID') throw e;
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
        if (this.erasures && erasedRecord(kind, r.data, this.erasures)) continue;
        yield r.data;
      }
    } finally {
      await decoded.return(undefined);
    }
  }

  /**
   * Recomputes sha256, size and record count of every file against the manifest. For an
   * encrypted snapshot without a key, the stored (encrypted) bytes only; with the key (a
   * KeyMismatchError when it is not one of the snapshot's), the decrypted content too.
   */
  async verify(): Promise<VerifyResult> {
    const problems: string[] = [];
    let records = 0;
    let bytes = 0;
    const enc = this.manifest.encryption;
    if (enc && this.keyring) this.assertCanDecrypt();
    const keyring = this.keyring;
    const decrypt =
      enc && keyring
        ? (what: string) => (c: Readable) => keyring.decrypt(c, what, this.location, enc.recipients)
        : undefined;
    for (const f of this.manifest.files) {
      try {
        const got = await digestFile(
          await this.storage.get(f.path),
          f,
          f.encryption ? decrypt?.(f.path) : undefined,
        );
        bytes += got.bytes;
        records += got.records;
        if (got.bytes !== f.bytes)
          problems.push(`${f.path}: ${got.bytes} bytes, manifest says ${f.bytes}`);
        if (got.sha256 !== f.sha256) problems.push(`${f.path}: sha256 mismatch`);
        if (got.decodeError !== undefined) {
          problems.push(
            f.encryption
              ? `${f.path}: does not decrypt and decode (${got.decodeError})`
              : `${f.path}: not valid gzip'd JSON Lines (${got.decodeError})`,
          );
        } else if (got.checked) {
          if (f.encoding === 'jsonl+gzip' && got.records !== f.records)
            problems.push(`${f.path}: ${got.records} records, manifest says ${f.records}`);
          if (f.plaintext && got.plaintext) {
            if (got.plaintext.bytes !== f.plaintext.bytes)
              problems.push(
                `${f.path}: ${got.plaintext.bytes} bytes decrypted, manifest says ${f.plaintext.bytes}`,
              );
            if (got.plaintext.sha256 !== f.plaintext.sha256)
              problems.push(`${f.path}: sha256 of the decrypted content mismatch`);
          }
        }
      } catch (e) {
        if (e instanceof KeyMismatchError) throw e;
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
      ...(enc ? { encrypted: keyring ? ('decrypted' as const) : ('stored-only' as const) } : {}),
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
 * sha256 and size of the stored bytes, plus, for JSON Lines, the record count, and for an
 * encrypted file read with a key, the size and sha256 of the decrypted content. The digest is
 * always computed over every stored byte, so a corrupted part reports a checksum mismatch even
 * when it no longer decrypts or decompresses; a decoding failure is reported beside it.
 */
async function digestFile(
  stream: Readable,
  entry: FileEntry,
  decrypt?: (ciphertext: Readable) => Promise<Readable>,
): Promise<{
  bytes: number;
  sha256: string;
  records: number;
  checked: boolean;
  plaintext?: { bytes: number; sha256: string };
  decodeError?: string;
}> {
  const hash = createHash('sha256');
  let bytes = 0;
  const checked = !entry.encryption || decrypt !== undefined;
  if (!checked || (!entry.encryption && entry.encoding !== 'jsonl+gzip')) {
    for await (const c of stream) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
      hash.update(b);
      bytes += b.length;
    }
    return { bytes, sha256: hash.digest('hex'), records: checked ? 1 : 0, checked };
  }
  // The stored bytes go to `sink` while they are hashed; a consumer decrypts (when encrypted),
  // hashes the content and counts its lines. Once the consumer fails, hashing goes on alone.
  const sink = new PassThrough();
  sink.on('error', () => undefined);
  let records = 0;
  let decodeError: string | undefined;
  let keyError: unknown;
  let plain: DigestStream | undefined;
  const consuming = (async () => {
    try {
      let content: Readable = sink;
      if (decrypt) {
        const decrypted = await decrypt(sink);
        plain = new DigestStream();
        const p = plain;
        decrypted.on('error', (e) => p.destroy(e));
        content = decrypted.pipe(p);
      }
      if (entry.encoding === 'jsonl+gzip') {
        const gunzip = createGunzip();
        content.on('error', (e) => gunzip.destroy(e));
        for await (const _ of lines(content.pipe(gunzip))) records++;
      } else {
        for await (const _ of content) void _;
        records = 1;
      }
    } catch (e) {
      if (e instanceof KeyMismatchError) keyError = e;
      decodeError = e instanceof Error ? e.message : String(e);
      sink.destroy();
    }
  })();
  const writable = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        sink.off('drain', done);
        sink.off('close', done);
        resolve();
      };
      sink.on('drain', done);
      sink.on('close', done);
    });
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    hash.update(b);
    bytes += b.length;
    if (decodeError !== undefined || sink.destroyed) continue;
    if (!sink.write(b)) await writable();
  }
  if (!sink.destroyed) sink.end();
  await consuming;
  if (keyError) throw keyError;
  return {
    bytes,
    sha256: hash.digest('hex'),
    records,
    checked,
    ...(plain && decodeError === undefined
      ? { plaintext: { bytes: plain.bytes, sha256: plain.digest() } }
      : {}),
    ...(decodeError !== undefined ? { decodeError } : {}),
  };
}
