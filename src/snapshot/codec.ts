import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { SnapshotInvalidError } from '../core/errors.js';

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

/** A gzip'd JSON Lines byte stream of `records`. */
export function gzipJsonLines<T>(
  records: AsyncIterable<T> | Iterable<T>,
  counter: { records: number },
): Readable {
  const source = Readable.from(encodeJsonLines(records, counter));
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

/** The longest JSON document (pool.json, groups.json, clients.json, manifest.json) read whole. */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

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
): AsyncGenerator<string> {
  // The current line's pieces (before its newline), and their total length in bytes.
  let pieces: Buffer[] = [];
  let pending = 0;
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const len = pending + (nl - start);
      if (len > maxBytes) throw new RecordTooLongError(maxBytes);
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
): AsyncGenerator<unknown> {
  const gunzip = source.pipe(createGunzip());
  source.on('error', (e) => gunzip.destroy(e));
  let n = 0;
  try {
    for await (const line of lines(gunzip, maxBytes)) {
      n++;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new SnapshotInvalidError(`line ${n} is not valid JSON`, [`line ${n}: not JSON`]);
      }
      yield value;
    }
  } finally {
    // Stop decompressing (a gzip bomb, an early error): nothing reads the rest.
    if (!gunzip.destroyed) gunzip.destroy();
    if (!source.destroyed) source.destroy();
  }
}
