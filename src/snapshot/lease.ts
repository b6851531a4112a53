import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { SnapshotInvalidError, StorageError, VaultError } from '../core/errors.js';
import { TOOL_VERSION } from '../core/version.js';
import type { Storage, StorageEntry } from '../storage/storage.js';
import { MAX_LEASE_BYTES, readSmallObject } from './codec.js';

/**
 * Leases: restic's lock files, per snapshot. A process that writes or reads a snapshot puts a
 * small JSON object at `<snapshot>/locks/<kind>-<random>.json`, rewrites it every
 * LEASE_REFRESH_MS with a new `expiresAt`, and deletes it when it finishes. A holder that crashes
 * (kill -9, a Lambda sandbox frozen for good) stops refreshing, so its lease expires and is then
 * ignored (and removed by prune). `prune` never deletes a snapshot with a live lease: before
 * deleting it writes a `prune` lease of its own and then looks for others, while a reader writes
 * its lease and then looks for a `prune` lease; with read-after-write consistent storage (local
 * disk, S3) at least one of the two sees the other and backs off. See docs/format.md.
 */
export const LOCKS_DIR = 'locks';

/** A lease not refreshed for this long is stale: its holder is gone. */
export const LEASE_TTL_MS = 30 * 60_000;
/** How often a holder rewrites its lease (six chances before it goes stale). */
export const LEASE_REFRESH_MS = 5 * 60_000;

export const LeaseKind = z.enum(['backup', 'restore', 'verify', 'export', 'diff', 'prune']);
export type LeaseKind = z.infer<typeof LeaseKind>;

export const LeaseRecord = z.object({
  kind: LeaseKind,
  host: z.string(),
  pid: z.number().int(),
  /** Linux boot id and pid namespace: with both equal, `pid` can be checked for liveness. */
  bootId: z.string().optional(),
  pidNamespace: z.string().optional(),
  tool: z.string().optional(),
  createdAt: z.iso.datetime(),
  refreshedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});
export type LeaseRecord = z.infer<typeof LeaseRecord>;

/** A lease found in a snapshot, as prune and list see it. */
export interface LeaseInfo {
  /** Key relative to the snapshot: locks/<name>.json. */
  key: string;
  lease?: LeaseRecord;
  /** Live: the holder may still be running. Unreadable leases count as live until they age. */
  live: boolean;
  /** Why the lease could not be read (then `lease` is absent). */
  problem?: string;
  /** A read failure that is not "gone": nobody can tell whether the holder runs. */
  unreadable?: boolean;
}

export function isLeaseKey(key: string): boolean {
  return key.startsWith(`${LOCKS_DIR}/`) && !key.slice(LOCKS_DIR.length + 1).includes('/');
}

function readOptional(read: () => string): string | undefined {
  try {
    return read().trim() || undefined;
  } catch {
    return undefined;
  }
}

const IDENTITY = {
  host: hostname(),
  bootId: readOptional(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
  pidNamespace: readOptional(() => readlinkSync('/proc/self/ns/pid')),
};

/** True when the lease was written on this machine, in this pid namespace, by a dead process. */
function holderIsDead(lease: LeaseRecord): boolean {
  if (lease.pid === process.pid && lease.host === IDENTITY.host) return false;
  const sameMachine =
    IDENTITY.bootId && IDENTITY.pidNamespace
      ? lease.bootId === IDENTITY.bootId && lease.pidNamespace === IDENTITY.pidNamespace
      : !lease.bootId && lease.host === IDENTITY.host;
  if (!sameMachine) return false;
  try {
    process.kill(lease.pid, 0);
    return false;
  } catch (e) {
    // EPERM: the process exists (someone else's); only ESRCH proves it is gone.
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Live unless expired, or provably dead (same machine, no such process). */
export function leaseIsLive(lease: LeaseRecord, now: Date): boolean {
  if (Date.parse(lease.expiresAt) <= now.getTime()) return false;
  return !holderIsDead(lease);
}

/** A lease, read whole but never more than MAX_LEASE_BYTES (checked by size first). */
async function readText(storage: Storage, key: string): Promise<string> {
  return (await readSmallObject(storage, key, MAX_LEASE_BYTES)).toString('utf8');
}

/**
 * A `locks/` that is a symbolic link (planted in a copied or shared snapshot): the snapshot is
 * refused (exit 3) rather than written or swept through the link.
 */
function linkedLocks(snapshot: Storage, e: unknown): unknown {
  if (e instanceof StorageError && e.code === 'SYMLINK_REFUSED')
    return new SnapshotInvalidError(
      `${snapshot.location}: ${LOCKS_DIR}/ is a symbolic link (or holds one); refusing to write or remove leases through it`,
      [`${LOCKS_DIR}/ is a symbolic link`],
      { location: snapshot.location },
    );
  return e;
}

/**
 * Reads the leases of one snapshot. `entries` are the snapshot's lease objects when the caller
 * has listed them already (keys relative to the snapshot); otherwise `locks/` is listed.
 */
export async function readLeases(
  snapshot: Storage,
  now: Date,
  entries?: StorageEntry[],
  opts: { ownKey?: string } = {},
): Promise<LeaseInfo[]> {
  const found: StorageEntry[] = [];
  if (entries) found.push(...entries.filter((e) => isLeaseKey(e.key)));
  else {
    try {
      for await (const e of snapshot.list(LOCKS_DIR)) if (isLeaseKey(e.key)) found.push(e);
    } catch (e) {
      throw linkedLocks(snapshot, e);
    }
  }
  // The storage's own clock, read off a lease we have just written (S3 LastModified is the
  // server's time): a lease refreshed within the TTL by that clock is live whatever our clock
  // says, so a machine whose clock runs ahead cannot take live leases for expired ones.
  const storageNow = found.find((e) => e.key === opts.ownKey)?.modified;
  const freshByStorage = (e: StorageEntry): boolean =>
    storageNow !== undefined &&
    e.modified !== undefined &&
    storageNow.getTime() - e.modified.getTime() < LEASE_TTL_MS;
  const out: LeaseInfo[] = [];
  for (const e of found) {
    let text: string;
    try {
      text = await readText(snapshot, e.key);
    } catch (err) {
      if (err instanceof StorageError && err.code === 'NOT_FOUND') continue; // released meanwhile
      // Larger than any lease: not one (counted like a damaged lease, below).
      if (err instanceof SnapshotInvalidError) {
        const age = e.modified ? now.getTime() - e.modified.getTime() : 0;
        out.push({
          key: e.key,
          live: !e.modified || age < LEASE_TTL_MS || freshByStorage(e),
          problem: `lease ${e.key} is not a valid lease document`,
        });
        continue;
      }
      out.push({
        key: e.key,
        live: true,
        unreadable: true,
        problem: `lease ${e.key} unreadable (${(err as Error).message})`,
      });
      continue;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      raw = undefined;
    }
    const parsed = LeaseRecord.safeParse(raw);
    if (parsed.success) {
      const live =
        leaseIsLive(parsed.data, now) || (freshByStorage(e) && !holderIsDead(parsed.data));
      out.push({ key: e.key, lease: parsed.data, live });
      continue;
    }
    // A damaged lease: nobody can say who holds it, so it counts until it is as old as a lease
    // can be without a refresh (an object without a modification time counts forever).
    const age = e.modified ? now.getTime() - e.modified.getTime() : 0;
    out.push({
      key: e.key,
      live: !e.modified || age < LEASE_TTL_MS || freshByStorage(e),
      problem: `lease ${e.key} is not a valid lease document`,
    });
  }
  return out;
}

/** A one-line description of a lease, for prune's and list's output (no personal data). */
export function describeLease(l: LeaseInfo): string {
  if (!l.lease) return l.problem ?? l.key;
  return `${l.lease.kind} lease held by ${l.lease.host} pid ${l.lease.pid} until ${l.lease.expiresAt}`;
}

export interface HeldLease {
  readonly key: string;
  readonly kind: LeaseKind;
  /** Stops refreshing and deletes the lease (best effort: an expired lease is harmless). */
  release(): Promise<void>;
}

export interface LeaseOptions {
  ttlMs?: number;
  refreshMs?: number;
  now?: () => Date;
  /** Told when a refresh fails (the lease may expire; the run goes on). */
  onRefreshError?: (e: unknown) => void;
}

/**
 * Writes a lease into `snapshot` (a storage rooted at the snapshot directory) and keeps it fresh
 * until released. Fails with the storage's error when the lease cannot be written.
 */
export async function acquireLease(
  snapshot: Storage,
  kind: LeaseKind,
  opts: LeaseOptions = {},
): Promise<HeldLease> {
  const ttl = opts.ttlMs ?? LEASE_TTL_MS;
  const now = opts.now ?? (() => new Date());
  const key = `${LOCKS_DIR}/${kind}-${randomBytes(8).toString('hex')}.json`;
  const createdAt = now().toISOString();
  const body = (): string => {
    const t = now();
    const record: LeaseRecord = {
      kind,
      host: IDENTITY.host,
      pid: process.pid,
      ...(IDENTITY.bootId ? { bootId: IDENTITY.bootId } : {}),
      ...(IDENTITY.pidNamespace ? { pidNamespace: IDENTITY.pidNamespace } : {}),
      tool: TOOL_VERSION,
      createdAt,
      refreshedAt: t.toISOString(),
      expiresAt: new Date(t.getTime() + ttl).toISOString(),
    };
    return `${JSON.stringify(record)}\n`;
  };
  try {
    await snapshot.put(key, body());
  } catch (e) {
    throw linkedLocks(snapshot, e);
  }
  let released = false;
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (inFlight || released) return;
    inFlight = snapshot
      .put(key, body())
      .catch((e: unknown) => opts.onRefreshError?.(e))
      .finally(() => {
        inFlight = undefined;
      });
  }, opts.refreshMs ?? LEASE_REFRESH_MS);
  timer.unref();
  return {
    key,
    kind,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      clearInterval(timer);
      await inFlight;
      await snapshot.delete(key).catch(() => undefined);
      // On disk the empty locks/ directory goes too, so the snapshot looks as it did.
      await snapshot
        .child(LOCKS_DIR)
        .removeEmptyDirs()
        .catch(() => undefined);
    },
  };
}

/**
 * A lease for a process that reads a snapshot (restore, verify): written, then checked against a
 * prune that may be deleting the snapshot. Throws StorageError SNAPSHOT_BEING_PRUNED (exit 8)
 * when one is, after removing its own lease. The caller re-reads the manifest afterwards: a
 * prune that finished just before leaves no manifest, which the reader reports as incomplete.
 */
export async function acquireReadLease(
  snapshot: Storage,
  kind: Exclude<LeaseKind, 'backup' | 'prune'>,
  opts: LeaseOptions = {},
): Promise<HeldLease> {
  const held = await acquireLease(snapshot, kind, opts);
  try {
    const now = (opts.now ?? (() => new Date()))();
    const pruning = (await readLeases(snapshot, now, undefined, { ownKey: held.key })).filter(
      (l) => l.key !== held.key && l.live && l.lease?.kind === 'prune',
    );
    if (pruning[0]) {
      throw new StorageError(
        'SNAPSHOT_BEING_PRUNED',
        `${snapshot.location} is being deleted by a prune (${describeLease(pruning[0])}); use another snapshot`,
        { location: snapshot.location },
      );
    }
    return held;
  } catch (e) {
    await held.release();
    throw e;
  }
}

/** The warning a reader gives when it goes on without a lease. */
export function noLeaseWarning(e: VaultError): { type: 'warning'; code: string; message: string } {
  return {
    type: 'warning',
    code: 'NO_LEASE',
    message: `could not write a lease on the snapshot (${e.message}); a concurrent prune is not held off`,
  };
}

/** True for storage errors that mean "this credential or medium cannot write here". */
export function isUnwritable(e: unknown): boolean {
  return e instanceof VaultError && (e.code === 'UNWRITABLE' || e.exitCode === 5);
}

/**
 * A read lease when the storage lets us write one. Credentials or media that cannot write
 * (a read-only IAM policy, a read-only mount) still restore and verify: `onUnwritable` is told
 * (a warning: a concurrent prune is then not held off) and undefined is returned.
 */
export async function tryAcquireReadLease(
  snapshot: Storage,
  kind: Exclude<LeaseKind, 'backup' | 'prune'>,
  onUnwritable: (e: VaultError) => void,
  opts: LeaseOptions = {},
): Promise<HeldLease | undefined> {
  try {
    return await acquireReadLease(snapshot, kind, opts);
  } catch (e) {
    if (isUnwritable(e)) {
      onUnwritable(e as VaultError);
      return undefined;
    }
    throw e;
  }
}

/**
 * Runs `fn` under a read lease on `snapshot` (when the storage lets us write one; otherwise
 * `onUnwritable` is told and `fn` runs without). The lease is released however `fn` ends.
 */
export async function withReadLease<T>(
  snapshot: Storage,
  kind: Exclude<LeaseKind, 'backup' | 'prune'>,
  onUnwritable: (e: VaultError) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const lease = await tryAcquireReadLease(snapshot, kind, onUnwritable);
  try {
    return await fn();
  } finally {
    await lease?.release();
  }
}
