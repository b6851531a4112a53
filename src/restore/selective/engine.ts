import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type {
  SchemaAttributeType,
  UserPoolType,
  UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { forEachConcurrent } from '../../core/concurrency.js';
import {
  ExitCode,
  InterruptedError,
  TargetIncompatibleError,
  UsageError,
  VaultError,
} from '../../core/errors.js';
import { opt } from '../../core/options.js';
import { noProgress } from '../../core/progress.js';
import type { CognitoGateway } from '../../cognito/gateway.js';
import { MembershipRecord, UserRecord } from '../../snapshot/format.js';
import { underReadLease } from '../../snapshot/read-lease.js';
import type { SnapshotReader } from '../../snapshot/reader.js';
import { assertWritableDir, assertWritableFile } from '../../storage/local.js';
import { arnPreflight } from '../preflight/arns.js';
import {
  assertJournalMatches,
  JOURNAL_FILE,
  type JournalState,
  readJournal,
  RestoreJournal,
} from '../state/journal.js';
import { type LockSlot, releaseUntaken, takeLock } from '../state/lock.js';
import { CLIENT_MAP_FILE, REPORT_FILE, selectiveStateDir, SUB_MAP_FILE } from '../state/outputs.js';
import {
  compatibilityDifferences,
  describeTargetPool,
  legacyAttributeName,
} from '../pool/target.js';
import { loadSnapshot, newUserScan, scanUser, type SnapshotData } from '../preflight/snapshot.js';
import { attributeOf, isExternalProvider, requiredAttributes } from '../../snapshot/user-record.js';
import { PASSWORD_STATES } from '../users/sign-in.js';
import type { RestoreWarning } from '../types.js';
import { applyPlan } from './apply.js';
import {
  attributeRevert,
  clientFields,
  groupFields,
  identityProviderFields,
  resourceServerFields,
} from './compare.js';
import { type SelectivePlan, type SelectiveRun, totalCalls } from './run-state.js';
import {
  findUserBy,
  groupsOfUser,
  type LiveResources,
  membersOf,
  readLiveResources,
  scanUsers,
} from './live.js';
import { type MembershipChange, PlanBuilder, type ResourceWork, type UserWork } from './plan.js';
import { readSelectiveJournal, SELECTIVE_JOURNAL_FILE } from './journal.js';
import {
  KIND_SELECTOR,
  type ResolvedSelection,
  resolveSelection,
  selectionDigest,
  SELECTOR_OPTIONS,
  selectorName,
} from './selection.js';
import {
  EXISTING_MODES,
  type ExistingMode,
  RESOURCE_KINDS,
  type ResourceKind,
  type SelectiveOptions,
  type SelectiveOutcome,
  type SelectivePlanResult,
} from './types.js';

/** Selections up to this many users are looked up one by one (ListUsers filters). */
export const DEFAULT_LOOKUP_LIMIT = 100;

/**
 * Selective restore into a live pool: only what the selection names (users, groups and their
 * members, app clients, identity providers, resource servers, or what `diff` finds) is created
 * when missing or — with `existing: 'revert'` — put back to the snapshot's values when it
 * exists. Nothing outside the selection is written and nothing is ever deleted from the pool
 * (a revert removes a selected user's memberships and attributes added since the snapshot).
 *
 * Plan first (read-only: the snapshot once, the pool by ListUsers filters for small selections),
 * then — unless dry run, or a `planHash` that no longer matches (exit 9) — apply, journaled in
 * the state directory like a full restore: a killed run is resumed by the same command. The
 * whole run holds a read lease on the snapshot (as restoreSnapshot does), so a library caller is
 * protected from a concurrent prune as the CLI is.
 */
export async function restoreSelection(
  gw: CognitoGateway,
  reader: SnapshotReader,
  target: { userPoolId: string },
  options: SelectiveOptions & { dryRun?: boolean },
): Promise<SelectiveOutcome> {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onOuterAbort = (): void => controller.abort(new InterruptedError());
  if (options.signal?.aborted) throw new InterruptedError();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const progress = options.onProgress ?? noProgress;
  const warnings = new Map<string, RestoreWarning>();
  const run: SelectiveRun = {
    gw: gw.withSignal(controller.signal),
    reader,
    poolId: target.userPoolId,
    options,
    progress,
    signal: controller.signal,
    now: options.now ?? (() => new Date()),
    warnings,
    warn: (w) => {
      if (warnings.has(w.message)) return;
      warnings.set(w.message, w);
      progress({ type: 'warning', code: w.code, message: w.message });
    },
    t0: performance.now(),
    callsBefore: totalCalls(gw),
    dryRun: Boolean(options.dryRun),
  };
  const slot: LockSlot = {
    lock: undefined,
    createdStateDir: false,
  };
  try {
    // The whole run — the differences, the plan, the writes — under a read lease on the snapshot
    // (a concurrent prune leaves it alone; snapshot/read-lease.ts).
    return await underReadLease(reader, 'restore', progress, async () => {
      const plan = await computePlan(await withDifferences(run), slot);
      if (run.dryRun) return planResult(run, plan);
      checkPlanHash(run, plan);
      return await applyPlan(run, plan, takeLock(slot)); // the journal owns the lock now
    });
  } catch (e) {
    if (options.signal?.aborted) throw new InterruptedError();
    throw e;
  } finally {
    // Stopped before the journal took over (exit 2, 4, 9…): no state directory left behind.
    releaseUntaken(slot);
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** `findDifferences` (when given) called under the lease: its result is the selection's differences. */
async function withDifferences(run: SelectiveRun): Promise<SelectiveRun> {
  const find = run.options.findDifferences;
  if (!find) return run;
  run.progress({
    type: 'phase',
    phase: 'preflight',
    detail: `comparing the snapshot with the pool (${opt('selection.differences')})`,
  });
  const differences = await find(run.signal);
  return {
    ...run,
    options: { ...run.options, selection: { ...run.options.selection, differences } },
  };
}

/** `planHash`: the plan computed now must be the one reviewed (a resumed run: the first run's). */
function checkPlanHash(run: SelectiveRun, plan: SelectivePlan): void {
  const want = run.options.planHash;
  if (!want) return;
  if (plan.hash === want) return;
  if (plan.priorPlanHash === want) return; // checked by the run that started this restore
  throw new VaultError(
    'PLAN_CHANGED',
    `the plan computed now (${plan.hash.slice(0, 12)}…) is not the reviewed one (${opt('planHash')} ${want.slice(0, 12)}…): the pool or the snapshot changed since the dry run; nothing was written. Run ${opt('dryRun')} again and review the new plan`,
    ExitCode.Differs,
    { option: 'planHash', planHash: plan.hash, expected: want },
  );
}

function planResult(run: SelectiveRun, plan: SelectivePlan): SelectivePlanResult {
  return {
    dryRun: true,
    selective: true,
    snapshot: run.reader.location,
    snapshotId: plan.snapshotId,
    userPoolId: plan.poolId,
    existing: plan.existing,
    planHash: plan.hash,
    counts: plan.builder.counts,
    usersToWrite: plan.builder.usersToWrite,
    ...(run.options.planFile ? { planFile: path.resolve(run.options.planFile) } : {}),
    requests: totalCalls(run.gw) - run.callsBefore,
    warnings: [...run.warnings.values()],
  };
}

function validate(options: SelectiveOptions): ExistingMode {
  const existing = options.existing ?? 'skip';
  if (!EXISTING_MODES.includes(existing)) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('existing')} expects skip or revert, got "${String(existing)}"`,
      {
        option: 'existing',
      },
    );
  }
  if (options.planHash !== undefined && !/^[0-9a-f]{64}$/.test(options.planHash)) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('planHash')} expects the 64 hexadecimal digits of the planHash a ${opt('dryRun')} reported`,
      { option: 'planHash' },
    );
  }
  const ps = options.passwordState ?? 'sign-in-ready';
  if (!PASSWORD_STATES.includes(ps)) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('passwordState')} expects ${PASSWORD_STATES.join(' or ')}`,
      {
        option: 'passwordState',
      },
    );
  }
  return existing;
}

/** The snapshot's name of each selected resource that is missing: exit 2 naming the selector. */
function assertResourcesInSnapshot(sel: ResolvedSelection, data: SnapshotData): void {
  const names: Record<ResourceKind, Set<string>> = {
    group: new Set(data.groups.map((g) => g.GroupName)),
    client: new Set(data.clients.map((c) => c.ClientName ?? c.ClientId)),
    identityProvider: new Set(data.identityProviders.map((p) => p.ProviderName)),
    resourceServer: new Set(data.resourceServers.map((s) => s.Identifier)),
  };
  for (const kind of RESOURCE_KINDS) {
    const key = KIND_SELECTOR[kind] as
      'groups' | 'clients' | 'identityProviders' | 'resourceServers';
    sel[key].forEach((n, i) => {
      if (!names[kind].has(n)) {
        throw new UsageError(
          'SELECTOR_NO_MATCH',
          `${selectorName(key, i)} matches nothing in the snapshot; nothing was written`,
          { option: SELECTOR_OPTIONS[key], position: i + 1 },
        );
      }
    });
  }
}

/** The snapshot's members of each selected group (one pass over the memberships). */
async function snapshotMembers(
  reader: SnapshotReader,
  groups: ReadonlySet<string>,
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>([...groups].map((g) => [g, new Set<string>()]));
  if (!groups.size) return out;
  for await (const m of reader.records('memberships', MembershipRecord))
    out.get(m.group)?.add(m.username);
  return out;
}

/** The snapshot's groups of each candidate user (one pass over the memberships). */
async function groupsOfCandidates(
  reader: SnapshotReader,
  candidates: ReadonlySet<string>,
  known: ReadonlySet<string>,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!candidates.size) return out;
  for await (const m of reader.records('memberships', MembershipRecord)) {
    if (!candidates.has(m.username) || !known.has(m.group)) continue;
    const cur = out.get(m.username);
    if (cur) {
      if (!cur.includes(m.group)) cur.push(m.group);
    } else out.set(m.username, [m.group]);
  }
  return out;
}

type Prior = Awaited<ReturnType<typeof readJournal>>;
type LiveUsers = Awaited<ReturnType<typeof lookupUsers>>;

/** What the plan is computed from (step `planInputs`). */
interface PlanInputs {
  existing: ExistingMode;
  legacy: string | undefined;
  sel: ResolvedSelection;
  snapshotId: string;
  sourcePoolId: string;
  stateDir: string;
  subMapFile: string;
  data: SnapshotData;
  targetPool: UserPoolType;
  prior: Prior;
  priorPlanHash: string | undefined;
}

/**
 * Step: options and selection checked, the state directory's files writable (a real run), the
 * snapshot verified (ARNs too), the target pool read, the state directory locked, its journals read.
 */
async function planInputs(run: SelectiveRun, slot: LockSlot): Promise<PlanInputs> {
  const { gw, reader, options, progress, poolId } = run;
  const existing = validate(options);
  const legacy =
    options.legacySubAttribute !== undefined
      ? legacyAttributeName(options.legacySubAttribute)
      : undefined;
  progress({ type: 'phase', phase: 'preflight', detail: 'reading the selection' });
  const sel = await resolveSelection(options.selection);
  const snapshotId = reader.manifest.snapshotId;
  const sourcePoolId = reader.manifest.userPool.id;
  const target = { userPoolId: poolId };
  const stateDir = path.resolve(
    options.stateDir ??
      selectiveStateDir(snapshotId, target, selectionDigest(options.selection, existing)),
  );
  const subMapFile = path.resolve(options.subMapFile ?? path.join(stateDir, SUB_MAP_FILE));
  if (!run.dryRun) {
    await assertWritableDir(stateDir, 'the state directory');
    for (const f of [JOURNAL_FILE, SELECTIVE_JOURNAL_FILE, REPORT_FILE, CLIENT_MAP_FILE])
      await assertWritableFile(path.join(stateDir, f), f);
    await assertWritableFile(subMapFile, 'the sub map');
  }
  progress({ type: 'phase', phase: 'preflight', detail: 'verifying the snapshot' });
  const data = await loadSnapshot(reader);
  if (options.mapArns) {
    const arns = await arnPreflight(gw, data, {
      targetPool: undefined,
      creating: false,
      mapArns: options.mapArns,
      mapArnsSource: options.mapArnsSource,
      allowForeignArns: true,
      targetAccount: undefined,
    });
    for (const w of arns.warnings) run.warn(w);
  }
  assertResourcesInSnapshot(sel, data);
  const targetPool = await describeTargetPool(gw, poolId);
  if (!run.dryRun) {
    slot.createdStateDir = !existsSync(stateDir);
    slot.lock = await RestoreJournal.lockDir(stateDir);
  }
  const prior = await readJournal(stateDir);
  if (prior) assertJournalMatches(prior, stateDir, snapshotId, target);
  const priorSelective = await readSelectiveJournal(stateDir);
  return {
    existing,
    legacy,
    sel,
    snapshotId,
    sourcePoolId,
    stateDir,
    subMapFile,
    data,
    targetPool,
    prior,
    priorPlanHash: priorSelective?.planHash,
  };
}

/** The selected users, read from the snapshot (step `selectUsers`). */
interface SelectedUsers {
  selected: UserRecord[];
  /** Selected users in the erasure ledger: never re-created. */
  erased: string[];
  /** Candidates (from the differences) the snapshot does not have. */
  notInSnapshot: number;
  /** The snapshot's members of each selected group. */
  members: Map<string, Set<string>>;
  /** The snapshot's groups of each candidate user. */
  userGroups: Map<string, string[]>;
}

/**
 * Step: which users — explicit names, members of selected groups, differences — read from the
 * snapshot, erased ones apart. A user selector that matches no one stops the run.
 */
async function selectUsers(
  run: SelectiveRun,
  sel: ResolvedSelection,
  data: SnapshotData,
): Promise<SelectedUsers> {
  const { reader, options, progress } = run;
  const diff = sel.differences;
  const members = await snapshotMembers(reader, new Set(sel.groups));
  let candidates = new Set<string>(sel.explicitUsers.keys());
  for (const m of members.values()) for (const u of m) candidates.add(u);
  if (diff) {
    if (sel.narrowing) candidates = new Set([...candidates].filter((u) => diff.users.has(u)));
    else candidates = new Set(diff.users);
  }
  const knownGroups = new Set(data.groups.map((g) => g.GroupName));
  const userGroups = await groupsOfCandidates(reader, candidates, knownGroups);

  const ledger = options.erasures;
  const selected: UserRecord[] = [];
  const erased: string[] = [];
  progress({
    type: 'phase',
    phase: 'preflight',
    detail: 'reading the selected users from the snapshot',
  });
  for await (const u of reader.records('users', UserRecord)) {
    const sels = sel.explicitUsers.get(u.Username);
    if (sels)
      for (const i of sels) {
        const s = sel.userSelectors[i];
        if (s) s.matched = true;
      }
    if (!candidates.has(u.Username)) continue;
    if (ledger?.has(u.Username, attributeOf(u, 'sub'))) erased.push(u.Username);
    else selected.push(u);
  }
  for (const s of sel.userSelectors) {
    if (!s.matched) {
      throw new UsageError(
        'SELECTOR_NO_MATCH',
        `${selectorName(s.key, s.index)} matches no user in the snapshot; nothing was written`,
        { option: SELECTOR_OPTIONS[s.key], position: s.index + 1 },
      );
    }
  }
  const notInSnapshot = candidates.size - selected.length - erased.length;
  return { selected, erased, notInSnapshot, members, userGroups };
}

/** What deciding one user's work needs (fixed for the whole plan). */
interface UserWorkContext {
  existing: ExistingMode;
  legacy: string | undefined;
  prior: Prior;
  live: LiveUsers;
  schema: Map<string, SchemaAttributeType>;
  autoVerified: Set<string>;
  /** Live memberships of existing selected users (revert only). */
  liveGroups: Map<string, string[]>;
  selectedGroups: ReadonlySet<string>;
  userGroups: Map<string, string[]>;
}

/**
 * Step: one selected user's work: external (listed), create (missing, or created by an earlier
 * run of this restore: its follow-ups finish), or revert / skip / unchanged against its live state.
 */
function userWorkOf(c: UserWorkContext, u: UserRecord, groups: string[]): UserWork {
  const lu = c.live.get(u.Username);
  const ours =
    c.prior !== undefined &&
    ((c.prior.users.has(u.Username) && !c.prior.existingUsers.has(u.Username)) ||
      c.prior.userIntents.has(u.Username));
  if (isExternalProvider(u))
    return { username: u.Username, action: 'external', addGroups: [], removeGroups: [], groups };
  if (!lu || ours) {
    return {
      username: u.Username,
      action: 'create',
      record: u,
      addGroups: [],
      removeGroups: [],
      groups,
    };
  }
  const attrs = attributeRevert(u, lu, c.schema, c.autoVerified, c.legacy);
  const enable = (u.Enabled !== false) !== (lu.Enabled !== false) ? u.Enabled !== false : undefined;
  const current = c.liveGroups.get(u.Username);
  // Selected groups' memberships are the group's (planGroupMemberships), not the user's.
  const addGroups = current
    ? groups.filter((g) => !current.includes(g) && !c.selectedGroups.has(g))
    : [];
  const snapGroups = new Set(c.userGroups.get(u.Username) ?? []);
  const removeGroups = current
    ? current.filter((g) => !snapGroups.has(g) && !c.selectedGroups.has(g))
    : [];
  const differs =
    attrs.differing.length > 0 ||
    enable !== undefined ||
    addGroups.length > 0 ||
    removeGroups.length > 0;
  const action = !differs ? 'unchanged' : c.existing === 'revert' ? 'revert' : 'skip';
  return {
    username: u.Username,
    action,
    ...(action === 'revert' ? { record: u } : {}),
    target: lu.Username ?? u.Username,
    attrs,
    ...(enable !== undefined ? { enable } : {}),
    addGroups,
    removeGroups,
    groups,
  };
}

/**
 * Step: --group: the group's members as of the snapshot. Missing ones are added (the group is
 * restored with its members); with revert, members the pool added since leave it.
 */
async function planGroupMemberships(
  run: SelectiveRun,
  sel: ResolvedSelection,
  s: {
    existing: ExistingMode;
    groupsAvailable: ReadonlySet<string>;
    liveRes: LiveResources;
    members: Map<string, Set<string>>;
    live: LiveUsers;
    users: readonly UserWork[];
  },
  builder: PlanBuilder,
): Promise<MembershipChange[]> {
  const { gw, poolId } = run;
  const memberships: MembershipChange[] = [];
  for (const g of sel.groups) {
    if (!s.groupsAvailable.has(g)) continue;
    const liveMembers = new Set<string>();
    if (s.liveRes.groups.has(g))
      await membersOf(gw, poolId, g, (lu) => liveMembers.add(lu.Username ?? ''));
    const snapLive = new Set<string>();
    for (const m of s.members.get(g) ?? []) snapLive.add(s.live.get(m)?.Username ?? m);
    for (const w of s.users) {
      if (!w.target || !w.groups.includes(g)) continue;
      if (w.action === 'create' || w.action === 'erased' || w.action === 'external') continue;
      if (liveMembers.has(w.target)) continue;
      const c: MembershipChange = { group: g, username: w.target, action: 'add' };
      memberships.push(c);
      builder.membership(c);
    }
    if (s.existing !== 'revert') continue;
    for (const name of [...liveMembers].sort()) {
      if (snapLive.has(name)) continue;
      const c: MembershipChange = { group: g, username: name, action: 'remove' };
      memberships.push(c);
      builder.membership(c);
    }
  }
  return memberships;
}

/**
 * Everything up to the plan and its hash: read-only (a real run also locks the state directory).
 * Steps: `planInputs`, `selectUsers`, the target's compatibility, the live side (users,
 * resources, memberships), `planResources`, `userWorkOf` per user, `planGroupMemberships`.
 */
async function computePlan(run: SelectiveRun, slot: LockSlot): Promise<SelectivePlan> {
  const { gw, options, progress, poolId } = run;
  const inputs = await planInputs(run, slot);
  const { existing, legacy, sel, snapshotId, data, targetPool, prior } = inputs;
  const selectedGroups = new Set(sel.groups);
  const { selected, erased, notInSnapshot, members, userGroups } = await selectUsers(
    run,
    sel,
    data,
  );

  // ---- the target must take them -------------------------------------------------------------
  const usernameAttributes = targetPool.UsernameAttributes ?? [];
  const required = requiredAttributes(targetPool.SchemaAttributes);
  const scan = newUserScan(required);
  for (const u of selected) scanUser(scan, u, { required, usernameAttributes });
  const diffs = compatibilityDifferences(data.pool.userPool, targetPool, scan, legacy);
  if (diffs.length) {
    throw new TargetIncompatibleError(
      `${poolId} cannot take the selection from snapshot ${snapshotId}:\n  ${diffs.join('\n  ')}`,
      diffs,
      { userPoolId: poolId, differences: diffs.length },
    );
  }

  // ---- the live side --------------------------------------------------------------------------
  progress({
    type: 'phase',
    phase: 'preflight',
    detail: `looking up ${selected.length} selected user(s) in the pool`,
  });
  const live = await lookupUsers(run, selected, prior, usernameAttributes);
  const resourceNames = selectedResources(sel, data);
  const liveRes = await readLiveResources(
    gw,
    poolId,
    { identityProviders: resourceNames.identityProvider, clients: resourceNames.client },
    {
      groups: true,
      resourceServers: resourceNames.resourceServer.size > 0,
      identityProviders: resourceNames.identityProvider.size > 0,
      clients: resourceNames.client.size > 0,
    },
  );
  const builder = new PlanBuilder(existing);
  if (run.dryRun && options.planFile) await builder.openFile(path.resolve(options.planFile));
  try {
    const resources = planResources(run, data, resourceNames, liveRes, existing, builder);
    const groupsAvailable = new Set(liveRes.groups.keys());
    for (const r of resources)
      if (r.kind === 'group' && r.action === 'create') groupsAvailable.add(r.name);

    // Live memberships of existing selected users (revert only: skip leaves them).
    const liveGroups = new Map<string, string[]>();
    const existingUsers = selected.filter((u) => live.has(u.Username));
    if (existing === 'revert' && existingUsers.length) {
      await readLiveMemberships(run, existingUsers, live, liveRes, liveGroups);
    }
    const context: UserWorkContext = {
      existing,
      legacy,
      prior,
      live,
      schema: new Map<string, SchemaAttributeType>(
        (targetPool.SchemaAttributes ?? []).map((a) => [a.Name ?? '', a]),
      ),
      autoVerified: new Set<string>(targetPool.AutoVerifiedAttributes ?? []),
      liveGroups,
      selectedGroups,
      userGroups,
    };
    const skippedGroups = new Map<string, number>();
    const users: UserWork[] = [];
    for (const u of selected) {
      const groups = (userGroups.get(u.Username) ?? []).filter((g) => {
        if (groupsAvailable.has(g)) return true;
        skippedGroups.set(g, (skippedGroups.get(g) ?? 0) + 1);
        return false;
      });
      const w = userWorkOf(context, u, groups);
      builder.user(w, live.get(u.Username));
      users.push(
        w.action === 'create' || w.action === 'revert' ? w : { ...w, record: undefined as never },
      );
    }
    for (const name of erased) {
      builder.user(
        { username: name, action: 'erased', addGroups: [], removeGroups: [], groups: [] },
        undefined,
      );
    }
    builder.notInSnapshot(notInSnapshot);
    for (const [g, n] of skippedGroups) {
      run.warn({
        code: 'MEMBERSHIPS_SKIPPED',
        message: `${n} membership(s) of group ${g} not restored: the group is not in the pool and not selected (add ${opt('selection.groups')} ${g} to restore it)`,
      });
    }
    const memberships = await planGroupMemberships(
      run,
      sel,
      { existing, groupsAvailable, liveRes, members, live, users },
      builder,
    );
    if (erased.length) {
      run.warn({
        code: 'ERASED_USERS',
        message: `${erased.length} selected user(s) were erased (cognito-vault forget): never re-created`,
      });
    }
    return {
      snapshotId,
      sourcePoolId: inputs.sourcePoolId,
      poolId,
      stateDir: inputs.stateDir,
      subMapFile: inputs.subMapFile,
      data,
      targetPool,
      usernameAttributes,
      existing,
      users,
      resources,
      memberships,
      groupsAvailable,
      builder,
      hash: builder.digest(),
      prior,
      priorPlanHash: inputs.priorPlanHash,
    };
  } finally {
    await builder.close();
  }
}

/** The names of the selected resources, per kind (explicit and/or differences). */
function selectedResources(
  sel: ResolvedSelection,
  data: SnapshotData,
): Record<ResourceKind, Set<string>> {
  const diff = sel.differences;
  const pick = (
    explicit: string[],
    fromDiff: ReadonlySet<string> | undefined,
    inSnapshot: Set<string>,
  ): Set<string> => {
    if (!diff) return new Set(explicit);
    if (sel.narrowing) return new Set(explicit.filter((n) => fromDiff?.has(n)));
    return new Set([...(fromDiff ?? [])].filter((n) => inSnapshot.has(n)));
  };
  return {
    group: pick(sel.groups, diff?.groups, new Set(data.groups.map((g) => g.GroupName))),
    client: pick(
      sel.clients,
      diff?.clients,
      new Set(data.clients.map((c) => c.ClientName ?? c.ClientId)),
    ),
    identityProvider: pick(
      sel.identityProviders,
      diff?.identityProviders,
      new Set(data.identityProviders.map((p) => p.ProviderName)),
    ),
    resourceServer: pick(
      sel.resourceServers,
      diff?.resourceServers,
      new Set(data.resourceServers.map((s) => s.Identifier)),
    ),
  };
}

function planResources(
  run: SelectiveRun,
  data: SnapshotData,
  names: Record<ResourceKind, Set<string>>,
  live: LiveResources,
  existing: ExistingMode,
  builder: PlanBuilder,
): ResourceWork[] {
  const out: ResourceWork[] = [];
  const decide = (
    kind: ResourceKind,
    name: string,
    fields: string[] | undefined,
    liveId?: string,
  ): void => {
    const action =
      fields === undefined
        ? 'create'
        : fields.length === 0
          ? 'unchanged'
          : existing === 'revert'
            ? 'revert'
            : 'skip';
    const w: ResourceWork = {
      kind,
      name,
      action,
      fields: fields ?? [],
      ...(liveId ? { liveId } : {}),
    };
    builder.resource(w);
    out.push(w);
  };
  for (const g of data.groups
    .filter((x) => names.group.has(x.GroupName))
    .sort((a, b) => a.GroupName.localeCompare(b.GroupName))) {
    const l = live.groups.get(g.GroupName);
    decide('group', g.GroupName, l ? groupFields(g, l) : undefined);
  }
  for (const s of data.resourceServers
    .filter((x) => names.resourceServer.has(x.Identifier))
    .sort((a, b) => a.Identifier.localeCompare(b.Identifier))) {
    const l = live.resourceServers.get(s.Identifier);
    decide('resourceServer', s.Identifier, l ? resourceServerFields(s, l) : undefined);
  }
  for (const p of data.identityProviders
    .filter((x) => names.identityProvider.has(x.ProviderName))
    .sort((a, b) => a.ProviderName.localeCompare(b.ProviderName))) {
    if (!live.identityProviders.has(p.ProviderName))
      decide('identityProvider', p.ProviderName, undefined);
    else {
      const l = live.identityProviders.get(p.ProviderName);
      decide(
        'identityProvider',
        p.ProviderName,
        l ? identityProviderFields(p, l, run.options.idpSecrets?.[p.ProviderName]) : [],
      );
    }
  }
  for (const c of data.clients
    .filter((x) => names.client.has(x.ClientName ?? x.ClientId))
    .sort((a, b) => (a.ClientName ?? '').localeCompare(b.ClientName ?? ''))) {
    const name = c.ClientName ?? c.ClientId;
    const list = live.clients.get(name);
    if (!list?.length) {
      decide('client', name, undefined);
      continue;
    }
    const one = list[0];
    if (list.length > 1 || !one?.described) {
      run.warn({
        code: 'CLIENT_AMBIGUOUS',
        message: `app client ${name}: the pool has ${list.length} clients of that name; left as they are`,
      });
      decide('client', name, []);
      continue;
    }
    decide('client', name, clientFields(c, one.described), one.id);
  }
  return out;
}

/**
 * The selected users as they are in the pool, by snapshot username. Small selections: each by
 * ListUsers `username = "…"` (then by its sign-in attribute in a pool that signs in by email or
 * phone, where a re-created user has a new username); larger ones: one ListUsers pass.
 */
async function lookupUsers(
  run: SelectiveRun,
  selected: readonly UserRecord[],
  prior: JournalState | undefined,
  usernameAttributes: string[],
): Promise<Map<string, UserType>> {
  const { gw, poolId } = run;
  const live = new Map<string, UserType>();
  const limit = run.options.lookupLimit ?? DEFAULT_LOOKUP_LIMIT;
  const loginAttr = usernameAttributes.includes('email')
    ? 'email'
    : usernameAttributes.includes('phone_number')
      ? 'phone_number'
      : undefined;
  if (selected.length <= limit) {
    await forEachConcurrent(
      selected,
      8,
      async (u) => {
        const name = prior?.newUsername(u.Username) ?? u.Username;
        let found = await findUserBy(gw, poolId, 'username', name);
        if (!found && loginAttr) {
          const login = attributeOf(u, loginAttr);
          if (login) found = await findUserBy(gw, poolId, loginAttr, login);
        }
        if (found) live.set(u.Username, found);
      },
      run.signal,
    );
    return live;
  }
  const byName = new Map<string, string>();
  const byLogin = new Map<string, string>();
  for (const u of selected) {
    byName.set(prior?.newUsername(u.Username) ?? u.Username, u.Username);
    const login = loginAttr ? attributeOf(u, loginAttr) : undefined;
    if (login) byLogin.set(login, u.Username);
  }
  await scanUsers(
    gw,
    poolId,
    () => true,
    (lu) => {
      let old = byName.get(lu.Username ?? '');
      if (old === undefined && loginAttr) {
        const v = lu.Attributes?.find((a) => a.Name === loginAttr)?.Value;
        if (v !== undefined) old = byLogin.get(v);
      }
      if (old !== undefined && !live.has(old)) live.set(old, lu);
    },
  );
  return live;
}

/** Live groups of existing selected users: per user (small), or per group (large). */
async function readLiveMemberships(
  run: SelectiveRun,
  users: readonly UserRecord[],
  live: ReadonlyMap<string, UserType>,
  liveRes: LiveResources,
  out: Map<string, string[]>,
): Promise<void> {
  const { gw, poolId } = run;
  const limit = run.options.lookupLimit ?? DEFAULT_LOOKUP_LIMIT;
  if (users.length <= limit) {
    await forEachConcurrent(
      users,
      4,
      async (u) => {
        const lu = live.get(u.Username);
        if (lu?.Username) out.set(u.Username, await groupsOfUser(gw, poolId, lu.Username));
      },
      run.signal,
    );
    return;
  }
  const byLive = new Map<string, string>();
  for (const u of users) {
    const lu = live.get(u.Username);
    if (lu?.Username) {
      byLive.set(lu.Username, u.Username);
      out.set(u.Username, []);
    }
  }
  for (const g of liveRes.groups.keys()) {
    await membersOf(gw, poolId, g, (lu) => {
      const old = byLive.get(lu.Username ?? '');
      if (old !== undefined) out.get(old)?.push(g);
    });
  }
}
