import { createHash } from 'node:crypto';

/**
 * Finds usernames that occur more than once in a stream of millions, in bounded memory: each
 * username is kept as the first 8 bytes of its SHA-256 in a growable BigUint64Array — 8 bytes a
 * user, 8 MiB per million users (16 MiB at most while the array doubles) — sorted once at the
 * end. Equal digests are confirmed on the usernames themselves by a second pass over the
 * stream that looks only at the (rare) colliding digests, so two different names that share a
 * digest are never reported as a duplicate.
 */
export class DuplicateNames {
  private digests = new BigUint64Array(1024);
  private n = 0;

  static digest(name: string): bigint {
    return createHash('sha256').update(name, 'utf8').digest().readBigUInt64BE(0);
  }

  add(name: string): void {
    if (this.n === this.digests.length) {
      const next = new BigUint64Array(this.digests.length * 2);
      next.set(this.digests);
      this.digests = next;
    }
    this.digests[this.n++] = DuplicateNames.digest(name);
  }

  get count(): number {
    return this.n;
  }

  /** Digests seen more than once (candidates; confirm with `confirm`). */
  collisions(): Set<bigint> {
    const sorted = this.digests.subarray(0, this.n).sort();
    const out = new Set<bigint>();
    for (let i = 1; i < sorted.length; i++) {
      const d = sorted[i] as bigint;
      if (d === sorted[i - 1]) out.add(d);
    }
    return out;
  }

  /**
   * The number of usernames that occur more than once, reading `names` again (the same stream
   * as was added) when digests collide; 0 without reading when none do.
   */
  async duplicates(names: () => AsyncIterable<string>): Promise<number> {
    const candidates = this.collisions();
    if (candidates.size === 0) return 0;
    const seen = new Set<string>();
    const dup = new Set<string>();
    for await (const name of names()) {
      if (!candidates.has(DuplicateNames.digest(name))) continue;
      if (seen.has(name)) dup.add(name);
      else seen.add(name);
    }
    return dup.size;
  }
}
