import { createHash } from 'node:crypto';
import { type SnapshotReader, UserRecord } from '../snapshot/index.js';

/**
 * The deterministic sample of a drill: the N users with the smallest sha256(seed + sub) (the
 * username when a record has no sub). The same snapshot, N and seed give the same users, so
 * successive drills test the same people unless the seed changes; a new seed draws a new
 * sample. One streaming pass; memory holds N entries (a max-heap), not the pool. The same pass
 * counts what the RTO estimate needs of the whole snapshot.
 */
export interface SnapshotCounts {
  users: number;
  /** Federated (EXTERNAL_PROVIDER) users: not created by a default restore. */
  externalProvider: number;
  disabled: number;
  /** Native users with a verified email or phone number ("forgot password" can reach them). */
  verifiedContact: number;
}

export interface Sample {
  /** Usernames sampled; undefined: every user. */
  usernames: Set<string> | undefined;
  counts: SnapshotCounts;
  /** The same counts over the sampled users. */
  sampled: SnapshotCounts;
}

function emptyCounts(): SnapshotCounts {
  return { users: 0, externalProvider: 0, disabled: 0, verifiedContact: 0 };
}

export function hasVerifiedContact(attrs: readonly { Name?: string; Value?: string }[]): boolean {
  const get = (n: string): string | undefined => attrs.find((a) => a.Name === n)?.Value;
  return (
    (get('email_verified') === 'true' && Boolean(get('email'))) ||
    (get('phone_number_verified') === 'true' && Boolean(get('phone_number')))
  );
}

function count(c: SnapshotCounts, u: UserRecord): void {
  c.users++;
  if (u.UserStatus === 'EXTERNAL_PROVIDER') c.externalProvider++;
  else if (hasVerifiedContact(u.Attributes)) c.verifiedContact++;
  if (u.Enabled === false) c.disabled++;
}

export function sampleKey(seed: string, u: Pick<UserRecord, 'Username' | 'Attributes'>): string {
  const sub = u.Attributes.find((a) => a.Name === 'sub')?.Value ?? `username:${u.Username}`;
  return createHash('sha256').update(`${seed}\0${sub}`).digest('hex');
}

/** A binary max-heap on key: keeps the n smallest keys seen. */
class SmallestN {
  private readonly heap: { key: string; username: string }[] = [];
  constructor(private readonly n: number) {}
  offer(key: string, username: string): void {
    const h = this.heap;
    if (h.length < this.n) {
      h.push({ key, username });
      let i = h.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (h[p]!.key >= h[i]!.key) break;
        [h[p], h[i]] = [h[i]!, h[p]!];
        i = p;
      }
      return;
    }
    if (this.n === 0 || key >= h[0]!.key) return;
    h[0] = { key, username };
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.key > h[m]!.key) m = l;
      if (r < h.length && h[r]!.key > h[m]!.key) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
  usernames(): Set<string> {
    return new Set(this.heap.map((e) => e.username));
  }
}

export async function drawSample(
  reader: SnapshotReader,
  size: number | undefined,
  seed: string,
): Promise<Sample> {
  const counts = emptyCounts();
  const heap = size !== undefined ? new SmallestN(size) : undefined;
  for await (const u of reader.records('users', UserRecord)) {
    count(counts, u);
    heap?.offer(sampleKey(seed, u), u.Username);
  }
  if (!heap || size === undefined || size >= counts.users)
    return { usernames: undefined, counts, sampled: counts };
  const usernames = heap.usernames();
  const sampled = emptyCounts();
  for await (const u of reader.records('users', UserRecord))
    if (usernames.has(u.Username)) count(sampled, u);
  return { usernames, counts, sampled };
}
