import { SnapshotInvalidError, StorageError } from '../core/errors.js';
import type { Storage, StorageEntry } from '../storage/storage.js';
import { MAX_MANIFEST_BYTES, parseSnapshotJson, readSmallObject } from './codec.js';
import { FORMAT_VERSION, MANIFEST_FILE, type Manifest, structuralProblems } from './format.js';
import { isLeaseKey, type LeaseInfo, readLeases } from './lease.js';
import { parseManifest } from './reader.js';

/**
 * What a snapshot is, as far as its manifest tells:
 * - `complete`: manifest.json is there, readable and valid (files are checked by `verify`);
 * - `incomplete`: no manifest.json — the backup was interrupted, died, or is still running;
 * - `unreadable`: manifest.json is there but could not be read or parsed (a 503, KMS or
 *   filesystem permission denied, corrupt JSON) — the reason is in `problem`;
 * - `unknown-format`: manifest.json has a newer `formatVersion` than this version reads;
 * - `damaged`: the manifest reads, but the snapshot is not structurally complete: a file it
 *   lists is missing (or a symbolic link) or stored at another size, a required document is
 *   missing, counts disagree with the files, or its dates lie in the future (a forged or
 *   corrupted manifest, a partial copy) — `problem` says what.
 * Only complete snapshots count for retention; unreadable, unknown-format and damaged ones are
 * never deleted ("could not tell" is not "incomplete") and never a reason to delete another.
 */
export type SnapshotStatus =
  'complete' | 'incomplete' | 'unreadable' | 'unknown-format' | 'damaged';

export interface SnapshotListing {
  /** Key prefix of the snapshot below the root: <userPoolId>/<snapshotId>. */
  path: string;
  userPoolId: string;
  snapshotId: string;
  status: SnapshotStatus;
  /** status === 'complete'. */
  complete: boolean;
  /** Bytes of the snapshot's objects (leases not counted). */
  bytes: number;
  objects: number;
  /** Newest modification time of any of its objects (leases included): its last activity. */
  lastActivity?: Date;
  manifest?: Manifest;
  /** Why it is not complete. */
  problem?: string;
  /** The manifest's formatVersion when it is one this version does not read. */
  formatVersion?: number;
  /** Leases found in the snapshot (live and stale). */
  leases: LeaseInfo[];
}

/** Pool ids (`<region>_<id>`) and snapshot ids (`2026-11-27T17-22-00-123Z`) as backup names them. */
export const POOL_DIR_PATTERN = /^[a-z]{2}(?:-[a-z]+)+-\d+_[0-9a-zA-Z]+$/;
export const SNAPSHOT_ID_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

/**
 * What keeps a snapshot whose manifest reads from counting as complete (see `damaged`): the
 * manifest's structure (structuralProblems, dates against `now`) and each listed file stored at
 * its recorded size, by the listing (`stored`: key → bytes; links are never listed). Empty when
 * it is structurally complete; the first few problems otherwise.
 */
export function completenessProblems(
  m: Manifest,
  stored: ReadonlyMap<string, number>,
  now: Date,
): string[] {
  const problems = structuralProblems(m, now, { requireDocuments: true });
  for (const f of m.files) {
    const bytes = stored.get(f.path);
    if (bytes === undefined) problems.push(`${f.path}: missing (or not a regular file)`);
    else if (bytes !== f.bytes)
      problems.push(`${f.path}: ${bytes} bytes stored, manifest says ${f.bytes}`);
    if (problems.length >= 5) break;
  }
  return problems;
}

/**
 * Reads one snapshot's manifest and says what the snapshot is. Never throws. With `stored`
 * (the snapshot's objects and sizes, from a listing) a readable manifest is also checked for
 * structural completeness (`damaged` otherwise).
 */
export async function classifySnapshot(
  snapshot: Storage,
  hasManifest: boolean,
  stored?: ReadonlyMap<string, number>,
  now: Date = new Date(),
): Promise<Pick<SnapshotListing, 'status' | 'manifest' | 'problem' | 'formatVersion'>> {
  if (!hasManifest) return { status: 'incomplete', problem: 'no manifest (incomplete)' };
  let text: string;
  try {
    // Bounded by its size before a byte is read: a 2 GiB (sparse) manifest costs nothing.
    text = (await readSmallObject(snapshot, MANIFEST_FILE, MAX_MANIFEST_BYTES)).toString('utf8');
  } catch (e) {
    // Listed a moment ago and gone now: a prune (manifest first) or a move is under way. That is
    // "no manifest", which retention only acts on after the grace period.
    if (e instanceof StorageError && e.code === 'NOT_FOUND')
      return { status: 'incomplete', problem: 'no manifest (removed while listing)' };
    return {
      status: 'unreadable',
      problem: `manifest.json unreadable: ${(e as Error)?.message ?? String(e)}`,
    };
  }
  let raw: unknown;
  try {
    const parsed = parseSnapshotJson(text);
    if (!parsed.ok) return { status: 'unreadable', problem: 'manifest.json is not valid JSON' };
    raw = parsed.value;
  } catch (e) {
    return { status: 'unreadable', problem: `manifest.json: ${(e as Error).message}` };
  }
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && Number.isInteger(version) && version > FORMAT_VERSION) {
    return {
      status: 'unknown-format',
      formatVersion: version,
      problem: `formatVersion ${version} is newer than this cognito-vault reads (${FORMAT_VERSION}); upgrade to manage it`,
    };
  }
  try {
    const manifest = parseManifest(text, snapshot.location);
    if (stored) {
      const problems = completenessProblems(manifest, stored, now);
      if (problems.length > 0)
        return {
          status: 'damaged',
          manifest,
          problem: `not structurally complete: ${problems.join('; ')}`,
        };
    }
    return { status: 'complete', manifest };
  } catch (e) {
    return {
      status: 'unreadable',
      problem: e instanceof SnapshotInvalidError ? e.message : String(e),
    };
  }
}

/**
 * Every snapshot under a backup root (`<root>/<userPoolId>/<snapshotId>/…`), with its status.
 * Directories not named like a pool and a snapshot are not snapshots and are left out (they are
 * never pruned). A failure to list the root is a StorageError: nothing is guessed.
 */
export async function listSnapshots(
  root: Storage,
  opts: { now?: Date; userPoolId?: string } = {},
): Promise<SnapshotListing[]> {
  const now = opts.now ?? new Date();
  const found = new Map<
    string,
    {
      bytes: number;
      objects: number;
      newest?: Date;
      hasManifest: boolean;
      leases: StorageEntry[];
      stored: Map<string, number>;
    }
  >();
  for await (const e of root.list(opts.userPoolId)) {
    const parts = e.key.split('/');
    if (parts.length < 3) continue;
    const [pool = '', snap = ''] = parts;
    if (!POOL_DIR_PATTERN.test(pool) || !SNAPSHOT_ID_PATTERN.test(snap)) continue;
    const key = `${pool}/${snap}`;
    const cur = found.get(key) ?? {
      bytes: 0,
      objects: 0,
      hasManifest: false,
      leases: [],
      stored: new Map<string, number>(),
    };
    const rel = parts.slice(2).join('/');
    if (isLeaseKey(rel)) cur.leases.push({ ...e, key: rel });
    else {
      cur.bytes += e.bytes;
      cur.objects++;
      cur.stored.set(rel, e.bytes);
    }
    if (e.modified && (!cur.newest || e.modified > cur.newest)) cur.newest = e.modified;
    if (rel === MANIFEST_FILE) cur.hasManifest = true;
    found.set(key, cur);
  }
  const out: SnapshotListing[] = [];
  for (const [path, info] of found) {
    const [userPoolId = '', snapshotId = ''] = path.split('/');
    const snap = root.child(path);
    const classified = await classifySnapshot(snap, info.hasManifest, info.stored, now);
    const leases = info.leases.length ? await readLeases(snap, now, info.leases) : [];
    out.push({
      path,
      userPoolId,
      snapshotId,
      ...classified,
      complete: classified.status === 'complete',
      bytes: info.bytes,
      objects: info.objects,
      ...(info.newest ? { lastActivity: info.newest } : {}),
      leases,
    });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}
