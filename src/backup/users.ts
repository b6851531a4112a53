import {
  type ListUsersCommandOutput,
  paginateListUsers,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { CognitoError, InterruptedError, ServiceUnavailableError } from '../core/errors.js';
import { opt } from '../core/options.js';
import { isExpiredPaginationToken } from '../cognito/errors.js';
import type { CallOptions } from '../cognito/gateway.js';
import {
  type FileEntry,
  type Json,
  PART_DIRS,
  partPath,
  type UserRecord,
  type Warning,
} from '../snapshot/format.js';
import {
  chainId,
  type PageRecord,
  pageRecordPath,
  PROGRESS_VERSION,
  usersUnit,
  writePageRecord,
  writePlan,
} from '../snapshot/progress.js';
import type { SnapshotWriter } from '../snapshot/writer.js';
import { adoptUnit, recordUnit } from './records.js';
import type { BackupPlan, BackupRun, Tally } from './run-state.js';
import { allOrAbort, settledAlready, untilAborted } from './tasks.js';
import { UserMfaReader, type UserMfaSettings } from './user-mfa.js';

/**
 * The users step. The pool is split into shards by the first hex digits of `sub` (16 or 256
 * `sub ^= "…"` filters; one chain when Cognito refuses the filter), at most MAX_OPEN_SHARDS
 * ListUsers chains at a time. Each shard is one unit (`users-NNNNN`), written as a chain of
 * segments: a segment is a part file closed at a page boundary `checkpointEveryMs` after it was
 * opened, and once it is stored a page record (progress/pages/…) says how far the chain got and
 * with which pagination token it continues. A resume continues an unfinished shard from its last
 * page record while Cognito takes the token, and lists it again from its start, into a clean
 * chain, when Cognito refuses it (tokens live about an hour). A chain whose token expires during
 * the run is restarted the same way, at most MAX_CHAIN_RESTARTS times. Stopped by the caller
 * (Ctrl-C, SIGTERM, a Lambda deadline), each open segment is closed at its last page and stored
 * before the run ends: only a kill loses the pages of the open segments.
 */

/** ListUsers chains open at once (see captureUsers). */
export const MAX_OPEN_SHARDS = 16;

/** Times one ListUsers chain is listed again after its pagination token expired. */
export const MAX_CHAIN_RESTARTS = 2;

/** Default `checkpointEveryMs`: a segment spans the pages of about one second. */
export const CHECKPOINT_EVERY_MS = 1_000;

/**
 * A segment's part file (users shards and memberships workers alike): `<dir>/part-NNNNN<run
 * suffix>.jsonl.gz` for a chain's first segment (one listed in one segment has the name it always
 * had), `…-sNNNNNN` after. The run suffix keeps a resumed run's segments apart from an earlier
 * run's unrecorded ones; a chain restarted in the same run overwrites the discarded chain's names.
 */
export function segmentPath(dir: string, index: number, runSuffix: string, seq: number): string {
  const seqSuffix = seq > 0 ? `-s${String(seq).padStart(6, '0')}` : '';
  return partPath(dir, index, `${runSuffix}${seqSuffix}`);
}

/** What the users step works with (the run, its plan, the tally it adds to). */
interface UsersContext {
  readonly run: BackupRun;
  readonly planned: BackupPlan;
  readonly tally: Tally;
  readonly shards: 1 | 16 | 256;
  readonly mfa: UserMfaReader | undefined;
  readonly everyMs: number;
}

/** One shard to list: its unit, its filter prefix, and where an earlier run left it. */
interface Shard {
  readonly index: number;
  readonly unit: string;
  readonly prefix: string;
  /** The sharding probe's first page (shard "0" of a new snapshot). */
  readonly started: ProbedShard | undefined;
  /** An earlier run's page records of this shard, linked from seq 0. */
  readonly stored: readonly PageRecord[] | undefined;
}

/** A shard whose first page was asked for before its turn (the probe, or an early start). */
interface ProbedShard {
  readonly prefix: string;
  readonly first: Promise<IteratorResult<ListUsersCommandOutput>>;
  readonly rest: AsyncIterator<ListUsersCommandOutput>;
}

/** First pages asked for before the plan exists, so that UserList is busy from the start. */
export interface EarlyStart {
  readonly shards: 1 | 16 | 256;
  readonly started: ReadonlyMap<string, ProbedShard>;
}

/**
 * Asks for the first page of each of the first MAX_OPEN_SHARDS shards at once, while the pool is
 * described and the snapshot planned (a new snapshot: `shards` as asked, 16 when left to the
 * pool's size). captureUsers takes them when the sharding decided matches (else they are
 * dropped: a pool of over two million users, split 256 ways, wastes 16 calls).
 */
export function startEarly(run: BackupRun, shards: 1 | 16 | 256): EarlyStart {
  const started = new Map<string, ProbedShard>();
  for (const prefix of hexPrefixes(shards).slice(0, MAX_OPEN_SHARDS))
    started.set(prefix, startShard(run, prefix, shards));
  return { shards, started };
}

function startShard(run: BackupRun, prefix: string, shards: 1 | 16 | 256): ProbedShard {
  const rest = usersPages(run, prefix ? `sub ^= "${prefix}"` : undefined, {
    background: shards > 1,
  });
  const first = rest.next();
  first.catch(() => undefined); // awaited by its shard, or dropped
  return { prefix, first, rest };
}

/** One segment being written: its pages so far and the token after its last page. */
interface Segment {
  users: number;
  pages: number;
  token: string | undefined;
  ended: boolean;
}

/** How far one chain got: its stored segments and the token to continue from. */
interface Chain {
  readonly id: string;
  readonly files: FileEntry[];
  seq: number;
  /** Users in the stored segments. */
  users: number;
  /** Users listed, stored or not (the progress count this chain added). */
  listed: number;
  pages: number;
  previous: string | undefined;
  token: string | undefined;
  ended: boolean;
}

export async function captureUsers(
  run: BackupRun,
  planned: BackupPlan,
  tally: Tally,
  mfa: UserMfaReader | undefined,
  early?: EarlyStart,
): Promise<void> {
  run.progress({ type: 'phase', phase: 'users' });
  const { shards, started } = await decideSharding(run, planned, early);
  const ctx: UsersContext = {
    run,
    planned,
    tally,
    shards,
    mfa,
    everyMs: Math.max(0, run.opts.checkpointEveryMs ?? CHECKPOINT_EVERY_MS),
  };
  // At most MAX_OPEN_SHARDS chains at a time: enough to keep UserList busy at any round trip,
  // and each chain finishes well inside the 1-hour life of a pagination token even when a pool
  // is split 256 ways (256 concurrent chains would each crawl for hours).
  const todo: (() => Promise<void>)[] = [];
  for (const [index, prefix] of hexPrefixes(shards).entries()) {
    const unit = usersUnit(index);
    const done = planned.kept.get(unit);
    if (done) {
      adoptUnit(run, planned, done);
      tally.users += done.files.reduce((n, f) => n + f.records, 0);
      continue;
    }
    const stored = planned.chains.get(unit);
    if (stored) tally.users += stored[stored.length - 1]?.users ?? 0;
    // The first pages already asked for (the probe's, an early start's): not fetched twice.
    const probed = started?.get(prefix);
    todo.push(() => listShard(ctx, { index, unit, prefix, started: probed, stored }));
  }
  if (planned.kept.size > 0 || planned.chains.size > 0)
    run.progress({ type: 'users', done: tally.users });
  await allOrAbort(todo, run, MAX_OPEN_SHARDS);
}

/**
 * The sharding of the snapshot: decided by the run that started it (the kept shards' files
 * depend on it), else by the probe, and written into the plan before any shard is recorded.
 */
async function decideSharding(
  run: BackupRun,
  planned: BackupPlan,
  early: EarlyStart | undefined,
): Promise<{ shards: 1 | 16 | 256; started?: ReadonlyMap<string, ProbedShard> }> {
  const { plan } = planned;
  if (plan.options.sharding) {
    run.warnings.push(...plan.warnings);
    return { shards: plan.options.sharding.shards };
  }
  const probeWarnings: Warning[] = [];
  const requested = plan.options.requestedShards;
  const taken = early?.shards === requested ? early.started : undefined;
  const probe =
    requested === 1
      ? { shards: 1 as const, ...(taken ? { started: taken } : {}) }
      : await probeSharding(
          run,
          requested,
          (w) => {
            probeWarnings.push(w);
            run.warn(w);
          },
          taken,
        );
  plan.options.sharding = {
    mode: probe.shards === 1 ? 'single' : 'sub-prefix',
    shards: probe.shards,
  };
  plan.warnings = probeWarnings;
  await writePlan(planned.snap, plan);
  return probe;
}

/**
 * Awaits the first answer to a first page of the shards asked for early (else shard "0", asked
 * for now) to learn whether Cognito takes the `sub ^=` filter; falls back to a single ListUsers
 * chain (and says so) when it does not. The pages asked for are kept for their shards.
 */
async function probeSharding(
  run: BackupRun,
  shards: 16 | 256,
  warn: (w: Warning) => void,
  early: ReadonlyMap<string, ProbedShard> | undefined,
): Promise<{ shards: 1 | 16 | 256; started?: ReadonlyMap<string, ProbedShard> }> {
  const prefix = shards === 16 ? '0' : '00';
  const started = early ?? new Map([[prefix, startShard(run, prefix, shards)]]);
  try {
    // Whichever first page answers first: Cognito takes or refuses the filter for every
    // prefix alike, and the pages of the shards that answered are stored at once instead of
    // waiting for shard "0" (paced, its call may come last of the sixteen).
    await Promise.race([...started.values()].map((s) => s.first));
    return { shards, started };
  } catch (e) {
    if (
      e instanceof CognitoError &&
      (e.awsCode === 'InvalidParameterException' || e.awsCode === 'ValidationException')
    ) {
      warn({
        code: 'SHARDING_REFUSED',
        operation: 'ListUsers',
        message: `Cognito refused the sub prefix filter (${e.awsCode}); listing users in one chain, which is slower`,
      });
      return { shards: 1 };
    }
    throw e;
  }
}

/**
 * One shard into its unit: continued from an earlier run's page records, else listed from its
 * start. If Cognito refuses the chain's pagination token (it expires them after one hour: a
 * stored token, a chain slowed by throttling, or the single chain of a large pool when sharding
 * is refused), the shard is listed again from its start into a new chain — one chain writes its
 * own segments, so nothing is duplicated — and the manifest says so. After MAX_CHAIN_RESTARTS
 * restarts of chains this run started, the backup fails instead.
 */
async function listShard(ctx: UsersContext, shard: Shard): Promise<void> {
  const { run, planned, tally } = ctx;
  const warnings: Warning[] = [...(shard.stored?.[shard.stored.length - 1]?.warnings ?? [])];
  const warn = (w: Warning): void => {
    warnings.push(w);
    run.warn(w);
  };
  const what = shard.prefix
    ? `the ListUsers chain of shard "${shard.prefix}"`
    : 'the ListUsers chain';
  let stored = shard.stored;
  let started = shard.started;
  for (let restarts = 0; ; restarts++) {
    if (stored) tally.shardsContinued++;
    const chain = stored ? continuedChain(stored) : newChain(chainId(planned.runIndex, restarts));
    const listedBefore = chain.listed;
    const t0 = performance.now();
    const writer = planned.segmentWriter();
    try {
      await writeChain(ctx, shard, chain, started, writer, warnings);
      for (const f of chain.files) planned.writer.adopt(f);
      await recordUnit(planned, tally, {
        unit: shard.unit,
        files: chain.files,
        counts: { users: chain.users },
        warnings,
        prefix: shard.prefix,
      });
      // The unit record supersedes the shard's page records (a resume ignores them): removed
      // now, while other shards list, rather than all at the commit.
      await forgetPageRecords(planned, shard.unit, chain);
      return;
    } catch (e) {
      tally.users -= chain.listed;
      if (!isExpiredPaginationToken(e) || run.signal.aborted) throw e;
      await discardChain(planned, shard.unit, chain);
      if (stored && chain.listed === listedBefore) {
        warn({
          code: 'LISTUSERS_CHAIN_RESTARTED',
          operation: 'ListUsers',
          message: `${what} could not continue from the pagination token an earlier run stored (Cognito expires them after one hour); that shard was listed again from its start`,
        });
      } else {
        const minutes = Math.round((performance.now() - t0) / 60_000);
        if (restarts >= MAX_CHAIN_RESTARTS) {
          throw new ServiceUnavailableError(
            'PAGINATION_EXPIRED',
            `${what} lost its pagination token ${restarts + 1} times (Cognito expires them after one hour); the backup cannot complete at this rate — raise the UserList rate (${opt('rateShare')}, ${opt('maxRps')} UserList=N) or use more shards`,
            { operation: 'ListUsers', restarts },
            { cause: e },
          );
        }
        warn({
          code: 'LISTUSERS_CHAIN_RESTARTED',
          operation: 'ListUsers',
          message: `${what} lost its pagination token after ${minutes} min (Cognito expires them after one hour); that part was listed again from the start`,
        });
      }
      stored = undefined;
      started = undefined;
    }
  }
}

function newChain(id: string): Chain {
  return {
    id,
    files: [],
    seq: 0,
    users: 0,
    listed: 0,
    pages: 0,
    previous: undefined,
    token: undefined,
    ended: false,
  };
}

/** The chain an earlier run stored, to continue from its last token. */
function continuedChain(stored: readonly PageRecord[]): Chain {
  const last = stored[stored.length - 1] as PageRecord;
  return {
    id: last.chain,
    files: stored.map((r) => r.file),
    seq: last.seq + 1,
    users: last.users,
    listed: last.users,
    pages: last.pages,
    previous: last.file.sha256,
    token: last.nextToken,
    ended: last.nextToken === undefined,
  };
}

/**
 * Lists the chain to its end, segment by segment: each segment is a part file of the pages one
 * `checkpointEveryMs` brings, and once its put resolved (durable) a page record holds the users
 * so far and the token to continue from.
 */
async function writeChain(
  ctx: UsersContext,
  shard: Shard,
  chain: Chain,
  started: ProbedShard | undefined,
  writer: SnapshotWriter,
  warnings: readonly Warning[],
): Promise<void> {
  const { run, planned, tally } = ctx;
  if (chain.ended) return;
  const filter = shard.prefix ? `sub ^= "${shard.prefix}"` : undefined;
  // Shards run in the background: a group's member pages (one sequential chain each) must not
  // queue behind sixteen shards in the UserList schedule.
  const pages: AsyncIterator<ListUsersCommandOutput> =
    started && chain.seq === 0
      ? withFirst(started)
      : usersPages(run, filter, {
          background: ctx.shards > 1,
          ...(chain.token ? { startingToken: chain.token } : {}),
        });
  while (!chain.ended) {
    // Stopped: no new segment, except the first of a chain whose first page, asked for early,
    // has answered (stored, not dropped).
    if (run.stopping() && !(chain.seq === 0 && started && (await settledAlready(started.first))))
      throw new InterruptedError();
    const segment: Segment = { users: 0, pages: 0, token: chain.token, ended: false };
    const file = await writer.writeJsonLines(
      segmentPath(PART_DIRS.users, shard.index, planned.partSuffix, chain.seq),
      'users',
      segmentRecords(ctx, pages, segment, chain),
    );
    // Drained at a stop before its first page: nothing to record (the file is a leftover a
    // resume removes).
    if (segment.pages === 0 && !segment.ended) throw new InterruptedError();
    chain.files.push(file);
    chain.users += segment.users;
    chain.pages += segment.pages;
    chain.token = segment.token;
    chain.ended = segment.ended;
    await writePageRecord(planned.snap, {
      progressVersion: PROGRESS_VERSION,
      unit: shard.unit,
      chain: chain.id,
      seq: chain.seq,
      prefix: shard.prefix,
      file,
      ...(chain.previous !== undefined ? { previous: chain.previous } : {}),
      users: chain.users,
      pages: chain.pages,
      ...(chain.ended || !chain.token ? {} : { nextToken: chain.token }),
      writtenAt: new Date().toISOString(),
      warnings: [...warnings],
    });
    tally.durableRecords++;
    chain.previous = file.sha256;
    chain.seq++;
  }
}

/**
 * The records of one segment: pages pulled from the chain until a page ends `everyMs` after the
 * segment opened (or the chain ends). Pulls with `next()`, so that the chain's paginator stays
 * open for the next segment.
 */
async function* segmentRecords(
  ctx: UsersContext,
  pages: AsyncIterator<ListUsersCommandOutput>,
  segment: Segment,
  chain: Chain,
): AsyncGenerator<Json<UserRecord>> {
  const opened = performance.now();
  const estimated = ctx.planned.pool.EstimatedNumberOfUsers;
  for (;;) {
    let next: IteratorResult<ListUsersCommandOutput>;
    const pending = pages.next();
    try {
      next = await untilAborted(pending, ctx.run.signal);
    } catch (e) {
      if (!ctx.run.stopping()) throw e;
      // Stopped by the caller (the call in flight was aborted): the segment ends with the pages
      // it holds — and the one that had answered already, if any — and is stored, so that the
      // run's listing is not lost.
      const answered = await settledAlready(pending);
      if (!answered) return;
      next = answered;
    }
    if (next.done) {
      segment.ended = true;
      return;
    }
    const users = next.value.Users ?? [];
    if (ctx.mfa) await ctx.mfa.readPage(users);
    for (const u of users) yield userRecord(u, ctx.mfa?.settings);
    segment.users += users.length;
    segment.pages++;
    segment.token = next.value.PaginationToken;
    chain.listed += users.length;
    ctx.tally.users += users.length;
    ctx.run.progress({
      type: 'users',
      done: ctx.tally.users,
      ...(estimated !== undefined ? { total: estimated } : {}),
    });
    if (!segment.token) {
      segment.ended = true;
      return;
    }
    if (performance.now() - opened >= ctx.everyMs) return;
  }
}

/** Deletes a finished chain's page records, side by side (best effort: commit removes the rest). */
async function forgetPageRecords(planned: BackupPlan, unit: string, chain: Chain): Promise<void> {
  const keys = Array.from({ length: chain.seq }, (_, seq) => pageRecordPath(unit, chain.id, seq));
  await Promise.all(keys.map((k) => planned.snap.delete(k).catch(() => undefined)));
}

/**
 * Drops a chain whose token Cognito refused: its page records (required, so that no later
 * resume continues it), then its segment files (best effort; unlisted files are ignored).
 */
async function discardChain(planned: BackupPlan, unit: string, chain: Chain): Promise<void> {
  for (let seq = 0; seq < chain.seq; seq++)
    await planned.snap.delete(pageRecordPath(unit, chain.id, seq));
  for (const f of chain.files) await planned.snap.delete(f.path).catch(() => undefined);
}

/** One ListUsers chain (the SDK's paginator on the paced client, 60 users a page). */
function usersPages(
  run: BackupRun,
  filter: string | undefined,
  opts: CallOptions & { startingToken?: string },
): AsyncIterator<ListUsersCommandOutput> {
  const input = { UserPoolId: run.poolId, ...(filter ? { Filter: filter } : {}) };
  return run.gw.pages(paginateListUsers, input, opts)[Symbol.asyncIterator]();
}

async function* withFirst(
  started: ProbedShard,
): AsyncGenerator<ListUsersCommandOutput, void, undefined> {
  const first = await started.first;
  if (first.done) return;
  yield first.value;
  for (let n = await started.rest.next(); !n.done; n = await started.rest.next()) yield n.value;
}

function hexPrefixes(n: 1 | 16 | 256): string[] {
  if (n === 1) return [''];
  const hex = '0123456789abcdef'.split('');
  return n === 16 ? hex : hex.flatMap((a) => hex.map((b) => a + b));
}

/** A user record as stored: ListUsers' UserType, dates as ISO strings. */
function userRecord(u: UserType, mfa?: Map<string, UserMfaSettings>): Json<UserRecord> {
  const m = u.Username ? mfa?.get(u.Username) : undefined;
  if (m && u.Username) mfa?.delete(u.Username);
  return {
    Username: u.Username ?? '',
    Attributes: (u.Attributes ?? []).map((a) => ({ ...a, Name: a.Name ?? '' })),
    UserCreateDate: u.UserCreateDate?.toISOString(),
    UserLastModifiedDate: u.UserLastModifiedDate?.toISOString(),
    Enabled: u.Enabled,
    UserStatus: u.UserStatus,
    MFAOptions: u.MFAOptions ?? [],
    ...(m
      ? { UserMFASettingList: m.list, ...(m.preferred ? { PreferredMfaSetting: m.preferred } : {}) }
      : {}),
  };
}
