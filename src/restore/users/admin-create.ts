import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminGetUserCommand,
  AdminLinkProviderForUserCommand,
  AdminSetUserPasswordCommand,
  type AttributeType,
} from '@aws-sdk/client-cognito-identity-provider';
import { forEachConcurrent } from '../../core/concurrency.js';
import { CognitoError, PartialRestoreError, VaultError } from '../../core/errors.js';
import { awsMessage, rootAwsName } from '../../cognito/errors.js';
import { UserRecord } from '../../snapshot/format.js';
import type { SnapshotReader } from '../../snapshot/reader.js';
import type { MembershipIndex } from './memberships.js';
import { type LinkedIdentity, parseIdentities } from '../../cognito/fields.js';
import {
  attributeOf,
  isCognitoOwnedAttribute,
  isExternalProvider,
  loginOf,
} from '../../snapshot/user-record.js';
import type { Gate } from '../gate.js';
import { WorkQueue } from './queue.js';
import type { ExistingUser, PhaseContext } from '../phase-context.js';
import { JournalState } from '../state/journal.js';
import type { ExternalProviderUser, FailedUser } from '../types.js';
import { planSignIn, randomPassword, type SignInContext, type SignInPlan } from './sign-in.js';
import { type MfaPreference, mfaOf, setUserMfaPreference, type TotpReport } from './mfa.js';

/**
 * `--federated-users precreate`: the local profile gets no password (FORCE_CHANGE_PASSWORD, or
 * passwordless where the pool is) — its owner signs in through the linked identity provider.
 */
const FEDERATED_PLAN: SignInPlan = { kind: 'f', temporaryPassword: false, setPassword: false };

/** Attributes Cognito owns (snapshot/user-record.ts): never sent to AdminCreateUser. */
export function isWritableAttribute(name: string): boolean {
  return !isCognitoOwnedAttribute(name);
}

/**
 * The UserAttributes for AdminCreateUser: every attribute the user had except the ones Cognito
 * owns (`sub`, `identities`, `cognito:*`), with `email_verified` / `phone_number_verified` as
 * they were, plus the old sub in `custom:<legacy>` when asked.
 */
export function userAttributesFor(u: UserRecord, legacySubAttribute?: string): AttributeType[] {
  const legacy = legacySubAttribute ? `custom:${legacySubAttribute}` : undefined;
  const out: AttributeType[] = [];
  for (const a of u.Attributes) {
    if (a.Value === undefined || !isWritableAttribute(a.Name) || a.Name === legacy) continue;
    out.push({ Name: a.Name, Value: a.Value });
  }
  const sub = attributeOf(u, 'sub');
  if (legacy && sub) out.push({ Name: legacy, Value: sub });
  return out;
}

export interface UserPhaseOptions {
  reader: SnapshotReader;
  /** The users to restore, when not every user of the snapshot (a selective restore). */
  users?: AsyncIterable<UserRecord> | Iterable<UserRecord>;
  index: MembershipIndex;
  usernameAttributes: readonly string[];
  legacySubAttribute: string | undefined;
  /**
   * Resolves, with the identity providers that were skipped, once groups, resource servers,
   * identity providers and app clients exist. User creation (UserCreation quota) runs while
   * those are created; follow-ups (memberships, links: UserUpdate) wait for it.
   */
  resources: Promise<ReadonlySet<string>>;
  /** Opens per group as it exists: a membership waits only for its own group. */
  groups: Gate;
  /** What the target allows and how users should land (--password-state). */
  signIn: SignInContext;
  createConcurrency: number;
  updateConcurrency: number;
  /** AdminSetUserPassword workers (UserAccountRecovery). */
  recoveryConcurrency: number;
  queueLimit: number;
  consecutiveFailureLimit: number;
  total: number;
  /**
   * Users brought in another way (CSV import jobs, see import-path.ts): the user's username and
   * sub in the target (`s` i imported, e existing), an error to report, or undefined: create it.
   */
  resolveExisting?: (
    u: UserRecord,
  ) => ExistingUser | { operation: string; error: string } | undefined;
  /**
   * Federated (EXTERNAL_PROVIDER) users: `skip` (default) lists them; `precreate` creates a
   * local profile with their attributes and links their identities to it, so their next IdP
   * sign-in lands in it (with their groups and disabled flag).
   */
  federatedUsers?: 'skip' | 'precreate';
  /** Users with TOTP (from a --user-mfa snapshot): listed, never restorable. */
  totp?: TotpReport;
}

export interface UserPhaseResult {
  failedUsers: FailedUser[];
  externalProviderUsers: ExternalProviderUser[];
  /** Users processed in this run (created, existing, failed, external, already done). */
  processed: number;
}

export interface FollowUp {
  /** Username in the snapshot (journal key). */
  old: string;
  /** Username in the target. */
  user: string;
  groups: string[];
  links: LinkedIdentity[];
  disable: boolean;
  /** SMS / email MFA to enable (snapshots taken with --user-mfa). */
  mfa?: MfaPreference | undefined;
}

export interface PasswordStep {
  old: string;
  user: string;
  status: string | undefined;
  plan: SignInPlan;
  /** A disabled user's follow-ups, queued once the password is set (disabled last). */
  next: FollowUp | undefined;
}

/**
 * Errors that stop the whole run rather than fail one user: interruption, credentials, an
 * unreachable or persistently throttling endpoint, storage, bugs — and the target pool
 * vanishing. A re-run resumes from the journal.
 */
export function isFatal(e: unknown, operation: string): boolean {
  if (!(e instanceof VaultError)) return true;
  if (e instanceof CognitoError) {
    return e.awsCode === 'ResourceNotFoundException' && operation === 'AdminCreateUser';
  }
  return true;
}

function describeError(e: unknown): string {
  const name = rootAwsName(e);
  return `${name}: ${awsMessage(e)}`;
}

function alreadyLinked(e: unknown): boolean {
  return (
    e instanceof CognitoError &&
    e.awsCode === 'InvalidParameterException' &&
    /already (been )?linked/i.test(awsMessage(e))
  );
}

/**
 * The users phase's run state: what its steps share (the counters, the per-user failures and
 * the skipped follow-ups tallied for the closing warnings).
 */
export interface UsersRun {
  readonly ctx: PhaseContext;
  readonly opts: UserPhaseOptions;
  readonly failedUsers: FailedUser[];
  readonly externalProviderUsers: ExternalProviderUser[];
  /** Identity links skipped per identity provider (the provider was skipped). */
  readonly skippedLinks: Map<string, number>;
  /** Memberships skipped per group (the group could not be created). */
  readonly skippedMemberships: Map<string, number>;
  /** Users processed in this run. */
  processed: number;
  /** AdminCreateUser failures in a row. */
  consecutiveFailures: number;
  /** AdminSetUserPassword failures in a row. */
  passwordFailures: number;
}

/** The two worker pools that run beside creation. */
export interface UsersQueues {
  /** AdminSetUserPassword (UserAccountRecovery). */
  passwords: WorkQueue<PasswordStep>;
  /** Disable, memberships, links, MFA (UserUpdate). */
  followUps: WorkQueue<FollowUp>;
}

export function newUsersRun(ctx: PhaseContext, opts: UserPhaseOptions): UsersRun {
  return {
    ctx,
    opts,
    failedUsers: [],
    externalProviderUsers: [],
    skippedLinks: new Map(),
    skippedMemberships: new Map(),
    processed: 0,
    consecutiveFailures: 0,
    passwordFailures: 0,
  };
}

function failUser(run: UsersRun, username: string, operation: string, e: unknown): void {
  run.failedUsers.push({ username, operation, error: describeError(e) });
}

function countSkip(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

/**
 * Step: one user's follow-ups (UserUpdate): disable, memberships (each waits for its group),
 * identity links (wait for the identity providers), MFA preference; journaled when all are done.
 * A per-user error is recorded; a fatal one is thrown.
 */
export async function applyFollowUp(run: UsersRun, f: FollowUp): Promise<void> {
  const { gw, poolId, journal } = run.ctx;
  const { opts } = run;
  const state = journal.state;
  let operation = 'AdminDisableUser';
  try {
    // Disabling needs nothing else to exist; memberships need their group; links need the
    // identity providers (the resources phase).
    if (f.disable)
      await gw.send(new AdminDisableUserCommand({ UserPoolId: poolId, Username: f.user }));
    operation = 'AdminAddUserToGroup';
    let added = 0;
    for (const g of f.groups) {
      await opts.groups.wait(g);
      if (state.failed('group', g)) {
        // The group could not be created (a resource failure): its memberships are skipped.
        countSkip(run.skippedMemberships, g);
        continue;
      }
      await gw.send(
        new AdminAddUserToGroupCommand({ UserPoolId: poolId, Username: f.user, GroupName: g }),
      );
      added++;
    }
    operation = 'AdminLinkProviderForUser';
    const skippedIdps = f.links.length ? await opts.resources : new Set<string>();
    for (const l of f.links) {
      if (skippedIdps.has(l.providerName)) {
        countSkip(run.skippedLinks, l.providerName);
        continue;
      }
      try {
        await gw.send(
          new AdminLinkProviderForUserCommand({
            UserPoolId: poolId,
            DestinationUser: { ProviderName: 'Cognito', ProviderAttributeValue: f.user },
            SourceUser: {
              ProviderName: l.providerName,
              ProviderAttributeName: 'Cognito_Subject',
              ProviderAttributeValue: l.userId,
            },
          }),
        );
      } catch (e) {
        if (!alreadyLinked(e)) throw e;
      }
      journal.append({ t: 'l', u: f.old, p: l.providerName, v: l.userId });
    }
    if (f.mfa) {
      operation = 'AdminSetUserMFAPreference';
      await setUserMfaPreference(gw, poolId, f.user, f.mfa);
    }
    journal.append({
      t: 'f',
      u: f.old,
      m: added,
      d: f.disable ? 1 : 0,
      ...(f.mfa ? { a: 1 as const } : {}),
    });
  } catch (e) {
    if (isFatal(e, operation)) throw e;
    failUser(run, f.old, operation, e);
  }
}

/** Step: journals a user's sign-in state as done (`si`). */
export function journalSignIn(
  journal: PhaseContext['journal'],
  old: string,
  user: string,
  status: string | undefined,
  plan: SignInPlan,
): void {
  journal.append({
    t: 'si',
    u: old,
    k: plan.kind,
    ...(plan.needsAdmin
      ? {
          a: plan.needsAdmin,
          ...(status ? { st: status } : {}),
          ...(user !== old ? { n: user } : {}),
        }
      : {}),
  });
}

/**
 * Step: AdminSetUserPassword for one user (permanent: CONFIRMED; sends no message). A per-user
 * error is recorded; as many in a row as the consecutive-failure limit stop the run.
 */
export async function setUserPassword(run: UsersRun, p: PasswordStep): Promise<void> {
  const { gw, poolId, journal } = run.ctx;
  try {
    // The password is never part of an error, a log line or the rate report.
    await gw.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: poolId,
        Username: p.user,
        Password: randomPassword(run.opts.signIn.policy),
        Permanent: true,
      }),
    );
    journalSignIn(journal, p.old, p.user, p.status, p.plan);
    run.passwordFailures = 0;
  } catch (e) {
    if (isFatal(e, 'AdminSetUserPassword')) throw e;
    failUser(run, p.old, 'AdminSetUserPassword', e);
    // Every user refused in a row: a systematic cause (a policy, a trigger), not users.
    if (++run.passwordFailures >= run.opts.consecutiveFailureLimit) {
      // The exception name only: Cognito's message may quote the user (see createUser).
      const awsCode = rootAwsName(e);
      throw new PartialRestoreError(
        `stopped after ${run.passwordFailures} AdminSetUserPassword calls failed in a row (last: ${awsCode}); fix the cause and run the same command again to resume`,
        {
          consecutiveFailures: run.passwordFailures,
          operation: 'AdminSetUserPassword',
          awsCode,
        },
        run.failedUsers,
      );
    }
  }
}

/**
 * The two worker pools. AdminSetUserPassword (UserAccountRecovery, its own quota) runs
 * alongside creation (UserCreation) and the follow-ups (UserUpdate); a disabled user's
 * follow-ups start once its password is set, so it is disabled last.
 */
export function newUsersQueues(run: UsersRun): UsersQueues {
  const { opts } = run;
  const followUps = new WorkQueue<FollowUp>(opts.updateConcurrency, opts.queueLimit, (f) =>
    applyFollowUp(run, f),
  );
  const passwords = new WorkQueue<PasswordStep>(
    opts.recoveryConcurrency,
    opts.queueLimit,
    async (p) => {
      await setUserPassword(run, p);
      if (p.next) await followUps.push(p.next);
    },
  );
  return { passwords, followUps };
}

/**
 * Step: creates one user (AdminCreateUser; an existing username is looked up, never created
 * twice) and journals it with its old and new sub. Returns its username in the target, or
 * undefined when it failed (recorded; as many failures in a row as the limit stop the run).
 */
export async function createUser(
  run: UsersRun,
  u: UserRecord,
  plan: SignInPlan,
): Promise<{ username: string; created: boolean } | undefined> {
  const { gw, poolId, journal } = run.ctx;
  const { opts } = run;
  const state = journal.state;
  const login = loginOf(u, opts.usernameAttributes);
  if (login === undefined) {
    run.failedUsers.push({
      username: u.Username,
      operation: 'AdminCreateUser',
      error: `NoUsableUsername: the pool signs in with ${opts.usernameAttributes.join(' or ')} and this user has no value for it`,
    });
    return undefined;
  }
  const interruptedBefore = state.userIntents.has(u.Username);
  journal.append({ t: 'ui', u: u.Username });
  const oldSub = attributeOf(u, 'sub');
  let operation = 'AdminCreateUser';
  try {
    let newUsername: string;
    let newSub: string | undefined;
    let status: 'c' | 'e' = 'c';
    try {
      // MessageAction SUPPRESS is forced by the pacing plugin on every AdminCreateUser.
      const { User: created } = await gw.send(
        new AdminCreateUserCommand({
          UserPoolId: poolId,
          Username: login,
          UserAttributes: userAttributesFor(u, opts.legacySubAttribute),
          ...(plan.temporaryPassword
            ? { TemporaryPassword: randomPassword(opts.signIn.policy) }
            : {}),
        }),
      );
      newUsername = created?.Username ?? login;
      newSub = created?.Attributes?.find((a) => a.Name === 'sub')?.Value;
    } catch (e) {
      if (!(e instanceof CognitoError && e.awsCode === 'UsernameExistsException')) throw e;
      // Already there: created by a run that died before journaling it, or (--merge) a
      // user the target had. Either way it is done, never created twice.
      operation = 'AdminGetUser';
      const got = await gw.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: login }));
      newUsername = got.Username ?? login;
      newSub = got.UserAttributes?.find((a) => a.Name === 'sub')?.Value;
      // Ours if an earlier run sent this AdminCreateUser, or if an earlier attempt of this
      // call may have reached Cognito (a reset connection, a lost answer) before the retry.
      const retried = Number(e.context.attempts ?? 1) > 1;
      status = interruptedBefore || retried ? 'c' : 'e';
    }
    if (newSub === undefined) {
      operation = 'AdminGetUser';
      const got = await gw.send(
        new AdminGetUserCommand({ UserPoolId: poolId, Username: newUsername }),
      );
      newSub = got.UserAttributes?.find((a) => a.Name === 'sub')?.Value;
    }
    journal.append({
      t: 'u',
      u: u.Username,
      ...(newUsername !== u.Username ? { n: newUsername } : {}),
      ...(oldSub ? { os: oldSub } : {}),
      ...(newSub ? { ns: newSub } : {}),
      s: status,
      ...(isExternalProvider(u) ? { x: 1 as const } : {}),
    });
    run.consecutiveFailures = 0;
    return { username: newUsername, created: status === 'c' };
  } catch (e) {
    if (isFatal(e, operation)) throw e;
    failUser(run, u.Username, operation, e);
    // The exception name only: its message may quote the user's attributes (a Lambda
    // trigger's text, "Invalid email address format: …").
    const lastFailure = rootAwsName(e);
    if (++run.consecutiveFailures >= opts.consecutiveFailureLimit) {
      throw new PartialRestoreError(
        `stopped after ${run.consecutiveFailures} users failed in a row (last: ${operation} ${lastFailure}); fix the cause and run the same command again to resume`,
        { consecutiveFailures: run.consecutiveFailures, operation, awsCode: lastFailure },
        run.failedUsers,
      );
    }
    return undefined;
  }
}

/** The user's identity links not yet journaled as restored. */
export function linksToRestore(state: JournalState, u: UserRecord): LinkedIdentity[] {
  const links: LinkedIdentity[] = [];
  for (const l of parseIdentities(attributeOf(u, 'identities'))) {
    if (!state.linksDone.has(JournalState.linkKey(u.Username, l.providerName, l.userId))) {
      links.push(l);
    }
  }
  return links;
}

/**
 * Step: where the user already is in the target. An earlier run (or this one) found it there,
 * created it, or a CSV import job brought it in (RESET_REQUIRED: the forgot-password flow works;
 * journaled here). `failed` when the import path reported an error for it (recorded).
 * `ours`: created by this tool, so its password state is this tool's to set.
 */
export function existingTarget(
  run: UsersRun,
  u: UserRecord,
): { target: string | undefined; ours: boolean } | 'failed' {
  const { journal } = run.ctx;
  const state = journal.state;
  const target = state.newUsername(u.Username);
  const ours = target !== undefined && !state.existingUsers.has(u.Username);
  if (target !== undefined || !run.opts.resolveExisting) return { target, ours };
  const r = run.opts.resolveExisting(u);
  if (r && 'error' in r) {
    run.failedUsers.push({ username: u.Username, operation: r.operation, error: r.error });
    return 'failed';
  }
  if (!r) return { target: undefined, ours: false };
  const oldSub = attributeOf(u, 'sub');
  journal.append({
    t: 'u',
    u: u.Username,
    ...(r.username !== u.Username ? { n: r.username } : {}),
    ...(oldSub ? { os: oldSub } : {}),
    ...(r.sub ? { ns: r.sub } : {}),
    s: r.s,
  });
  return { target: r.username, ours: false };
}

/**
 * Step: queues a user that exists in the target: its password (when this tool created it and
 * the plan sets one) and its follow-ups; a disabled user's follow-ups (the disable) wait for its
 * password, the others' go to the UserUpdate workers at once.
 */
export async function queueAfterCreate(
  run: UsersRun,
  queues: UsersQueues,
  u: UserRecord,
  s: {
    target: string;
    ours: boolean;
    federated: boolean;
    plan: SignInPlan;
    groups: string[];
    links: LinkedIdentity[];
    mfa: MfaPreference | undefined;
  },
): Promise<void> {
  const state = run.ctx.journal.state;
  let next: FollowUp | undefined;
  const disable = u.Enabled === false;
  if (
    !state.followUpsDone.has(u.Username) &&
    (s.groups.length || s.links.length || disable || s.mfa)
  ) {
    next = {
      old: u.Username,
      user: s.target,
      groups: s.groups,
      links: s.links,
      disable,
      mfa: s.mfa,
    };
  }
  if (s.ours && !s.federated && !state.signInDone.has(u.Username)) {
    if (s.plan.setPassword) {
      const after = next?.disable ? next : undefined;
      await queues.passwords.push({
        old: u.Username,
        user: s.target,
        status: u.UserStatus,
        plan: s.plan,
        next: after,
      });
      if (after) next = undefined;
    } else {
      journalSignIn(run.ctx.journal, u.Username, s.target, u.UserStatus, s.plan);
    }
  }
  if (next) await queues.followUps.push(next);
}

/**
 * Step: one user of the snapshot: listed (federated, not precreated), found in the target or
 * created, then its password and follow-ups queued.
 */
export async function restoreOneUser(
  run: UsersRun,
  queues: UsersQueues,
  u: UserRecord,
): Promise<void> {
  const { opts } = run;
  const groups = opts.index.take(u.Username);
  const federated = isExternalProvider(u);
  if (federated && opts.federatedUsers !== 'precreate') {
    const oldSub = attributeOf(u, 'sub');
    run.externalProviderUsers.push({ username: u.Username, ...(oldSub ? { oldSub } : {}), groups });
    run.processed++;
    return;
  }
  const links = linksToRestore(run.ctx.journal.state, u);
  // A precreated federated user signs in through its IdP: no password, no sign-in step.
  const plan = federated ? FEDERATED_PLAN : planSignIn(u, opts.signIn);
  const mfa = mfaOf(u);
  if (mfa?.totp) opts.totp?.add(u.Username);
  const found = existingTarget(run, u);
  if (found === 'failed') {
    run.processed++;
    return;
  }
  let { target, ours } = found;
  if (target === undefined) {
    const made = await createUser(run, u, plan);
    target = made?.username;
    ours = made?.created ?? false;
  }
  if (target !== undefined) {
    await queueAfterCreate(run, queues, u, {
      target,
      ours,
      federated,
      plan,
      groups,
      links,
      mfa: mfa?.preference,
    });
  }
  run.processed++;
  if (run.processed % 50 === 0) progressUsers(run);
}

function progressUsers(run: UsersRun): void {
  run.ctx.progress({ type: 'restore', phase: 'users', done: run.processed, total: run.opts.total });
}

/**
 * Step: runs `create` (the creation workers), then waits for the password and follow-up
 * workers to drain; on an error, the queues behind it are aborted and drained before it is
 * rethrown.
 */
export async function runAndDrain(queues: UsersQueues, create: () => Promise<void>): Promise<void> {
  const { passwords, followUps } = queues;
  try {
    await create();
  } catch (e) {
    passwords.abort(e);
    followUps.abort(e);
    await passwords.drained().catch(() => undefined);
    await followUps.drained().catch(() => undefined);
    throw e;
  }
  try {
    await passwords.drained();
  } catch (e) {
    followUps.abort(e);
    await followUps.drained().catch(() => undefined);
    throw e;
  }
  await followUps.drained();
}

/** Step: the phase's closing warnings (skipped memberships and links, orphans, federated users). */
export function warnUsersPhase(run: UsersRun): void {
  const { ctx } = run;
  for (const [group, n] of run.skippedMemberships) {
    ctx.warn({
      code: 'MEMBERSHIPS_SKIPPED',
      message: `${n} membership(s) of group ${group} not restored: that group could not be created`,
    });
  }
  for (const [provider, n] of run.skippedLinks) {
    ctx.warn({
      code: 'LINKS_SKIPPED',
      message: `${n} identity link(s) to ${provider} not restored: that identity provider was skipped`,
    });
  }
  const left = run.opts.index.remaining();
  if (left.memberships > 0) {
    ctx.warn({
      code: 'MEMBERSHIPS_WITHOUT_USER',
      message: `${left.memberships} membership(s) name ${left.users} user(s) that are not in the snapshot's users (deleted during the backup?); skipped`,
    });
  }
  if (run.externalProviderUsers.length) {
    ctx.warn({
      code: 'EXTERNAL_PROVIDER_USERS',
      message: `${run.externalProviderUsers.length} federated (EXTERNAL_PROVIDER) user(s) cannot be created by API; they come back at their next sign-in through their identity provider (listed in the report)`,
    });
  }
}

/**
 * The users phase, pipelined across quota categories: AdminCreateUser workers (UserCreation)
 * stream users from the snapshot, and as soon as one user exists its follow-ups — memberships,
 * identity links, disable (all UserUpdate) — go onto a second worker pool. The two categories
 * run at the same time, so the slower one sets the duration, not the sum. The follow-up queue is
 * bounded: when UserUpdate is the bottleneck, creation waits instead of buffering the pool.
 *
 * Steps: `restoreOneUser` per user (`existingTarget`, `createUser`, `queueAfterCreate`) on the
 * creation workers; `setUserPassword` and `applyFollowUp` on their own queues
 * (`newUsersQueues`); `runAndDrain`; `warnUsersPhase`.
 */
export async function restoreUsers(
  ctx: PhaseContext,
  opts: UserPhaseOptions,
): Promise<UserPhaseResult> {
  const run = newUsersRun(ctx, opts);
  const queues = newUsersQueues(run);
  ctx.progress({ type: 'phase', phase: 'users', detail: `${opts.total} users` });
  await runAndDrain(queues, () =>
    forEachConcurrent(
      opts.users ?? opts.reader.records('users', UserRecord),
      opts.createConcurrency,
      (u) => restoreOneUser(run, queues, u),
      ctx.signal,
    ),
  );
  progressUsers(run);
  warnUsersPhase(run);
  return {
    failedUsers: run.failedUsers,
    externalProviderUsers: run.externalProviderUsers,
    processed: run.processed,
  };
}
