import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { SnapshotInvalidError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';

/** Passes bytes through while computing their sha256 and length. */
export class DigestStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

const BATCH_BYTES = 64 * 1024;

/** Encodes records as JSON Lines, batched into ~64 KiB string chunks, counting records. */
export async function* encodeJsonLines<T>(
  records: AsyncIterable<T> | Iterable<T>,
  counter: { records: number },
): AsyncGenerator<string> {
  let buf = '';
  for await (const r of records) {
    buf += `${JSON.stringify(r)}\n`;
    counter.records++;
    if (buf.length >= BATCH_BYTES) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

/** A gzip'd JSON Lines byte stream of `records`; `counter.bytes` counts the bytes before gzip. */
export function gzipJsonLines<T>(
  records: AsyncIterable<T> | Iterable<T>,
  counter: { records: number; bytes?: number },
): Readable {
  const source = Readable.from(
    (async function* () {
      for await (const chunk of encodeJsonLines(records, counter)) {
        counter.bytes = (counter.bytes ?? 0) + Buffer.byteLength(chunk);
        yield chunk;
      }
    })(),
  );
  const gzip = createGzip({ level: 6 });
  // .pipe() does not forward errors: a failing record source (a Cognito call that fails, or the
  // run being aborted) must fail the gzip stream, not crash the process as an unhandled 'error'.
  source.on('error', (e) => gzip.destroy(e));
  gzip.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  return source.pipe(gzip);
}

/**
 * The longest JSON Lines record a reader accepts, in bytes. The largest legal Cognito user is
 * far below it: 50 custom attributes of 2048 characters plus the standard ones, each character
 * at most 4 bytes of UTF-8 and JSON escaping (6 bytes for a control character) — under 1 MiB.
 * A longer line is a corrupt or hostile snapshot and fails at once instead of being buffered.
 */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** The longest JSON document (pool.json, groups.json, clients.json) read whole. */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

/**
 * The longest manifest.json read: a manifest lists a few documents and the users and
 * memberships parts (256 shards × a few parts each at most, ~400 bytes an entry): 16 MiB is
 * over 40,000 entries. Checked by size before a byte is read.
 */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** The longest lease (a few hundred bytes as written). */
export const MAX_LEASE_BYTES = 64 * 1024;

/**
 * How deep JSON from a snapshot may nest (objects and arrays). Cognito's deepest documents
 * (a managed login style's settings) nest about a dozen levels; 100,000 levels would overflow
 * the stack of any recursive walk. Checked iteratively right after parsing.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * A users or memberships part without a recorded decompressed size (snapshots written before
 * `inflatedBytes` was recorded) may inflate to at most this many bytes per stored byte, and
 * never less than MIN_INFLATE_CAP_BYTES. Real parts compress 5 to 20 times; a gzip bomb ~1000.
 */
export const LEGACY_INFLATE_RATIO = 64;
export const MIN_INFLATE_CAP_BYTES = 64 * 1024 * 1024;

/** The decompressed-size bound of a part: the recorded size, or the legacy cap. */
export function inflateLimit(entry: {
  bytes: number;
  inflatedBytes?: number | undefined;
  plaintext?: { bytes: number } | undefined;
}): number {
  if (entry.inflatedBytes !== undefined) return entry.inflatedBytes;
  const stored = entry.plaintext?.bytes ?? entry.bytes;
  return Math.max(MIN_INFLATE_CAP_BYTES, stored * LEGACY_INFLATE_RATIO);
}

/** A snapshot's JSON nests deeper than MAX_JSON_DEPTH (exit 3). */
export class JsonTooDeepError extends SnapshotInvalidError {
  constructor(limit: number) {
    super(`JSON nested deeper than ${limit} levels`, [`nested deeper than ${limit} levels`]);
  }
}

/**
 * Throws JsonTooDeepError when `value` nests deeper than `limit`. Recursive, but never deeper
 * than `limit` + 1 calls: the walk stops at the first level past the limit, however deep the
 * value goes (a record nesting 100,000 levels costs 129 frames). No allocation per level: this
 * runs on every record read.
 */
export function assertJsonDepth(value: unknown, limit = MAX_JSON_DEPTH): void {
  if (value !== null && typeof value === 'object') walkDepth(value, 1, limit);
}

function walkDepth(v: object, depth: number, limit: number): void {
  if (depth > limit) throw new JsonTooDeepError(limit);
  if (Array.isArray(v)) {
    for (const c of v as unknown[])
      if (c !== null && typeof c === 'object') walkDepth(c, depth + 1, limit);
    return;
  }
  for (const k in v) {
    const c = (v as Record<string, unknown>)[k];
    if (c !== null && typeof c === 'object') walkDepth(c, depth + 1, limit);
  }
}

/**
 * JSON.parse for text from a snapshot: undefined when the text is not JSON (the parser's own
 * message quotes the text, which may be personal data), JsonTooDeepError beyond the depth limit.
 */
export function parseSnapshotJson(text: string): { ok: true; value: unknown } | { ok: false } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  assertJsonDepth(value);
  return { ok: true, value };
}

/**
 * Reads a small object (manifest, lease, progress record) whole, refusing one larger than
 * `maxBytes` by its size before a byte is read (a 2 GiB sparse file costs nothing to stat), and
 * again while reading (it may grow meanwhile). NOT_FOUND when absent.
 */
export async function readSmallObject(
  storage: Storage,
  key: string,
  maxBytes: number,
  what = `${storage.location}: ${key}`,
): Promise<Buffer> {
  const s = await storage.stat(key);
  if (s && s.bytes > maxBytes) {
    throw new SnapshotInvalidError(`${what} is longer than ${maxBytes} bytes`, [
      `${key} longer than ${maxBytes} bytes`,
    ]);
  }
  // No stat (absent, or a link the storage will not follow): `get` says which, and the read
  // is still bounded.
  return readBounded(await storage.get(key), maxBytes, what);
}

/** A record longer than the bound: the snapshot is invalid (exit 3). */
export class RecordTooLongError extends SnapshotInvalidError {
  constructor(limit: number) {
    super(`a JSON Lines record is longer than ${limit} bytes`, [
      `record longer than ${limit} bytes`,
    ]);
  }
}

/**
 * Splits a byte stream into lines (UTF-8), holding at most one chunk plus one line, and never a
 * line longer than `maxBytes`: a longer one throws RecordTooLongError as soon as that many bytes
 * of it have arrived, in time linear in the bytes read (no re-scan of the buffered part).
 */
export async function* lines(
  source: AsyncIterable<Buffer | string>,
  maxBytes = MAX_RECORD_BYTES,
  opts: { refuseBlank?: boolean } = {},
): AsyncGenerator<string> {
  let n = 0;
  // The current line's pieces (before its newline), and their total length in bytes.
  let pieces: Buffer[] = [];
  let pending = 0;
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const len = pending + (nl - start);
      if (len > maxBytes) throw new RecordTooLongError(maxBytes);
      n++;
      if (len === 0 && opts.refuseBlank) throw new BlankLineError(n);
      if (len > 0) {
        const part = chunk.subarray(start, nl);
        const whole = pieces.length ? Buffer.concat([...pieces, part], len) : part;
        yield whole.toString('utf8');
      }
      pieces = [];
      pending = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending += chunk.length - start;
      if (pending > maxBytes) throw new RecordTooLongError(maxBytes);
      // A copy: the source may reuse its buffer.
      pieces.push(Buffer.from(chunk.subarray(start)));
    }
  }
  if (pending > 0) yield Buffer.concat(pieces, pending).toString('utf8');
}

/** A JSON Lines part holds an empty line: refused (a writer never writes one; exit 3). */
export class BlankLineError extends SnapshotInvalidError {
  constructor(line: number) {
    super(`line ${line} is empty`, [`line ${line}: empty`]);
  }
}

/** A gzip member followed by bytes that are not one: refused (exit 3). */
export class TrailingBytesError extends SnapshotInvalidError {
  constructor() {
    super('bytes follow the end of the gzip data', ['trailing bytes after the gzip data']);
  }
}

/** A part inflating beyond its bound (a decompression bomb, or a manifest that lies). */
export class InflateLimitError extends SnapshotInvalidError {
  constructor(limit: number) {
    super(`inflates beyond ${limit} bytes (its recorded or largest allowed size)`, [
      `inflates beyond ${limit} bytes`,
    ]);
  }
}

/**
 * Gunzips `source`, failing (the returned stream errors, the source is destroyed) as soon as
 * the output exceeds `maxBytes` (InflateLimitError) or bytes follow the last gzip member
 * (TrailingBytesError: zlib stops reading there and would otherwise leave the producer waiting
 * for a `drain` that never comes). zlib's own errors (Z_DATA_ERROR…) pass through.
 */
export function gunzipBounded(source: Readable, maxBytes: number): Readable {
  const gunzip = createGunzip();
  const out = new PassThrough();
  let fed = 0;
  let produced = 0;
  let finished = false;
  const fail = (e: Error): void => {
    if (finished) return;
    finished = true;
    out.destroy(e);
    if (!gunzip.destroyed) gunzip.destroy();
    if (!source.destroyed) source.destroy();
  };
  const counted = new Transform({
    transform(chunk: Buffer, _enc, cb): void {
      fed += chunk.length;
      cb(null, chunk);
    },
  });
  source.on('error', (e) => fail(e));
  counted.on('error', (e) => fail(e));
  gunzip.on('error', (e) => fail(e));
  out.on('close', () => {
    if (!finished) {
      finished = true;
      if (!gunzip.destroyed) gunzip.destroy();
      if (!source.destroyed) source.destroy();
    }
  });
  gunzip.on('data', (d: Buffer) => {
    produced += d.length;
    if (produced > maxBytes) return fail(new InflateLimitError(maxBytes));
    if (!out.write(d)) gunzip.pause();
  });
  out.on('drain', () => gunzip.resume());
  gunzip.on('end', () => {
    if (finished) return;
    // zlib ends after the last member it understood: whatever it did not take in, or anything
    // the source still holds, follows the gzip data.
    counted.unpipe(gunzip);
    if (gunzip.bytesWritten < fed) return fail(new TrailingBytesError());
    const rest = (): void => {
      counted.removeAllListeners('data');
      counted.removeAllListeners('end');
    };
    const done = (): void => {
      rest();
      if (finished) return;
      finished = true;
      out.end();
    };
    // Usually the source has ended already (zlib ends after its input did).
    if (counted.readableEnded) return done();
    counted.on('data', (c: Buffer) => {
      if (c.length > 0) {
        rest();
        fail(new TrailingBytesError());
      }
    });
    counted.on('end', done);
    counted.resume();
  });
  source.pipe(counted).pipe(gunzip);
  return out;
}

/** Reads a whole stream, refusing more than `maxBytes` (the stream is destroyed then). */
export async function readBounded(
  stream: Readable,
  maxBytes: number,
  what: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    n += b.length;
    if (n > maxBytes) {
      stream.destroy();
      throw new SnapshotInvalidError(`${what} is longer than ${maxBytes} bytes`, [
        `${what} longer than ${maxBytes} bytes`,
      ]);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, n);
}

/**
 * Decodes gzip'd JSON Lines into parsed values. A line that is not JSON is a
 * SnapshotInvalidError naming its line number only: the parser's own message quotes the line,
 * which is personal data.
 */
export async function* gunzipJsonLines(
  source: Readable,
  maxBytes = MAX_RECORD_BYTES,
  opts: { maxInflated?: number } = {},
): AsyncGenerator<unknown> {
  const gunzip = gunzipBounded(source, opts.maxInflated ?? Number.MAX_SAFE_INTEGER);
  let n = 0;
  try {
    for await (const line of lines(gunzip, maxBytes, { refuseBlank: true })) {
      n++;
      const parsed = parseSnapshotJson(line);
      if (!parsed.ok)
        throw new SnapshotInvalidError(`line ${n} is not valid JSON`, [`line ${n}: not JSON`]);
      yield parsed.value;
    }
  } finally {
    // Stop decompressing (a gzip bomb, an early error): nothing reads the rest.
    if (!gunzip.destroyed) gunzip.destroy();
    if (!source.destroyed) source.destroy();
  }
}
