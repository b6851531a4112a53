import { paginateListUsersInGroup } from '@aws-sdk/client-cognito-identity-provider';
import { z } from 'zod';
import { InterruptedError, SnapshotInvalidError } from '../core/errors.js';
import { type FileEntry, FILES, type MembershipRecord, PART_DIRS } from '../snapshot/format.js';
import {
  groupNamesDigest,
  type MembershipSegment,
  membershipSegmentId,
  membershipSegmentPath,
  MEMBERSHIPS_UNIT,
  PROGRESS_VERSION,
  writeMembershipSegment,
} from '../snapshot/progress.js';
import type { Storage } from '../storage/storage.js';
import type { BackupPlan, BackupRun, Tally } from './run-state.js';
import { allOrAbort, untilAborted } from './tasks.js';
import { CHECKPOINT_EVERY_MS, segmentPath } from './users.js';

/**
 * The memberships step: every member of every group in groups.json (ListUsersInGroup, one
 * sequential chain per group), `membershipWorkers` groups at a time. They share the UserList
 * quota with the users step, whose shards run in the background so that these short chains do
 * not queue behind them; the first worker's chain goes before the other workers' too.
 *
 * Each worker writes segments: a part file of whole groups, closed at a group boundary
 * `checkpointEveryMs` after it was opened, and once it is stored a segment record
 * (progress/memberships/…) names its groups. A resume lists only the groups no stored segment
 * holds. A group's members are held back until its listing ends (up to MEMBERS_HELD), so that a
 * stop (Ctrl-C, a Lambda deadline) closes the open segment at its last whole group and stores it.
 */

/** Members of one group held back until its listing ends; a larger group is streamed. */
export const MEMBERS_HELD = 10_000;

/** Groups in one segment at most (its record names them). */
const MAX_SEGMENT_GROUPS = 1_000;

/** Workers at most (a segment id has two digits for the worker). */
const MAX_WORKERS = 64;

/** What the workers share: the run, the groups still to list, where they are. */
interface MembershipsContext {
  readonly run: BackupRun;
  readonly planned: BackupPlan;
  readonly tally: Tally;
  readonly groupNames: readonly string[];
  readonly digest: string;
  readonly todo: readonly number[];
  readonly everyMs: number;
  readonly files: FileEntry[];
  next: number;
  groupsDone: number;
}

/** One segment being written: the whole groups in it so far. */
interface Segment {
  groups: number[];
}

/**
 * Lists the members of the groups earlier runs' segments do not hold. Returns every file of the
 * unit (the stored segments' and this run's), not yet adopted into the manifest.
 */
export async function captureMemberships(
  run: BackupRun,
  planned: BackupPlan,
  tally: Tally,
  groupNames: readonly string[],
): Promise<FileEntry[]> {
  const digest = groupNamesDigest(groupNames);
  const { stored, done } = await storedSegments(planned, groupNames.length, digest);
  const files = stored.map((s) => s.file);
  tally.memberships += files.reduce((n, f) => n + f.records, 0);
  const ctx: MembershipsContext = {
    run,
    planned,
    tally,
    groupNames,
    digest,
    todo: groupNames.map((_, i) => i).filter((i) => !done.has(i)),
    everyMs: Math.max(0, run.opts.checkpointEveryMs ?? CHECKPOINT_EVERY_MS),
    files,
    next: 0,
    groupsDone: done.size,
  };
  if (ctx.todo.length === 0) return files;
  const workers = Math.max(
    1,
    Math.min(run.opts.membershipWorkers ?? 4, ctx.todo.length, MAX_WORKERS),
  );
  await allOrAbort(
    Array.from({ length: workers }, (_, w) => () => membershipWorker(ctx, w)),
    run,
  );
  return files;
}

/**
 * The segments earlier runs stored that hold groups of these names (the same names in the same
 * order: their digest), none twice. The others are removed (record first, best effort).
 */
async function storedSegments(
  planned: BackupPlan,
  groups: number,
  digest: string,
): Promise<{ stored: MembershipSegment[]; done: Set<number> }> {
  const done = new Set<number>();
  const stored: MembershipSegment[] = [];
  for (const s of [...planned.segments].sort((a, b) => a.segment.localeCompare(b.segment))) {
    if (s.groupNames === digest && s.groups.every((i) => i < groups && !done.has(i))) {
      for (const i of s.groups) done.add(i);
      stored.push(s);
      continue;
    }
    try {
      await planned.snap.delete(membershipSegmentPath(s.segment));
      await planned.snap.delete(s.file.path);
    } catch {
      // Harmless: a segment whose groups differ is never taken, an unlisted part never read.
    }
  }
  return { stored, done };
}

/** One worker: segment after segment until no group is left (or the run stops). */
async function membershipWorker(ctx: MembershipsContext, worker: number): Promise<void> {
  const { run, planned, tally } = ctx;
  const writer = planned.segmentWriter();
  for (let seq = 0; ; seq++) {
    if (run.stopping()) throw new InterruptedError();
    const first = ctx.todo[ctx.next];
    if (first === undefined) return;
    ctx.next++;
    const segment: Segment = { groups: [] };
    const file = await writer.writeJsonLines(
      segmentPath(PART_DIRS.memberships, worker, planned.partSuffix, seq),
      'memberships',
      segmentMembers(ctx, segment, first, worker),
    );
    // Stopped before its first group was whole: nothing to record (the file is a leftover a
    // resume removes).
    if (segment.groups.length === 0) throw new InterruptedError();
    await writeMembershipSegment(planned.snap, {
      progressVersion: PROGRESS_VERSION,
      unit: MEMBERSHIPS_UNIT,
      segment: membershipSegmentId(planned.runIndex, worker, seq),
      file,
      groups: segment.groups,
      groupNames: ctx.digest,
      writtenAt: new Date().toISOString(),
    });
    tally.durableRecords++;
    ctx.files.push(file);
  }
}

/**
 * The records of one segment: whole groups, `first` and then the next ones, until a group ends
 * `everyMs` after the segment opened, no group is left, or the run stops. A group's members are
 * held until its listing ends: stopped meanwhile, the segment ends without that group.
 */
async function* segmentMembers(
  ctx: MembershipsContext,
  segment: Segment,
  first: number,
  worker: number,
): AsyncGenerator<MembershipRecord> {
  const { run, tally } = ctx;
  const opened = performance.now();
  for (let i: number | undefined = first; i !== undefined;) {
    const group = ctx.groupNames[i] ?? '';
    let held: MembershipRecord[] = [];
    let streamed = 0;
    // One chain per group (the SDK's paginator); `untilAborted`: a call that does not end on a
    // stop (a hung connection) does not hold the segment open.
    const pages = run.gw
      .pages(
        paginateListUsersInGroup,
        { UserPoolId: run.poolId, GroupName: group },
        // One chain goes first, the others take what UserList has left: at a low rate the
        // groups end one after another (each a checkpoint) rather than all at the end.
        { background: worker > 0 },
      )
      [Symbol.asyncIterator]();
    try {
      for (let n = await untilAborted(pages.next(), run.signal); !n.done;) {
        for (const u of n.value.Users ?? []) held.push({ group, username: u.Username ?? '' });
        if (held.length >= MEMBERS_HELD) {
          streamed += held.length;
          yield* held;
          held = [];
        }
        n = await untilAborted(pages.next(), run.signal);
      }
    } catch (e) {
      // Stopped while listing the group: the segment ends with the whole groups it holds.
      if (run.stopping() && streamed === 0) return;
      throw e;
    }
    yield* held;
    const members = streamed + held.length;
    segment.groups.push(i);
    tally.memberships += members;
    ctx.groupsDone++;
    run.progress({
      type: 'memberships',
      done: tally.memberships,
      groupsDone: ctx.groupsDone,
      groups: ctx.groupNames.length,
    });
    if (run.stopping()) return;
    if (performance.now() - opened >= ctx.everyMs) return;
    if (segment.groups.length >= MAX_SEGMENT_GROUPS) return;
    i = ctx.todo[ctx.next];
    if (i !== undefined) ctx.next++;
  }
}

/** The group names of the snapshot's groups.json (memberships are listed for exactly those). */
export async function recordedGroupNames(snap: Storage): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of await snap.get(FILES.groups))
    chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  const parsed = z
    .array(z.looseObject({ GroupName: z.string().min(1) }))
    .safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
  if (!parsed.success)
    throw new SnapshotInvalidError(`${snap.location}/${FILES.groups} is not a list of groups`);
  return parsed.data.map((g) => g.GroupName);
}
