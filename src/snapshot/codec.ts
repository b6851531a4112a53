import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';

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

/** Splits a byte stream into lines (UTF-8), without holding more than one chunk. */
export async function* lines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of source) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      if (nl > start) yield text.slice(start, nl);
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.end();
  if (rest.length > 0) yield rest;
}

/** Decodes gzip'd JSON Lines into parsed values. */
export async function* gunzipJsonLines(source: Readable): AsyncGenerator<unknown> {
  const gunzip = source.pipe(createGunzip());
  source.on('error', (e) => gunzip.destroy(e));
  for await (const line of lines(gunzip)) yield JSON.parse(line);
}
