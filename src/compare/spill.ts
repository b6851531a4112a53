import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip, constants, type Gzip } from 'node:zlib';
import { StorageError } from '../core/errors.js';

/** A private temporary directory (0700) for spill files, removed by `dispose()`. */
export class SpillDir {
  private constructor(readonly dir: string) {}

  static async create(parent = tmpdir()): Promise<SpillDir> {
    try {
      const dir = await mkdtemp(path.join(parent, 'cognito-vault-compare-'));
      await chmod(dir, 0o700);
      return new SpillDir(dir);
    } catch (e) {
      throw new StorageError(
        'UNWRITABLE',
        `cannot create a temporary directory under ${parent} for the comparison (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        { path: parent },
        { cause: e },
      );
    }
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Partition of `key` among `n`: the same on both sides of a comparison. */
export function partitionOf(key: string, n: number): number {
  if (n <= 1) return 0;
  return createHash('sha1').update(key).digest().readUInt32BE(0) % n;
}

const FLUSH_AT = 16 * 1024;

/**
 * A small deflate state (~40 KiB a stream instead of ~260 KiB): a comparison of a million users
 * has a few hundred partition files open at once, and these are temporary files.
 */
const GZIP = { level: constants.Z_BEST_SPEED, windowBits: 12, memLevel: 5 } as const;

interface Part {
  gzip: Gzip;
  file: WriteStream;
  buffered: string;
  done: Promise<unknown>;
}

/**
 * Records hash-partitioned by a key into `n` gzip'd JSON Lines files (mode 0600) in a SpillDir:
 * the way a comparison holds a pool of any size — each partition is later read back alone, so
 * memory follows the partition, not the pool. Writes respect back-pressure.
 */
export class Spill<T> {
  private readonly parts: Part[] = [];
  private closed = false;
  count = 0;

  constructor(
    private readonly dir: SpillDir,
    readonly name: string,
    readonly n: number,
  ) {
    for (let i = 0; i < n; i++) {
      const gzip = createGzip(GZIP);
      const file = createWriteStream(this.fileOf(i), { mode: 0o600 });
      gzip.pipe(file);
      this.parts.push({ gzip, file, buffered: '', done: once(file, 'close') });
    }
  }

  private fileOf(i: number): string {
    return path.join(this.dir.dir, `${this.name}-${String(i).padStart(3, '0')}.jsonl.gz`);
  }

  async add(key: string, record: T): Promise<void> {
    const p = this.parts[partitionOf(key, this.n)] as Part;
    p.buffered += `${JSON.stringify(record)}\n`;
    this.count++;
    if (p.buffered.length >= FLUSH_AT) await this.flush(p);
  }

  private async flush(p: Part): Promise<void> {
    if (!p.buffered) return;
    const chunk = p.buffered;
    p.buffered = '';
    if (!p.gzip.write(chunk)) await once(p.gzip, 'drain');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.parts) {
      await this.flush(p);
      p.gzip.end();
    }
    await Promise.all(this.parts.map((p) => p.done));
  }

  /** Partition `i`'s records, in the order they were added. */
  async *read(i: number): AsyncGenerator<T> {
    const stream = createReadStream(this.fileOf(i)).pipe(createGunzip());
    const decoder = new StringDecoder('utf8');
    let rest = '';
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = rest + decoder.write(chunk);
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line) yield JSON.parse(line) as T;
    }
    rest += decoder.end();
    if (rest) yield JSON.parse(rest) as T;
  }
}
