import { randomBytes } from 'node:crypto';
import { SnapshotInvalidError, UsageError } from '../core/errors.js';
import { opt } from '../core/options.js';
import type { ProgressListener } from '../core/progress.js';
import type { Storage } from '../storage/storage.js';
import { type AgeKeyring, AgeRecipients, AGE_SUFFIX } from './age.js';
import { listSnapshots } from './catalog.js';
import { ErasureLedger } from './erasure-ledger.js';
import { type FileEntry, type Manifest, MembershipRecord, UserRecord } from './format.js';
import { acquireLease, describeLease, type HeldLease, readLeases } from './lease.js';
import { SnapshotReader } from './reader.js';
import { SnapshotWriter } from './writer.js';

/**
 * `cognito-vault forget`: erase one user from every snapshot of a pool under a backup root.
 *
 * 1. The erasure goes into the pool's ledger first (erasure-ledger.ts: hashes only), so every
 *    restore and export honours it from then on, whatever happens next.
 * 2. Each complete snapshot of the pool that holds the user is rewritten without them: the
 *    users and membership parts holding them are written anew (new names; encrypted to the
 *    snapshot's own recipients when it is encrypted, which needs --identity to read it), the
 *    manifest is written last (one atomic object: readers see the old or the new snapshot),
 *    then the old parts are deleted. The snapshot still verifies.
 * 3. Leases are respected: a snapshot another process holds a live lease on (a restore,
 *    verify, export, backup or prune) is not touched; it is reported as pending, and running
 *    forget again finishes it. While rewriting, forget holds a prune-kind lease, so readers
 *    starting meanwhile refuse the snapshot instead of reading parts being replaced.
 * Incomplete (in progress or abandoned) snapshots are never rewritten — the ledger keeps
 * restores from bringing the user back from them — and reported.
 */
export interface ForgetOptions {
  /** The user, by username … */
  username?: string;
  /** … or by sub. */
  sub?: string;
  keyring?: AgeKeyring;
  now?: () => Date;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

export interface ForgetResult {
  userPoolId: string;
  root: string;
  /** Ledger entries written by this run (0 when the erasure was recorded before). */
  ledgerEntries: number;
  snapshots: {
    complete: number;
    /** Rewritten without the user by this run. */
    rewritten: number;
    /** Complete snapshots that do not hold the user (any more). */
    clean: number;
  };
  /** Snapshots not rewritten now (leased, encrypted without a key, incomplete): paths and why. */
  pending: { path: string; reason: string }[];
  /** Leftover parts of an interrupted rewrite deleted. */
  leftoversDeleted: number;
}

function newPartPath(old: string): string {
  const base = old.endsWith(AGE_SUFFIX) ? old.slice(0, -AGE_SUFFIX.length) : old;
  const stem = base.replace(/(-e[0-9a-f]{8})?\.jsonl\.gz$/, '');
  return `${stem}-e${randomBytes(4).toString('hex')}.jsonl.gz`;
}

interface Match {
  username: string | undefined;
  sub: string | undefined;
}

export async function forgetUser(
  root: Storage,
  userPoolId: string,
  opts: ForgetOptions,
): Promise<ForgetResult> {
  if (!opts.username === !opts.sub)
    throw new UsageError(
      'BAD_FLAG',
      `give exactly one of ${opt('username')} (the user's username) or ${opt('sub')} (their sub)`,
    );
  const now = opts.now ?? (() => new Date());
  const progress = opts.onProgress ?? (() => undefined);
  // A root without any snapshot of the pool (a typo, the wrong pool): nothing is written.
  const listed = await listSnapshots(root, { userPoolId, now: now() });
  if (!listed.some((s) => s.userPoolId === userPoolId)) {
    throw new UsageError(
      'NO_SNAPSHOT',
      `no snapshot of pool ${userPoolId} under ${root.location}; nothing was written`,
      { userPoolId, root: root.location },
    );
  }
  const ledger = await ErasureLedger.read(root.child(userPoolId), userPoolId);
  let ledgerEntries = 0;
  const known: Match = { username: opts.username, sub: opts.sub };
  const record = async (): Promise<void> => {
    if (known.username && (await ledger.record('username', known.username, now()))) ledgerEntries++;
    if (known.sub && (await ledger.record('sub', known.sub, now()))) ledgerEntries++;
  };
  await record();
  const result: ForgetResult = {
    userPoolId,
    root: root.location,
    ledgerEntries,
    snapshots: { complete: 0, rewritten: 0, clean: 0 },
    pending: [],
    leftoversDeleted: 0,
  };
  for (const s of listed) {
    opts.signal?.throwIfAborted();
    if (s.status !== 'complete') {
      result.pending.push({
        path: s.path,
        reason: `${s.status}: not rewritten (restores never pick it; the ledger applies to it)`,
      });
      continue;
    }
    result.snapshots.complete++;
    const snap = root.child(s.path);
    const others = s.leases.filter((l) => l.live);
    if (others[0]) {
      result.pending.push({ path: s.path, reason: `leased (${describeLease(others[0])})` });
      continue;
    }
    let reader = await SnapshotReader.open(snap, opts.keyring ? { keyring: opts.keyring } : {});
    if (reader.encrypted && !reader.keyring?.opens(reader.manifest.encryption?.recipients ?? [])) {
      result.pending.push({
        path: s.path,
        reason: `encrypted: pass ${opt('identity')} with a key of its recipients to rewrite it`,
      });
      continue;
    }
    let lease: HeldLease | undefined;
    try {
      lease = await acquireLease(snap, 'prune');
      // Someone else may have leased it between the listing and our lease.
      const live = (await readLeases(snap, now(), undefined, { ownKey: lease.key })).filter(
        (l) => l.key !== lease?.key && l.live,
      );
      if (live[0]) {
        result.pending.push({ path: s.path, reason: `leased (${describeLease(live[0])})` });
        continue;
      }
      reader = await SnapshotReader.open(snap, opts.keyring ? { keyring: opts.keyring } : {});
      progress({ type: 'phase', phase: 'forget', detail: s.path });
      const rewritten = await rewrite(reader, snap, known, opts.signal);
      if (rewritten) {
        result.snapshots.rewritten++;
        // The other identifier, learned from the snapshot, goes into the ledger too.
        await record();
      } else result.snapshots.clean++;
      result.leftoversDeleted += await deleteUnlisted(snap, reader.manifest, rewritten);
    } finally {
      await lease?.release();
    }
  }
  result.ledgerEntries = ledgerEntries;
  return result;
}

function matches(u: UserRecord, who: Match): boolean {
  if (who.username !== undefined && u.Username === who.username) return true;
  const sub = u.Attributes.find((a) => a.Name === 'sub')?.Value;
  return who.sub !== undefined && sub === who.sub;
}

/**
 * Rewrites one snapshot without the user; returns the new manifest, or undefined when the
 * snapshot does not hold them. `who` learns the user's username and sub from the snapshot.
 */
async function rewrite(
  reader: SnapshotReader,
  snap: Storage,
  who: Match,
  signal: AbortSignal | undefined,
): Promise<Manifest | undefined> {
  const m = reader.manifest;
  // Which users files hold the user (and their username, for the memberships).
  const userFiles = new Set<string>();
  for (const f of reader.filesOf('users')) {
    for await (const u of reader.fileRecords(f, UserRecord)) {
      if (!matches(u, who)) continue;
      userFiles.add(f.path);
      who.username ??= u.Username;
      who.sub ??= u.Attributes.find((a) => a.Name === 'sub')?.Value;
    }
  }
  const memberFiles = new Set<string>();
  if (who.username !== undefined) {
    for (const f of reader.filesOf('memberships')) {
      for await (const r of reader.fileRecords(f, MembershipRecord)) {
        if (r.username === who.username) {
          memberFiles.add(f.path);
          break;
        }
      }
    }
  }
  if (!userFiles.size && !memberFiles.size) return undefined;
  const recipients = m.encryption ? new AgeRecipients(m.encryption.recipients) : undefined;
  const writer = new SnapshotWriter(snap, signal, recipients);
  let users = 0;
  let memberships = 0;
  const replaced: string[] = [];
  for (const f of m.files) {
    if (f.kind === 'users' && userFiles.has(f.path)) {
      const kept = filter(reader.fileRecords(f, UserRecord), (u) => !matches(u, who));
      const e = await writer.writeJsonLines(newPartPath(f.path), 'users', kept);
      users += f.records - e.records;
      replaced.push(f.path);
    } else if (f.kind === 'memberships' && memberFiles.has(f.path)) {
      const kept = filter(
        reader.fileRecords(f, MembershipRecord),
        (r) => r.username !== who.username,
      );
      const e = await writer.writeJsonLines(newPartPath(f.path), 'memberships', kept);
      memberships += f.records - e.records;
      replaced.push(f.path);
    } else writer.adopt(f as FileEntry);
  }
  const { files, formatVersion, encryption, ...draft } = m;
  void files;
  void formatVersion;
  void encryption;
  const manifest = await writer.commit({
    ...draft,
    counts: {
      ...draft.counts,
      users: draft.counts.users - users,
      memberships: draft.counts.memberships - memberships,
    },
  });
  // The new snapshot must read back whole before the old parts go.
  const check = await (
    await SnapshotReader.open(snap, reader.keyring ? { keyring: reader.keyring } : {})
  ).verify();
  if (!check.ok) {
    throw new SnapshotInvalidError(
      `${snap.location}: the rewritten snapshot does not verify: ${check.problems[0]}`,
      check.problems,
    );
  }
  for (const p of replaced) await snap.delete(p);
  await snap.removeEmptyDirs().catch(() => undefined);
  return manifest;
}

async function* filter<T>(src: AsyncIterable<T>, keep: (t: T) => boolean): AsyncGenerator<T> {
  for await (const t of src) if (keep(t)) yield t;
}

/**
 * users/ and memberships/ parts of a complete snapshot its manifest does not list: what an
 * interrupted rewrite left (the old parts, after the new manifest; or new parts, before it).
 * Deleted: nothing reads them, and old parts still hold the erased user.
 */
async function deleteUnlisted(
  snap: Storage,
  manifest: Manifest,
  fresh: Manifest | undefined,
): Promise<number> {
  const listed = new Set((fresh ?? manifest).files.map((f) => f.path));
  let n = 0;
  for await (const e of snap.list()) {
    if (!/^(users|memberships)\//.test(e.key) || listed.has(e.key)) continue;
    await snap.delete(e.key);
    n++;
  }
  return n;
}
