import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { SnapshotInvalidError, StorageError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import {
  DigestStream,
  gunzipBounded,
  gunzipJsonLines,
  inflateLimit,
  lines,
  MAX_DOCUMENT_BYTES,
  MAX_MANIFEST_BYTES,
  parseSnapshotJson,
  readBounded,
  readSmallObject,
} from './codec.js';
import { DuplicateNames } from './duplicates.js';
import {
  type FileEntry,
  type FileKind,
  FORMAT_VERSION,
  FORMAT_VERSIONS,
  Manifest,
  MANIFEST_FILE,
  RESERVED_DIRS,
  structuralProblems,
} from './format.js';
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
  let parsedJson;
  try {
    parsedJson = parseSnapshotJson(text);
  } catch (e) {
    if (e instanceof SnapshotInvalidError)
      throw new SnapshotInvalidError(`${location}: manifest.json: ${e.message}`, e.problems);
    throw e;
  }
  if (!parsedJson.ok) {
    throw new SnapshotInvalidError(`${location}: manifest.json is not valid JSON`, [
      'manifest.json is not JSON',
    ]);
  }
  const raw = parsedJson.value;
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
        await readSmallObject(
          storage,
          MANIFEST_FILE,
          MAX_MANIFEST_BYTES,
          `${storage.location}: manifest.json`,
        )
      ).toString('utf8');
    } catch (e) {
      if (e instanceof StorageError && e.code === 'SYMLINK_REFUSED') throw symlinkInSnapshot(e);
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
    const manifest = parseManifest(text, storage.location);
    await assertNoLinkedDirs(storage);
    return new SnapshotReader(storage, manifest, opts.keyring, opts.erasures);
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

  /** The stored bytes of a file; a symbolic link there makes the snapshot invalid (exit 3). */
  private async stored(path: string): Promise<Readable> {
    try {
      return await this.storage.get(path);
    } catch (e) {
      if (e instanceof StorageError && e.code === 'SYMLINK_REFUSED') throw symlinkInSnapshot(e);
      throw e;
    }
  }

  /** The content of a file: the stored bytes, decrypted when the file is encrypted. */
  private async content(entry: FileEntry): Promise<Readable> {
    const raw = await this.stored(entry.path);
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
    let parsed;
    try {
      parsed = parseSnapshotJson(text);
    } catch (e) {
      if (e instanceof SnapshotInvalidError)
        throw new SnapshotInvalidError(
          `${this.location}: ${entry.path}: ${e.message}`,
          e.problems.map((p) => `${entry.path}: ${p}`),
        );
      throw e;
    }
    // The parser's message quotes the text: never shown.
    if (!parsed.ok)
      throw new SnapshotInvalidError(`${this.location}: ${entry.path} is not valid JSON`, [
        `${entry.path}: not JSON`,
      ]);
    const r = schema.safeParse(parsed.value);
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

  /**
   * The records of one JSON Lines file of the manifest, validated (erased users left out; they
   * still count against the manifest's record count).
   */
  async *fileRecords<S extends z.ZodType>(entry: FileEntry, schema: S): AsyncGenerator<z.infer<S>> {
    const kind = entry.kind;
    let line = 0;
    // Inflating stops at the part's recorded decompressed size (a bomb fails at once).
    const decoded = gunzipJsonLines(await this.content(entry), undefined, {
      maxInflated: inflateLimit(entry),
    });
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
        if (next.done) {
          // Counts are always checked, whoever reads: not only verify.
          if (line !== entry.records)
            throw new SnapshotInvalidError(
              `${this.location}: ${entry.path} holds ${line} records, the manifest says ${entry.records}`,
              [`${entry.path}: ${line} records, manifest says ${entry.records}`],
            );
          break;
        }
        const raw = next.value;
        line++;
        if (line > entry.records)
          throw new SnapshotInvalidError(
            `${this.location}: ${entry.path} holds more records than the manifest's ${entry.records}`,
            [`${entry.path}: more than ${entry.records} records`],
          );
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
   * Recomputes sha256, size and record count of every file against the manifest, and checks
   * the manifest's structure (structuralProblems). For an encrypted snapshot without a key, the
   * stored (encrypted) bytes only; with the key (a KeyMismatchError when it is not one of the
   * snapshot's), the decrypted content too: every JSON Lines record parses (no blank line, no
   * nesting beyond MAX_JSON_DEPTH), a part inflates to its recorded size and no byte follows its
   * gzip data, documents parse and hold their recorded number of items, and no username occurs
   * twice (DuplicateNames: 8 bytes of memory a user).
   */
  async verify(): Promise<VerifyResult> {
    const problems: string[] = structuralProblems(this.manifest);
    let records = 0;
    let bytes = 0;
    const enc = this.manifest.encryption;
    if (enc && this.keyring) this.assertCanDecrypt();
    const keyring = this.keyring;
    const decrypt =
      enc && keyring
        ? (what: string) => (c: Readable) => keyring.decrypt(c, what, this.location, enc.recipients)
        : undefined;
    const names = new DuplicateNames();
    for (const f of this.manifest.files) {
      try {
        const got = await digestFile(
          await this.stored(f.path),
          f,
          f.encryption ? decrypt?.(f.path) : undefined,
          f.kind === 'users' ? (u) => names.add(u) : undefined,
        );
        bytes += got.bytes;
        records += got.records;
        if (got.bytes !== f.bytes)
          problems.push(`${f.path}: ${got.bytes} bytes, manifest says ${f.bytes}`);
        if (got.sha256 !== f.sha256) problems.push(`${f.path}: sha256 mismatch`);
        // A document whose stored bytes are already wrong needs no second word on its content.
        if (got.decodeError !== undefined && (f.encoding !== 'json' || got.sha256 === f.sha256)) {
          problems.push(
            f.encryption
              ? `${f.path}: does not decrypt and decode (${got.decodeError})`
              : f.encoding === 'json'
                ? `${f.path}: not a valid JSON document (${got.decodeError})`
                : `${f.path}: not valid gzip'd JSON Lines (${got.decodeError})`,
          );
        } else if (got.checked && got.decodeError === undefined) {
          if (got.records !== f.records)
            problems.push(`${f.path}: ${got.records} records, manifest says ${f.records}`);
          if (
            got.records === f.records &&
            f.inflatedBytes !== undefined &&
            got.inflated !== undefined &&
            got.inflated !== f.inflatedBytes
          )
            problems.push(
              `${f.path}: inflates to ${got.inflated} bytes, manifest says ${f.inflatedBytes}`,
            );
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
        else if (e instanceof SnapshotInvalidError && e.code === 'SNAPSHOT_INVALID')
          problems.push(e.message);
        else problems.push(`${f.path}: unreadable (${(e as Error).message})`);
      }
    }
    // Two records of one username: restore would write the user twice (and count it twice).
    if (problems.length === 0 && names.count > 0) {
      const dup = await names.duplicates(() => this.usernames());
      if (dup > 0) problems.push(`users: ${dup} username(s) occur more than once across the parts`);
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

  /** Every username of the users parts, in order (a second pass for DuplicateNames). */
  private async *usernames(): AsyncGenerator<string> {
    for await (const u of this.records('users', UsernameOnly)) yield u.Username;
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

/**
 * A snapshot whose `locks/` or `progress/` is a symbolic link (planted: the tool never makes
 * one) is refused at open (exit 3), by every reader, whether or not it would write there.
 */
async function assertNoLinkedDirs(storage: Storage): Promise<void> {
  for (const dir of RESERVED_DIRS) {
    try {
      for await (const _ of storage.list(dir)) break;
    } catch (e) {
      if (e instanceof StorageError && e.code === 'SYMLINK_REFUSED')
        throw new SnapshotInvalidError(
          `${storage.location}: ${dir}/ is a symbolic link (or lies under one); a snapshot holds no links`,
          [`${dir}/ is a symbolic link`],
          { location: storage.location },
        );
      throw e;
    }
  }
}

async function firstEntry(storage: Storage): Promise<boolean> {
  for await (const _ of storage.list()) return true;
  return false;
}

/** What verify needs of a user record: its username. */
const UsernameOnly = z.looseObject({ Username: z.string().min(1) });

/** The snapshot holds a symbolic link where a file should be (exit 3, naming it). */
function symlinkInSnapshot(e: StorageError): SnapshotInvalidError {
  return new SnapshotInvalidError(
    `${e.message}; a snapshot holds no links (copy it with the files themselves)`,
    ['symbolic link in the snapshot'],
    { path: String(e.context.path ?? '') },
  );
}

/**
 * sha256 and size of the stored bytes, plus the record count (JSON Lines: lines, each parsed;
 * a document: its items) and, for a part, the decompressed size; for an encrypted file read with
 * a key, the size and sha256 of the decrypted content. The digest is always computed over every
 * stored byte, so a corrupted part reports a checksum mismatch even when it no longer decrypts
 * or decompresses; a decoding failure is reported beside it.
 */
async function digestFile(
  stream: Readable,
  entry: FileEntry,
  decrypt?: (ciphertext: Readable) => Promise<Readable>,
  onUsername?: (name: string) => void,
): Promise<{
  bytes: number;
  sha256: string;
  records: number;
  checked: boolean;
  inflated?: number;
  plaintext?: { bytes: number; sha256: string };
  decodeError?: string;
}> {
  const hash = createHash('sha256');
  let bytes = 0;
  const checked = !entry.encryption || decrypt !== undefined;
  if (!checked) {
    for await (const c of stream) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
      hash.update(b);
      bytes += b.length;
    }
    return { bytes, sha256: hash.digest('hex'), records: 0, checked };
  }
  // The stored bytes go to `sink` while they are hashed; a consumer decrypts (when encrypted),
  // hashes the content, and decodes it. Once the consumer ends — done or failed — hashing goes
  // on alone: a wait for `drain` also ends when the consumer does (it may stop reading before
  // the end, e.g. zlib at the end of the gzip data), so the producer never waits forever.
  const sink = new PassThrough();
  sink.on('error', () => undefined);
  let records = 0;
  let inflated: number | undefined;
  let decodeError: string | undefined;
  let keyError: unknown;
  let plain: DigestStream | undefined;
  let consumerDone = false;
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
        const limit = inflateLimit(entry);
        const text = gunzipBounded(content, limit);
        let n = 0;
        const counted = (async function* () {
          for await (const d of text) {
            n += (d as Buffer).length;
            yield d as Buffer;
          }
        })();
        for await (const line of lines(counted, undefined, { refuseBlank: true })) {
          records++;
          if (records > entry.records)
            throw new Error(`more than the manifest's ${entry.records} records`);
          const parsed = parseSnapshotJson(line);
          if (!parsed.ok) throw new Error(`line ${records} is not valid JSON`);
          if (onUsername) {
            const u = UsernameOnly.safeParse(parsed.value);
            if (!u.success) throw new Error(`line ${records} has no Username`);
            onUsername(u.data.Username);
          }
        }
        inflated = n;
      } else {
        const text = await readBounded(content, MAX_DOCUMENT_BYTES, entry.path);
        const parsed = parseSnapshotJson(text.toString('utf8'));
        if (!parsed.ok) throw new Error('not valid JSON');
        records = Array.isArray(parsed.value) ? parsed.value.length : 1;
      }
    } catch (e) {
      if (e instanceof KeyMismatchError) keyError = e;
      decodeError = e instanceof Error ? e.message : String(e);
    } finally {
      consumerDone = true;
      // Nothing reads the rest: the producer hashes it alone.
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
      // The consumer may have ended before these listeners were added.
      if (consumerDone || sink.destroyed) done();
    });
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    hash.update(b);
    bytes += b.length;
    if (consumerDone || sink.destroyed) continue;
    if (!sink.write(b)) await Promise.race([writable(), consuming]);
  }
  if (!sink.destroyed) sink.end();
  await consuming;
  if (keyError) throw keyError;
  return {
    bytes,
    sha256: hash.digest('hex'),
    records,
    checked,
    ...(inflated !== undefined ? { inflated } : {}),
    ...(plain && decodeError === undefined
      ? { plaintext: { bytes: plain.bytes, sha256: plain.digest() } }
      : {}),
    ...(decodeError !== undefined ? { decodeError } : {}),
  };
}
