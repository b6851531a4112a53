import { StorageError, UsageError, VaultError, ExitCode } from '../core/errors.js';
import {
  classifySnapshot,
  listSnapshots,
  POOL_DIR_PATTERN,
  SNAPSHOT_ID_PATTERN,
} from '../snapshot/catalog.js';
import { MANIFEST_FILE, PART_DIRS } from '../snapshot/format.js';
import {
  acquireLease,
  describeLease,
  type HeldLease,
  type LeaseInfo,
  LOCKS_DIR,
  readLeases,
} from '../snapshot/lease.js';
import {
  latestChains,
  type MembershipSegment,
  MEMBERSHIPS_UNIT,
  type PageRecord,
  type ProgressPlan,
  readMembershipSegments,
  readPageRecords,
  readPlan,
  readUnitRecords,
  RESOURCES_UNIT,
  unitRecordPath,
  type UnitRecord,
} from '../snapshot/progress.js';
import type { Storage } from '../storage/storage.js';

/** What `backup --resume` starts from: the plan, the units kept, and the lease it now holds. */
export interface ResumeState {
  plan: ProgressPlan;
  /** Units whose records are valid and whose files are all there with the recorded sizes. */
  kept: Map<string, UnitRecord>;
  /**
   * Users units not finished but with stored segments: their page records, linked from seq 0,
   * files intact. The unit continues from the last record's token (or from its start, with a
   * clean part, when Cognito no longer takes it).
   */
  chains: Map<string, PageRecord[]>;
  /**
   * The memberships unit not finished: its stored segments (files intact), each holding whole
   * groups. The unit lists only the groups they do not hold (when its group names match).
   */
  segments: MembershipSegment[];
  /** Records found but not kept (their units run again). */
  redone: number;
  lease: HeldLease;
}

/** Leases that forbid resuming: a live backup (someone is writing it) or prune (deleting it). */
function blocking(leases: LeaseInfo[], ownKey?: string): LeaseInfo[] {
  return leases.filter(
    (l) =>
      l.key !== ownKey &&
      l.live &&
      (l.unreadable || !l.lease || l.lease.kind === 'backup' || l.lease.kind === 'prune'),
  );
}

function inUse(location: string, held: LeaseInfo[]): StorageError {
  const l = held[0] as LeaseInfo;
  const pruning = l.lease?.kind === 'prune';
  return new StorageError(
    pruning ? 'SNAPSHOT_BEING_PRUNED' : 'SNAPSHOT_IN_USE',
    pruning
      ? `${location} is being deleted by a prune (${describeLease(l)}); start a new backup instead`
      : `${location} is held by a running backup (${describeLease(l)}); not resuming it twice`,
    { location },
  );
}

async function exists(snapshot: Storage): Promise<boolean> {
  for await (const _ of snapshot.list()) return true;
  return false;
}

/**
 * Checks that `snapshotId` of `userPoolId` under `root` is an incomplete snapshot this version
 * can resume and that nobody else writes or deletes it; takes a backup lease on it; keeps the
 * recorded units whose files are still there (stat: present, recorded size) and removes the
 * records and files of everything else (stale records, half-written parts, `.partial-` files),
 * so that only recorded files of kept units remain besides what the resumed run writes.
 */
export async function openForResume(
  root: Storage,
  userPoolId: string,
  snapshotId: string,
  opts: { now?: () => Date } = {},
): Promise<ResumeState> {
  const now = opts.now ?? (() => new Date());
  assertSnapshotId(snapshotId);
  const snap = root.child(`${userPoolId}/${snapshotId}`);
  const where = snap.location;
  if (!(await exists(snap))) {
    const owner = await poolHolding(root, snapshotId);
    if (owner !== undefined) {
      throw new UsageError(
        'SNAPSHOT_OTHER_POOL',
        `snapshot ${snapshotId} under ${root.location} is one of pool ${owner}, not ${userPoolId}; not resuming it`,
        { snapshotId, userPoolId, recordedPool: owner },
      );
    }
    throw notFound(root, snapshotId, userPoolId);
  }
  await checkResumable(snap, userPoolId, snapshotId);
  const before = blocking(await readLeases(snap, now()));
  if (before.length > 0) throw inUse(where, before);

  const lease = await acquireLease(snap, 'backup');
  try {
    // Written, then looked for others: two racing resumes (or a prune) see each other.
    const leases = await readLeases(snap, now(), undefined, { ownKey: lease.key });
    const after = blocking(leases, lease.key);
    if (after.length > 0) throw inUse(where, after);
    // Leases of runs that were killed (expired, or their process is gone): removed, as prune
    // would; best effort.
    for (const l of leases) {
      if (l.live || l.key === lease.key) continue;
      await snap.delete(l.key).catch(() => undefined);
    }
    // A prune may have finished just before our lease: check again under it.
    const plan = await checkResumable(snap, userPoolId, snapshotId);
    const { records, invalid } = await readUnitRecords(snap);
    const shards = plan.options.sharding?.shards;
    const kept = new Map<string, UnitRecord>();
    let redone = invalid;
    for (const [unit, record] of records) {
      const m = /^users-(\d{5})$/.exec(unit);
      const plausible = m
        ? shards !== undefined && Number(m[1]) < shards
        : unit === RESOURCES_UNIT || unit === MEMBERSHIPS_UNIT;
      if (plausible && (await filesIntact(snap, record))) kept.set(unit, record);
      else redone++;
    }
    // Memberships are listed from the groups in groups.json: run again with the resources.
    if (kept.has(MEMBERSHIPS_UNIT) && !kept.has(RESOURCES_UNIT)) {
      kept.delete(MEMBERSHIPS_UNIT);
      redone++;
    }
    const pages = await readPageRecords(snap);
    const chains = await latestChains(
      [...pages.records.values()].filter(
        (r) => !kept.has(r.unit) && shards !== undefined && Number(r.unit.slice(6)) < shards,
      ),
      (r) => filesIntact(snap, { files: [r.file] }),
    );
    const chained = new Set([...chains.values()].flat().map((r) => r.file.path));
    // Required like stale unit records: only the chains continued keep their page records.
    for (const [key, r] of pages.records) if (!chained.has(r.file.path)) await snap.delete(key);
    for (const key of pages.invalid) await snap.delete(key);
    const segments = await keptSegments(snap, !kept.has(MEMBERSHIPS_UNIT));
    for (const s of segments) chained.add(s.file.path);
    await removeUnkept(snap, records, kept, chained);
    return { plan, kept, chains, segments, redone, lease };
  } catch (e) {
    await lease.release();
    throw e;
  }
}

function assertSnapshotId(snapshotId: string): void {
  if (!SNAPSHOT_ID_PATTERN.test(snapshotId)) {
    throw new UsageError(
      'BAD_SNAPSHOT_ID',
      `"${snapshotId}" is not a snapshot id (such as 2026-11-27T17-22-00-123Z)`,
    );
  }
}

function notFound(root: Storage, snapshotId: string, userPoolId?: string): UsageError {
  return new UsageError(
    'SNAPSHOT_NOT_FOUND',
    `no snapshot ${snapshotId}${userPoolId ? ` of pool ${userPoolId}` : ''} under ${root.location}`,
    { snapshotId, ...(userPoolId ? { userPoolId } : {}) },
  );
}

/** The pool whose directory holds `snapshotId` under `root` (lists the root: an error path). */
async function poolHolding(root: Storage, snapshotId: string): Promise<string | undefined> {
  for await (const e of root.list()) {
    const [pool = '', snap = '', rest] = e.key.split('/');
    if (rest !== undefined && snap === snapshotId && POOL_DIR_PATTERN.test(pool)) return pool;
  }
  return undefined;
}

/**
 * The pool of snapshot `snapshotId` under `root`, for `backup --resume ID` without
 * `--user-pool-id`: UsageError SNAPSHOT_NOT_FOUND (exit 2) when no pool holds it.
 */
export async function locateSnapshot(root: Storage, snapshotId: string): Promise<string> {
  assertSnapshotId(snapshotId);
  const pool = await poolHolding(root, snapshotId);
  if (pool === undefined) throw notFound(root, snapshotId);
  return pool;
}

/** Throws unless the snapshot has no manifest and a plan of this version for this pool. */
async function checkResumable(
  snap: Storage,
  userPoolId: string,
  snapshotId: string,
): Promise<ProgressPlan> {
  const where = snap.location;
  const hasManifest = await snap.exists(MANIFEST_FILE);
  if (hasManifest) {
    const c = await classifySnapshot(snap, true);
    if (c.status === 'complete') {
      throw new UsageError(
        'SNAPSHOT_COMPLETE',
        `${where} is complete (it has a manifest); there is nothing to resume`,
        { snapshotId },
      );
    }
    if (c.status === 'unknown-format') {
      throw new VaultError(
        'UNKNOWN_FORMAT',
        `${where}: ${c.problem ?? 'unknown format'}`,
        ExitCode.SnapshotInvalid,
        { snapshotId },
      );
    }
    throw new VaultError(
      'NOT_RESUMABLE',
      `${where} has a manifest that cannot be read (${c.problem ?? 'unreadable'}); not resuming it`,
      ExitCode.SnapshotInvalid,
      { snapshotId },
    );
  }
  const read = await readPlan(snap);
  if (read.status === 'unknown-format') {
    throw new VaultError(
      'UNKNOWN_FORMAT',
      `${where}: its progress records are version ${read.version}, newer than this cognito-vault writes; resume it with the version that started it`,
      ExitCode.SnapshotInvalid,
      { snapshotId, progressVersion: read.version },
    );
  }
  if (read.status !== 'ok') {
    throw new VaultError(
      'NOT_RESUMABLE',
      `${where} cannot be resumed: ${read.status === 'absent' ? 'it has no progress records (written by an older version, or killed before its first record)' : read.problem}; start a new backup`,
      ExitCode.SnapshotInvalid,
      { snapshotId },
    );
  }
  const plan = read.plan;
  if (plan.userPoolId !== userPoolId || plan.snapshotId !== snapshotId) {
    throw new UsageError(
      'SNAPSHOT_OTHER_POOL',
      `${where} records snapshot ${plan.snapshotId} of pool ${plan.userPoolId}, not ${snapshotId} of ${userPoolId}; not resuming it`,
      { snapshotId, userPoolId, recordedPool: plan.userPoolId },
    );
  }
  return plan;
}

/**
 * The memberships segments a resume continues from (when the unit is not finished): valid
 * records whose file is intact. The others' records are deleted (their files go with the
 * unlisted parts); with the unit finished, its record lists the files and these are left alone.
 */
async function keptSegments(snap: Storage, wanted: boolean): Promise<MembershipSegment[]> {
  if (!wanted) return [];
  const { records, invalid } = await readMembershipSegments(snap);
  const out: MembershipSegment[] = [];
  for (const [key, r] of records) {
    if (await filesIntact(snap, { files: [r.file] })) out.push(r);
    else await snap.delete(key);
  }
  for (const key of invalid) await snap.delete(key);
  return out;
}

async function filesIntact(snap: Storage, record: Pick<UnitRecord, 'files'>): Promise<boolean> {
  for (const f of record.files) {
    const s = await snap.stat(f.path);
    if (!s || s.bytes !== f.bytes) return false;
  }
  return true;
}

/**
 * Deletes the records of units not kept (before their files: a record never points at a file
 * that is gone on purpose), then every file under users/ and memberships/ no kept record or
 * continued chain lists
 * and every `.partial-` leftover of a killed write. The resources' fixed-name files are
 * overwritten by the run that redoes them.
 */
async function removeUnkept(
  snap: Storage,
  records: Map<string, UnitRecord>,
  kept: Map<string, UnitRecord>,
  chained: ReadonlySet<string>,
): Promise<void> {
  // Required: a stale record left behind could be taken for a finished unit later.
  for (const unit of records.keys()) if (!kept.has(unit)) await snap.delete(unitRecordPath(unit));
  const keep = new Set([...kept.values()].flatMap((r) => r.files.map((f) => f.path)));
  for (const p of chained) keep.add(p);
  const doomed: string[] = [];
  for await (const e of snap.list()) {
    if (e.key.startsWith(`${LOCKS_DIR}/`)) continue;
    const inParts =
      e.key.startsWith(`${PART_DIRS.users}/`) || e.key.startsWith(`${PART_DIRS.memberships}/`);
    if ((inParts && !keep.has(e.key)) || e.key.includes('.partial-')) doomed.push(e.key);
  }
  // Best effort: the runs write under new part names, so a leftover never mixes in; the
  // `policy backup` role may delete only completion records, and then leftovers stay (unlisted,
  // ignored by every reader).
  for (const k of doomed) {
    try {
      await snap.delete(k);
    } catch (e) {
      if (!(e instanceof VaultError)) throw e;
    }
  }
}

export interface FindResumableOptions {
  /** Only snapshots started less than this long ago (by their id); default: any age. */
  maxAgeMs?: number;
  now?: Date;
  /** Only snapshots taken with these options (a resume keeps the options it started with). */
  includeSecrets?: boolean;
  userMfa?: boolean;
  /** age recipients (none: unencrypted). */
  encryptTo?: readonly string[];
}

function startedAtOf(snapshotId: string): number {
  return Date.parse(
    snapshotId.replace(/^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/, '$1T$2:$3:$4.$5Z'),
  );
}

/**
 * The id of the newest snapshot of `userPoolId` under `storage` that `backup --resume` would
 * take: incomplete (no manifest), with progress records of this version for that pool, and no
 * live backup or prune lease. undefined when there is none.
 */
export async function findResumableBackup(
  storage: Storage,
  userPoolId: string,
  opts: FindResumableOptions = {},
): Promise<string | undefined> {
  const now = opts.now ?? new Date();
  const listed = await listSnapshots(storage, { now, userPoolId });
  const candidates = listed
    .filter((s) => s.userPoolId === userPoolId && s.status === 'incomplete')
    .filter((s) => blocking(s.leases).length === 0)
    .sort((a, b) => b.snapshotId.localeCompare(a.snapshotId));
  for (const s of candidates) {
    if (opts.maxAgeMs !== undefined && now.getTime() - startedAtOf(s.snapshotId) > opts.maxAgeMs)
      break;
    const read = await readPlan(storage.child(s.path));
    if (read.status !== 'ok') continue;
    const p = read.plan;
    if (p.userPoolId !== userPoolId || p.snapshotId !== s.snapshotId) continue;
    if (opts.includeSecrets !== undefined && p.options.includeSecrets !== opts.includeSecrets)
      continue;
    if (opts.userMfa !== undefined && Boolean(p.options.userMfa) !== opts.userMfa) continue;
    if (
      opts.encryptTo !== undefined &&
      [...opts.encryptTo].sort().join() !== [...(p.options.encryptTo ?? [])].sort().join()
    )
      continue;
    return s.snapshotId;
  }
  return undefined;
}
