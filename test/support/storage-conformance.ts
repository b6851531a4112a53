import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/core/errors.js';
import { requireOrSkip } from './env.js';
import type { Storage, StorageEntry } from '../../src/storage/storage.js';

/**
 * The behaviour every Storage implementation must have (src/storage/storage.ts). Run it with a
 * factory that gives a fresh, empty storage for each test.
 */
export interface ConformanceTarget {
  storage: Storage;
  cleanup?: () => Promise<void>;
  /**
   * A storage and key whose delete fails for a real reason of that backend (a read-only file
   * system, a missing bucket); absent where nothing can make a delete fail (memory).
   */
  failingDelete?: () => Promise<
    { storage: Storage; key: string; cleanup?: () => Promise<void> } | undefined
  >;
  /**
   * What the backend holds under the storage's root besides its objects (empty directories,
   * as root-relative paths); absent where objects leave nothing behind (S3, memory).
   */
  residue?: () => Promise<string[]>;
}

/**
 * An endless body that produces 16 KiB per tick and counts what it produced, so a test can
 * abort a put while the backend is still reading (as a backup's users part would be).
 */
export function endlessBody(): Readable & { produced: () => number } {
  let produced = 0;
  const body = new Readable({
    read() {
      setTimeout(() => {
        if (this.destroyed) return;
        produced += 16 * 1024;
        this.push(randomBytes(16 * 1024));
      }, 1);
    },
  });
  return Object.assign(body, { produced: () => produced });
}

async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

export async function getText(storage: Storage, key: string): Promise<string> {
  return (await readAll(await storage.get(key))).toString('utf8');
}

export async function listAll(storage: Storage, prefix?: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const e of storage.list(prefix)) out.set(e.key, e.bytes);
  return out;
}

/** A body that yields some bytes and then fails, like a Cognito paginator that errors. */
export function failingBody(afterBytes: number, error: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= afterBytes) {
        this.destroy(error);
        return;
      }
      const n = Math.min(16 * 1024, afterBytes - sent);
      sent += n;
      this.push(Buffer.alloc(n, 0x61));
    },
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export function storageConformance(
  name: string,
  make: () => Promise<ConformanceTarget>,
  opts: {
    /** false where nothing can make a delete fail (memory): that test is not registered. */
    deleteCanFail?: boolean;
  } = {},
): void {
  describe(`Storage conformance: ${name}`, () => {
    let target: ConformanceTarget;
    let storage: Storage;

    beforeEach(async () => {
      target = await make();
      storage = target.storage;
    });
    afterEach(async () => {
      await target.cleanup?.();
    });

    it('puts strings, byte arrays and streams and gets the same bytes back', async () => {
      await storage.put('a.txt', 'héllo wörld ✓ 山田\n');
      await storage.put('dir/b.bin', new Uint8Array([0, 1, 2, 255]));
      await storage.put('dir/sub/c.txt', Readable.from([Buffer.from('one '), Buffer.from('two')]));

      expect(await getText(storage, 'a.txt')).toBe('héllo wörld ✓ 山田\n');
      expect([...(await readAll(await storage.get('dir/b.bin')))]).toEqual([0, 1, 2, 255]);
      expect(await getText(storage, 'dir/sub/c.txt')).toBe('one two');
    });

    it('streams a large body intact', async () => {
      const big = randomBytes(3 * 1024 * 1024 + 17);
      const chunks = Array.from({ length: Math.ceil(big.length / 65536) }, (_, i) =>
        big.subarray(i * 65536, (i + 1) * 65536),
      );
      await storage.put('big/blob', Readable.from(chunks));
      const back = await readAll(await storage.get('big/blob'));
      expect(back.length).toBe(big.length);
      expect(sha(back)).toBe(sha(big));
      expect((await listAll(storage)).get('big/blob')).toBe(big.length);
    });

    it('replaces an existing object on put', async () => {
      await storage.put('k', 'first version, longer');
      await storage.put('k', 'second');
      expect(await getText(storage, 'k')).toBe('second');
      expect((await listAll(storage)).get('k')).toBe(6);
    });

    it('reports existence of objects only', async () => {
      await storage.put('x/y.json', '{}');
      expect(await storage.exists('x/y.json')).toBe(true);
      expect(await storage.exists('x/nope.json')).toBe(false);
      expect(await storage.exists('nothing-here')).toBe(false);
      // A "directory" is not an object.
      expect(await storage.exists('x')).toBe(false);
    });

    it('fails get of a missing key with StorageError NOT_FOUND (exit 8)', async () => {
      const err = await storage.get('missing/key.json').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).code).toBe('NOT_FOUND');
      expect((err as StorageError).exitCode).toBe(8);
      expect((err as StorageError).message).toMatch(/missing\/key\.json/);
    });

    it('lists every object recursively with its size, and only those under a prefix', async () => {
      await storage.put('p/one.txt', '1');
      await storage.put('p/deep/er/two.txt', '22');
      await storage.put('pq/three.txt', '333');
      await storage.put('top.txt', '4444');

      expect(await listAll(storage)).toEqual(
        new Map([
          ['p/one.txt', 1],
          ['p/deep/er/two.txt', 2],
          ['pq/three.txt', 3],
          ['top.txt', 4],
        ]),
      );
      // 'p' must not match 'pq/…': prefixes are path segments.
      expect(await listAll(storage, 'p')).toEqual(
        new Map([
          ['p/one.txt', 1],
          ['p/deep/er/two.txt', 2],
        ]),
      );
      expect(await listAll(storage, 'p/deep')).toEqual(new Map([['p/deep/er/two.txt', 2]]));
      expect(await listAll(storage, 'absent')).toEqual(new Map());
      expect(await listAll(storage, 'top.txt')).toEqual(new Map());
    });

    it('lists nothing in an empty storage', async () => {
      expect(await listAll(storage)).toEqual(new Map());
    });

    it('deletes objects; deleting a missing key is not an error', async () => {
      await storage.put('d/1', 'a');
      await storage.put('d/2', 'b');
      await storage.delete('d/1');
      expect(await storage.exists('d/1')).toBe(false);
      expect(await storage.exists('d/2')).toBe(true);
      await expect(storage.delete('d/never-was')).resolves.toBeUndefined();
      expect([...(await listAll(storage)).keys()]).toEqual(['d/2']);
    });

    it('child storages are rooted at their prefix and share the objects', async () => {
      const child = storage.child('pool-1/snap-a');
      expect(child.location).not.toBe(storage.location);
      expect(child.location).toContain('pool-1/snap-a');
      await child.put('manifest.json', '{"ok":true}');
      await child.put('users/part-00000.jsonl.gz', 'xx');

      expect(await getText(storage, 'pool-1/snap-a/manifest.json')).toBe('{"ok":true}');
      expect(await child.exists('manifest.json')).toBe(true);
      expect(await listAll(child)).toEqual(
        new Map([
          ['manifest.json', 11],
          ['users/part-00000.jsonl.gz', 2],
        ]),
      );
      const grandchild = child.child('users');
      expect(await listAll(grandchild)).toEqual(new Map([['part-00000.jsonl.gz', 2]]));
      await grandchild.delete('part-00000.jsonl.gz');
      expect(await storage.exists('pool-1/snap-a/users/part-00000.jsonl.gz')).toBe(false);

      // A sibling sees none of it.
      expect(await listAll(storage.child('pool-1/snap-b'))).toEqual(new Map());
      const err = await storage
        .child('pool-1/snap-b')
        .get('manifest.json')
        .catch((e: unknown) => e);
      expect((err as StorageError).code).toBe('NOT_FOUND');
    });

    it('a put whose body fails leaves no object behind and rejects', async () => {
      const boom = new Error('source failed mid-stream');
      // With the body's own failure (itself, or as the cause of the storage's error).
      const err = await storage.put('half/written.bin', failingBody(200_000, boom)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(
        err === boom || (err as { cause?: unknown } | undefined)?.cause === boom,
        String(err),
      ).toBe(true);
      expect(await storage.exists('half/written.bin')).toBe(false);
      expect([...(await listAll(storage)).keys()].filter((k) => k.startsWith('half/'))).toEqual([]);
    });

    it('stats objects: size and modification time; undefined when absent', async () => {
      const before = Date.now();
      await storage.put('s/one.json', '12345');
      const st = await storage.stat('s/one.json');
      expect(st?.bytes).toBe(5);
      expect(st?.modified).toBeInstanceOf(Date);
      // Generous margins: S3's clock and second-resolution LastModified, a loaded machine.
      expect(st?.modified?.getTime()).toBeGreaterThan(before - 120_000);
      expect(st?.modified?.getTime()).toBeLessThan(Date.now() + 120_000);
      expect(await storage.stat('s/none.json')).toBeUndefined();
      expect(await storage.stat('s')).toBeUndefined(); // a "directory" is not an object
      expect(await storage.child('s').stat('one.json')).toMatchObject({ bytes: 5 });
    });

    it('lists each object with its modification time', async () => {
      const before = Date.now();
      await storage.put('m/a', 'a');
      await storage.put('m/deep/b', 'bb');
      const seen: StorageEntry[] = [];
      for await (const e of storage.list('m')) seen.push(e);
      expect(seen).toHaveLength(2);
      for (const e of seen) {
        expect(e.modified).toBeInstanceOf(Date);
        expect(e.modified?.getTime()).toBeGreaterThan(before - 120_000);
      }
    });

    it('deleting under a missing key or prefix is not an error; delete then stat is undefined', async () => {
      await storage.put('del/x', 'x');
      await storage.delete('del/x');
      expect(await storage.stat('del/x')).toBeUndefined();
      await expect(storage.child('never/here').delete('x')).resolves.toBeUndefined();
    });

    it('an abort mid-put rejects with the reason and leaves no object and no temporary file', async () => {
      await storage.put('abort/keep.txt', 'unrelated');
      const body = endlessBody();
      const controller = new AbortController();
      const reason = new Error('stopped by the test');
      const put = storage.put('abort/partial.bin', body, controller.signal);
      const settled = put.then(
        () => 'resolved',
        (e: unknown) => e,
      );
      await until(() => body.produced() >= 256 * 1024);
      controller.abort(reason);
      expect(await settled).toBe(reason);
      expect(body.destroyed).toBe(true);
      expect(await storage.exists('abort/partial.bin')).toBe(false);
      // Nothing else either: no `.partial-…` file, no half-written object.
      expect([...(await listAll(storage)).keys()]).toEqual(['abort/keep.txt']);
    });

    it('a put with an already aborted signal writes nothing', async () => {
      const controller = new AbortController();
      const reason = new Error('aborted before');
      controller.abort(reason);
      await expect(storage.put('pre/x.txt', 'data', controller.signal)).rejects.toBe(reason);
      const body = endlessBody();
      await expect(storage.put('pre/y.bin', body, controller.signal)).rejects.toBe(reason);
      expect(await listAll(storage)).toEqual(new Map());
    });

    it('an abort mid-get destroys the stream with the reason', async () => {
      const big = randomBytes(2 * 1024 * 1024);
      await storage.put('read/big.bin', big);
      const controller = new AbortController();
      const reason = new Error('reader stopped');
      const stream = await storage.get('read/big.bin', controller.signal);
      const it = stream[Symbol.asyncIterator]();
      const first = await it.next();
      expect(first.done).toBe(false);
      controller.abort(reason);
      const rest = (async () => {
        for (;;) if ((await it.next()).done) return 'ended';
      })().catch((e: unknown) => e);
      expect(await rest).toBe(reason);
      expect(stream.destroyed).toBe(true);
      // The object is untouched, and a get with an aborted signal rejects at once.
      expect(sha(await readAll(await storage.get('read/big.bin')))).toBe(sha(big));
      await expect(storage.get('read/big.bin', controller.signal)).rejects.toBe(reason);
    });

    // Registered only for backends that can fail a delete (not memory), so nothing is skipped
    // silently; where the machine cannot produce the failure, CI fails (requireOrSkip).
    if (opts.deleteCanFail ?? true)
      it('a delete that fails is a StorageError (exit 8), not a raw error', async (ctx) => {
        if (!target.failingDelete) throw new Error(`${name}: deleteCanFail without failingDelete`);
        const f = await target.failingDelete();
        requireOrSkip(ctx, f !== undefined, 'root with mount rights (a read-only tmpfs)');
        if (!f) return;
        try {
          const err = await f.storage.delete(f.key).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(StorageError);
          expect((err as StorageError).exitCode).toBe(8);
        } finally {
          await f.cleanup?.();
        }
      });

    it('removeEmptyDirs never removes an object and leaves the storage usable', async () => {
      await storage.put('snap/users/part-0.jsonl.gz', 'u');
      await storage.put('snap/locks/lease-1.json', '{}');
      await storage.put('other/manifest.json', 'm');
      await storage.delete('snap/locks/lease-1.json');
      await storage.child('snap/locks').removeEmptyDirs();
      await storage.child('snap').removeEmptyDirs();
      await storage.removeEmptyDirs();
      expect(await listAll(storage)).toEqual(
        new Map([
          ['snap/users/part-0.jsonl.gz', 1],
          ['other/manifest.json', 1],
        ]),
      );
      expect(await getText(storage, 'snap/users/part-0.jsonl.gz')).toBe('u');
      // A swept prefix takes objects again; sweeping a prefix that never existed is no error.
      await storage.put('snap/locks/lease-2.json', '{}');
      expect(await getText(storage, 'snap/locks/lease-2.json')).toBe('{}');
      await storage.child('never/was').removeEmptyDirs();
    });

    it('removeEmptyDirs leaves nothing of deleted objects behind', async () => {
      await storage.put('gone/locks/lease.json', '{}');
      await storage.put('gone/users/part-0.jsonl.gz', 'u');
      await storage.put('kept/locks/lease.json', '{}');
      await storage.put('kept/manifest.json', 'm');
      for (const k of ['gone/locks/lease.json', 'gone/users/part-0.jsonl.gz'])
        await storage.delete(k);
      await storage.delete('kept/locks/lease.json');
      await storage.child('gone').removeEmptyDirs();
      await storage.child('kept/locks').removeEmptyDirs();
      expect(await listAll(storage)).toEqual(new Map([['kept/manifest.json', 1]]));
      expect((await target.residue?.()) ?? []).toEqual([]);
      // Everything deleted and swept from the root: not even the root is left over.
      await storage.delete('kept/manifest.json');
      await storage.removeEmptyDirs();
      expect(await listAll(storage)).toEqual(new Map());
      expect((await target.residue?.()) ?? []).toEqual([]);
    });

    it('refuses keys that would escape the root', async () => {
      await expect(storage.put('../escape', 'x')).rejects.toThrow(/unsafe storage key/);
      await expect(storage.put('a/../../escape', 'x')).rejects.toThrow(/unsafe storage key/);
      expect(() => storage.child('..')).toThrow(/unsafe storage key/);
    });
  });
}
