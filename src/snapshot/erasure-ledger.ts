import { createHash } from 'node:crypto';
import { StorageError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import { POOL_DIR_PATTERN, SNAPSHOT_ID_PATTERN } from './catalog.js';

/**
 * The erasure ledger of one pool's backups (`cognito-vault forget`): which users were erased on
 * purpose, so that no restore (selective or whole) and no export brings them back, even from a
 * snapshot taken before the erasure or one a rewrite could not reach.
 *
 * It lives at the pool's root, `<root>/<userPoolId>/erasure-ledger.jsonl`, next to the pool's
 * snapshots (the catalog lists only `<pool>/<snapshot>/…`, so it is never taken for a
 * snapshot, and prune never deletes it). One JSON line per identifier:
 * `{"h": "<sha256 hex>", "k": "username" | "sub", "at": "<ISO time>"}` — keyed by a hash of the
 * pool id, the kind and the value: no clear username, sub or email is stored. (A hash of a
 * guessable identifier can be confirmed by whoever holds the ledger and guesses it; the ledger
 * says no more than that.)
 */
export const ERASURE_LEDGER_FILE = 'erasure-ledger.jsonl';

export type ErasureKey = 'username' | 'sub';

export interface ErasureEntry {
  h: string;
  k: ErasureKey;
  at: string;
}

export function erasureHash(userPoolId: string, kind: ErasureKey, value: string): string {
  return createHash('sha256')
    .update(`cognito-vault erasure v1\u0000${userPoolId}\u0000${kind}\u0000${value}`)
    .digest('hex');
}

async function readText(storage: Storage, key: string): Promise<string | undefined> {
  let stream;
  try {
    stream = await storage.get(key);
  } catch (e) {
    if (e instanceof StorageError && e.code === 'NOT_FOUND') return undefined;
    throw e;
  }
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks).toString('utf8');
}

export class ErasureLedger {
  private readonly hashes = new Set<string>();
  private readonly entries: ErasureEntry[] = [];
  /** Distinct users found erased by `has` (the result's count). */
  private readonly hits = new Set<string>();

  private constructor(
    /** Storage rooted at the pool's directory (`<root>/<userPoolId>`). */
    readonly poolDir: Storage,
    readonly userPoolId: string,
  ) {}

  /** Reads the ledger of a pool (empty when there is none). */
  static async read(poolDir: Storage, userPoolId: string): Promise<ErasureLedger> {
    const ledger = new ErasureLedger(poolDir, userPoolId);
    const text = await readText(poolDir, ERASURE_LEDGER_FILE);
    for (const line of (text ?? '').split('\n')) {
      if (!line.trim()) continue;
      let e: ErasureEntry;
      try {
        e = JSON.parse(line) as ErasureEntry;
      } catch {
        // A torn last line: the erasure it recorded is written again by `forget`'s re-run.
        continue;
      }
      if (typeof e.h === 'string' && /^[0-9a-f]{64}$/.test(e.h)) {
        ledger.hashes.add(e.h);
        ledger.entries.push(e);
      }
    }
    return ledger;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Whether a user (by username or sub) is erased. */
  has(username: string, sub: string | undefined): boolean {
    const erased =
      this.hashes.has(erasureHash(this.userPoolId, 'username', username)) ||
      (sub !== undefined && this.hashes.has(erasureHash(this.userPoolId, 'sub', sub)));
    if (erased) this.hits.add(username);
    return erased;
  }

  /** Users `has` found erased so far. */
  get erasedSeen(): number {
    return this.hits.size;
  }

  /**
   * Records an identifier (no-op when it is there). The whole ledger is written again (one
   * object, replaced whole: a reader sees the old or the new ledger, never half of one).
   */
  async record(kind: ErasureKey, value: string, at: Date): Promise<boolean> {
    const h = erasureHash(this.userPoolId, kind, value);
    if (this.hashes.has(h)) return false;
    this.hashes.add(h);
    this.entries.push({ h, k: kind, at: at.toISOString() });
    await this.poolDir.put(
      ERASURE_LEDGER_FILE,
      this.entries.map((e) => JSON.stringify(e)).join('\n') + '\n',
    );
    return true;
  }
}

/**
 * The pool directory of a snapshot location (`<root>/<userPoolId>/<snapshotId>` →
 * `<root>/<userPoolId>`), when its last two parts are named like a pool and a snapshot;
 * undefined otherwise (a snapshot moved elsewhere has no ledger).
 */
export function poolDirOf(
  snapshotLocation: string,
): { dir: string; userPoolId: string } | undefined {
  const trimmed = snapshotLocation.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  if (cut <= 0) return undefined;
  if (!SNAPSHOT_ID_PATTERN.test(trimmed.slice(cut + 1))) return undefined;
  const parent = trimmed.slice(0, cut);
  const name = parent.slice(parent.lastIndexOf('/') + 1);
  return POOL_DIR_PATTERN.test(name) ? { dir: parent, userPoolId: name } : undefined;
}
