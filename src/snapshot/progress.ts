import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SnapshotInvalidError, StorageError } from '../core/errors.js';
import { readSmallObject } from './codec.js';
import type { Storage } from '../storage/storage.js';
import { FileEntry, ResumeEntry, Warning } from './format.js';

/**
 * Completion records of a snapshot in progress (docs/format.md, "Snapshots in progress"). While
 * a backup runs, `progress/plan.json` says what it is (pool, options, sharding once decided,
 * resumes so far) and `progress/units/<unit>.json` is written for each finished unit — a users
 * shard, the resource documents, the memberships — only after that unit's files are durable
 * (Storage.put resolved: renamed after a flushed write on disk, a completed upload on S3).
 * `backup --resume` keeps a unit whose record is valid and whose files are all still there with
 * the recorded sizes, and runs every other unit again. The records are removed once the
 * manifest is written; a complete snapshot never needs them.
 *
 * Below the unit, a users shard is written as a chain of segments (one part file each, closed
 * at a ListUsers page boundary) and `progress/pages/<unit>/<chain>/<seq>.json` is written for
 * each segment once it is durable: its file, the users so far and the pagination token to
 * continue from. Each is a new small object (S3 objects cannot be appended to); a record names
 * the previous segment's sha256, so a chain is read back only as far as it links up.
 *
 * Below the memberships unit, each worker writes its groups' members as segments too: a part
 * file closed at a group boundary, and once it is durable `progress/memberships/<segment>.json`
 * names the groups it holds whole (by their index in groups.json, with a digest of the group
 * names so that a resume whose groups differ does not take it). A resume lists only the groups no
 * such record covers. Older versions ignore these records (they list every group again).
 */
export const PROGRESS_VERSION = 1;
export const PROGRESS_DIR = 'progress';
export const PLAN_FILE = `${PROGRESS_DIR}/plan.json`;
export const UNITS_DIR = `${PROGRESS_DIR}/units`;

/** The units a backup is made of. Users shards are `users-NNNNN` (the shard index). */
export const RESOURCES_UNIT = 'resources';
export const MEMBERSHIPS_UNIT = 'memberships';
export function usersUnit(index: number): string {
  return `users-${String(index).padStart(5, '0')}`;
}
export function unitRecordPath(unit: string): string {
  return `${UNITS_DIR}/${unit}.json`;
}
export const PAGES_DIR = `${PROGRESS_DIR}/pages`;
/**
 * A chain's id: the run that started it (0 = the first, n = the n-th resume) and its restarts in
 * that run, so that a later chain of a shard sorts after an earlier one.
 */
export function chainId(run: number, restart: number): string {
  return `${String(run).padStart(4, '0')}-${String(restart).padStart(2, '0')}`;
}
export function pageRecordPath(unit: string, chain: string, seq: number): string {
  return `${PAGES_DIR}/${unit}/${chain}/${String(seq).padStart(6, '0')}.json`;
}

export const MEMBERSHIP_SEGMENTS_DIR = `${PROGRESS_DIR}/memberships`;
/** A memberships segment's id: the run (as in chainId), the worker, the worker's segment seq. */
export function membershipSegmentId(run: number, worker: number, seq: number): string {
  return `${String(run).padStart(4, '0')}-${String(worker).padStart(2, '0')}-${String(seq).padStart(6, '0')}`;
}
export function membershipSegmentPath(segment: string): string {
  return `${MEMBERSHIP_SEGMENTS_DIR}/${segment}.json`;
}

const Sharding = z.object({
  mode: z.enum(['sub-prefix', 'single']),
  shards: z.union([z.literal(1), z.literal(16), z.literal(256)]),
});

export const ProgressPlan = z.object({
  progressVersion: z.literal(PROGRESS_VERSION),
  tool: z.object({ name: z.string(), version: z.string() }),
  snapshotId: z.string().min(1),
  userPoolId: z.string().min(1),
  startedAt: z.iso.datetime(),
  options: z.object({
    includeSecrets: z.boolean(),
    userMfa: z.boolean().optional(),
    /** age recipients every data file is encrypted to (`encryptTo`): a resume keeps them. */
    encryptTo: z.array(z.string()).optional(),
    /** What was asked for (1, 16, 256); `sharding` is what the probe decided. */
    requestedShards: z.union([z.literal(1), z.literal(16), z.literal(256)]),
    sharding: Sharding.optional(),
  }),
  /** Warnings of the run that are not a unit's own (the sharding probe's). */
  warnings: z.array(Warning),
  resumes: z.array(ResumeEntry),
});
export type ProgressPlan = z.infer<typeof ProgressPlan>;

export const UnitRecord = z.object({
  progressVersion: z.literal(PROGRESS_VERSION),
  unit: z.string().min(1),
  completedAt: z.iso.datetime(),
  /** The unit's files, exactly as the manifest will list them. */
  files: z.array(FileEntry),
  /** Per-unit counts the manifest needs (clients, groups, … for the resources unit). */
  counts: z.record(z.string(), z.number().int().nonnegative()),
  /** Warnings the unit gave (they go into the manifest). */
  warnings: z.array(Warning),
  /** Users shards: the sub prefix listed ('' for a single chain). */
  prefix: z.string().optional(),
});
export type UnitRecord = z.infer<typeof UnitRecord>;

/** One durable segment of a users shard's ListUsers chain (see the top of this file). */
export const PageRecord = z.object({
  progressVersion: z.literal(PROGRESS_VERSION),
  unit: z.string().regex(/^users-\d{5}$/),
  chain: z.string().regex(/^\d{4}-\d{2}$/),
  seq: z.number().int().nonnegative(),
  /** The shard's sub prefix ('' for a single chain). */
  prefix: z.string(),
  /** The segment's part file, exactly as the manifest will list it. */
  file: FileEntry,
  /** sha256 of the previous segment's file (absent for seq 0): the chain links up to here. */
  previous: z.string().optional(),
  /** Users and ListUsers pages of the chain up to and including this segment. */
  users: z.number().int().nonnegative(),
  pages: z.number().int().nonnegative(),
  /** The PaginationToken to continue from; absent when the chain ended with this segment. */
  nextToken: z.string().min(1).optional(),
  /** When Cognito handed out `nextToken` (tokens live about an hour). */
  writtenAt: z.iso.datetime(),
  /** Warnings the chain gave so far (restarts), for the unit's record. */
  warnings: z.array(Warning),
});
export type PageRecord = z.infer<typeof PageRecord>;

/** One durable memberships segment: the whole groups whose members its part file holds. */
export const MembershipSegment = z.object({
  progressVersion: z.literal(PROGRESS_VERSION),
  unit: z.literal(MEMBERSHIPS_UNIT),
  segment: z.string().regex(/^\d{4}-\d{2}-\d{6}$/),
  /** The segment's part file, exactly as the manifest will list it. */
  file: FileEntry,
  /** The groups it holds, complete: indexes into the group names the run listed. */
  groups: z.array(z.number().int().nonnegative()).min(1),
  /** groupNamesDigest of those group names: the indexes hold only for the same names. */
  groupNames: z.string().regex(/^[0-9a-f]{64}$/),
  writtenAt: z.iso.datetime(),
});
export type MembershipSegment = z.infer<typeof MembershipSegment>;

/** sha256 of the group names in order (what a memberships segment's indexes refer to). */
export function groupNamesDigest(names: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(names), 'utf8').digest('hex');
}

export async function writeMembershipSegment(
  snapshot: Storage,
  record: MembershipSegment,
): Promise<void> {
  await snapshot.put(
    membershipSegmentPath(record.segment),
    `${JSON.stringify(MembershipSegment.parse(record))}\n`,
  );
}

/** Every memberships segment record of the snapshot (valid ones by key; invalid keys apart). */
export async function readMembershipSegments(
  snapshot: Storage,
): Promise<{ records: Map<string, MembershipSegment>; invalid: string[] }> {
  return readRecords(
    snapshot,
    MEMBERSHIP_SEGMENTS_DIR,
    /^progress\/memberships\/(\d{4}-\d{2}-\d{6})\.json$/,
    MembershipSegment,
    (r, m) => r.segment === m[1],
  );
}

/**
 * The records under `dir` whose keys match `pattern` (others are not ours: skipped), parsed
 * with `schema` and checked against their key (`matches`): valid ones by key, the keys of
 * unreadable, malformed or misplaced ones apart (a resume deletes them). Read in key order.
 */
async function readRecords<S extends z.ZodType>(
  snapshot: Storage,
  dir: string,
  pattern: RegExp,
  schema: S,
  matches: (record: z.infer<S>, key: RegExpExecArray) => boolean,
): Promise<{ records: Map<string, z.infer<S>>; invalid: string[] }> {
  const records = new Map<string, z.infer<S>>();
  const invalid: string[] = [];
  const keys: string[] = [];
  for await (const e of snapshot.list(dir)) keys.push(e.key);
  for (const key of keys.sort()) {
    const m = pattern.exec(key);
    if (!m) continue;
    const text = await readText(snapshot, key);
    if (text === undefined) continue;
    let record: z.infer<S> | undefined;
    try {
      const r = text === null ? undefined : schema.safeParse(JSON.parse(text));
      record = r?.success ? (r.data as z.infer<S>) : undefined;
    } catch {
      record = undefined;
    }
    if (record !== undefined && matches(record, m)) records.set(key, record);
    else invalid.push(key);
  }
  return { records, invalid };
}

export async function writePageRecord(snapshot: Storage, record: PageRecord): Promise<void> {
  await snapshot.put(
    pageRecordPath(record.unit, record.chain, record.seq),
    `${JSON.stringify(PageRecord.parse(record))}\n`,
  );
}

/** Every page record of the snapshot (valid ones by key; keys of unreadable ones apart). */
export async function readPageRecords(
  snapshot: Storage,
): Promise<{ records: Map<string, PageRecord>; invalid: string[] }> {
  return readRecords(
    snapshot,
    PAGES_DIR,
    /^progress\/pages\/(users-\d{5})\/(\d{4}-\d{2})\/(\d{6})\.json$/,
    PageRecord,
    (r, m) => r.unit === m[1] && r.chain === m[2] && r.seq === Number(m[3]),
  );
}

/**
 * The newest chain of each users unit that links up from seq 0 (each record's `previous` is the
 * sha256 of the one before), cut at the first gap, broken link or record `intact` refuses.
 */
export async function latestChains(
  records: Iterable<PageRecord>,
  intact: (r: PageRecord) => Promise<boolean>,
): Promise<Map<string, PageRecord[]>> {
  const byChain = new Map<string, PageRecord[]>();
  for (const r of records) {
    const k = `${r.unit}/${r.chain}`;
    byChain.set(k, [...(byChain.get(k) ?? []), r]);
  }
  const out = new Map<string, PageRecord[]>();
  for (const k of [...byChain.keys()].sort().reverse()) {
    const list = (byChain.get(k) ?? []).sort((a, b) => a.seq - b.seq);
    const unit = list[0]?.unit ?? '';
    if (out.has(unit)) continue;
    const linked: PageRecord[] = [];
    for (const r of list) {
      const prev = linked[linked.length - 1];
      if (r.seq !== linked.length || r.previous !== prev?.file.sha256) break;
      if (prev && prev.nextToken === undefined) break;
      if (!(await intact(r))) break;
      linked.push(r);
    }
    if (linked.length > 0) out.set(unit, linked);
  }
  return out;
}

/**
 * Progress records are small (a page record, a unit record, the plan): one longer than this is
 * refused by its size before a byte is read, like manifests and leases (a planted 2 GiB file
 * costs nothing to stat and would otherwise be read whole).
 */
export const MAX_PROGRESS_RECORD_BYTES = 1024 * 1024;

/** A record's text; `undefined` when it is absent; `null` when it is over the bound (invalid). */
async function readText(storage: Storage, key: string): Promise<string | undefined | null> {
  try {
    return (await readSmallObject(storage, key, MAX_PROGRESS_RECORD_BYTES)).toString('utf8');
  } catch (e) {
    if (e instanceof StorageError && e.code === 'NOT_FOUND') return undefined;
    if (e instanceof SnapshotInvalidError && e.code === 'SNAPSHOT_INVALID') return null;
    throw e;
  }
}

export type PlanRead =
  | { status: 'ok'; plan: ProgressPlan }
  | { status: 'absent' }
  | { status: 'unknown-format'; version: number }
  | { status: 'invalid'; problem: string };

/**
 * Reads `progress/plan.json`. `absent`: no plan (a snapshot of an older version, or killed
 * before its first write). A storage failure other than NOT_FOUND is thrown (nothing guessed).
 */
export async function readPlan(snapshot: Storage): Promise<PlanRead> {
  const text = await readText(snapshot, PLAN_FILE);
  if (text === undefined) return { status: 'absent' };
  if (text === null)
    return {
      status: 'invalid',
      problem: `${PLAN_FILE} is longer than ${MAX_PROGRESS_RECORD_BYTES} bytes`,
    };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { status: 'invalid', problem: `${PLAN_FILE} is not valid JSON` };
  }
  const version = (raw as { progressVersion?: unknown } | null)?.progressVersion;
  if (typeof version === 'number' && Number.isInteger(version) && version > PROGRESS_VERSION)
    return { status: 'unknown-format', version };
  const parsed = ProgressPlan.safeParse(raw);
  if (!parsed.success)
    return { status: 'invalid', problem: `${PLAN_FILE} is not a valid progress plan` };
  return { status: 'ok', plan: parsed.data };
}

export async function writePlan(snapshot: Storage, plan: ProgressPlan): Promise<void> {
  await snapshot.put(PLAN_FILE, `${JSON.stringify(ProgressPlan.parse(plan), null, 2)}\n`);
}

export async function writeUnitRecord(snapshot: Storage, record: UnitRecord): Promise<void> {
  await snapshot.put(
    unitRecordPath(record.unit),
    `${JSON.stringify(UnitRecord.parse(record), null, 2)}\n`,
  );
}

/**
 * Every readable, valid unit record of the snapshot, by unit. A record that cannot be parsed
 * (or names another unit than its file name) is left out: its unit is run again. A storage
 * failure listing or reading is thrown.
 */
export async function readUnitRecords(
  snapshot: Storage,
): Promise<{ records: Map<string, UnitRecord>; invalid: number }> {
  const records = new Map<string, UnitRecord>();
  let invalid = 0;
  const keys: string[] = [];
  for await (const e of snapshot.list(UNITS_DIR)) keys.push(e.key);
  for (const key of keys.sort()) {
    const m = /^progress\/units\/([a-z0-9-]+)\.json$/.exec(key);
    if (!m) continue;
    const text = await readText(snapshot, key);
    if (text === undefined) continue;
    if (text === null) {
      invalid++;
      continue;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      invalid++;
      continue;
    }
    const parsed = UnitRecord.safeParse(raw);
    if (!parsed.success || parsed.data.unit !== m[1]) {
      invalid++;
      continue;
    }
    records.set(parsed.data.unit, parsed.data);
  }
  return { records, invalid };
}
