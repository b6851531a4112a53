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

interface FollowUp {
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

interface PasswordStep {
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
 * The users phase, pipelined across quota categories: AdminCreateUser workers (UserCreation)
 * stream users from the snapshot, and as soon as one user exists its follow-ups — memberships,
 * identity links, disable (all UserUpdate) — go onto a second worker pool. The two categories
 * run at the same time, so the slower one sets the duration, not the sum. The follow-up queue is
 * bounded: when UserUpdate is the bottleneck, creation waits instead of buffering the pool.
 */
export async function restoreUsers(
  ctx: PhaseContext,
  opts: UserPhaseOptions,
): Promise<UserPhaseResult> {
  const { gw, poolId, journal } = ctx;
  const state = journal.state;
  const failedUsers: FailedUser[] = [];
  const externalProviderUsers: ExternalProviderUser[] = [];
  const skippedLinks = new Map<string, number>();
  const skippedMemberships = new Map<string, number>();
  let processed = 0;
  let consecutiveFailures = 0;
  let passwordFailures = 0;
  let lastFailure = '';

  const progress = (): void =>
    ctx.progress({ type: 'restore', phase: 'users', done: processed, total: opts.total });

  const fail = (username: string, operation: string, e: unknown): void => {
    failedUsers.push({ username, operation, error: describeError(e) });
  };

  const followUps = new WorkQueue<FollowUp>(opts.updateConcurrency, opts.queueLimit, async (f) => {
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
          skippedMemberships.set(g, (skippedMemberships.get(g) ?? 0) + 1);
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
          skippedLinks.set(l.providerName, (skippedLinks.get(l.providerName) ?? 0) + 1);
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
      fail(f.old, operation, e);
    }
  });

  const signInDone = (
    old: string,
    user: string,
    status: string | undefined,
    plan: SignInPlan,
  ): void => {
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
  };

  // AdminSetUserPassword (UserAccountRecovery, its own quota) runs alongside creation
  // (UserCreation) and the follow-ups (UserUpdate); a disabled user's follow-ups start once its
  // password is set, so it is disabled last.
  const passwords = new WorkQueue<PasswordStep>(
    opts.recoveryConcurrency,
    opts.queueLimit,
    async (p) => {
      try {
        // Permanent: CONFIRMED. Sends no message; the password is never part of an error, a
        // log line or the rate report.
        await gw.send(
          new AdminSetUserPasswordCommand({
            UserPoolId: poolId,
            Username: p.user,
            Password: randomPassword(opts.signIn.policy),
            Permanent: true,
          }),
        );
        signInDone(p.old, p.user, p.status, p.plan);
        passwordFailures = 0;
      } catch (e) {
        if (isFatal(e, 'AdminSetUserPassword')) throw e;
        fail(p.old, 'AdminSetUserPassword', e);
        // Every user refused in a row: a systematic cause (a policy, a trigger), not users.
        if (++passwordFailures >= opts.consecutiveFailureLimit) {
          // The exception name only: Cognito's message may quote the user (see below).
          const awsCode = rootAwsName(e);
          throw new PartialRestoreError(
            `stopped after ${passwordFailures} AdminSetUserPassword calls failed in a row (last: ${awsCode}); fix the cause and run the same command again to resume`,
            { consecutiveFailures: passwordFailures, operation: 'AdminSetUserPassword', awsCode },
            failedUsers,
          );
        }
      }
      if (p.next) await followUps.push(p.next);
    },
  );

  /** Creates one user; returns its username in the target, or undefined when it failed. */
  const create = async (
    u: UserRecord,
    plan: SignInPlan,
  ): Promise<{ username: string; created: boolean } | undefined> => {
    const login = loginOf(u, opts.usernameAttributes);
    if (login === undefined) {
      failedUsers.push({
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
      consecutiveFailures = 0;
      return { username: newUsername, created: status === 'c' };
    } catch (e) {
      if (isFatal(e, operation)) throw e;
      fail(u.Username, operation, e);
      // The exception name only: its message may quote the user's attributes (a Lambda
      // trigger's text, "Invalid email address format: …").
      lastFailure = rootAwsName(e);
      if (++consecutiveFailures >= opts.consecutiveFailureLimit) {
        throw new PartialRestoreError(
          `stopped after ${consecutiveFailures} users failed in a row (last: ${operation} ${lastFailure}); fix the cause and run the same command again to resume`,
          { consecutiveFailures, operation, awsCode: lastFailure },
          failedUsers,
        );
      }
      return undefined;
    }
  };

  const perUser = async (u: UserRecord): Promise<void> => {
    const groups = opts.index.take(u.Username);
    const federated = isExternalProvider(u);
    if (federated && opts.federatedUsers !== 'precreate') {
      const oldSub = attributeOf(u, 'sub');
      externalProviderUsers.push({ username: u.Username, ...(oldSub ? { oldSub } : {}), groups });
      processed++;
      return;
    }
    const links: LinkedIdentity[] = [];
    for (const l of parseIdentities(attributeOf(u, 'identities'))) {
      if (!state.linksDone.has(JournalState.linkKey(u.Username, l.providerName, l.userId))) {
        links.push(l);
      }
    }
    // A precreated federated user signs in through its IdP: no password, no sign-in step.
    const plan = federated ? FEDERATED_PLAN : planSignIn(u, opts.signIn);
    const mfa = mfaOf(u);
    if (mfa?.totp) opts.totp?.add(u.Username);
    let target = state.newUsername(u.Username);
    // A user an earlier run (or this one) found already in the target, or that a CSV import
    // job brought in (RESET_REQUIRED: the forgot-password flow works), keeps its password state.
    let ours = target !== undefined && !state.existingUsers.has(u.Username);
    if (target === undefined && opts.resolveExisting) {
      const r = opts.resolveExisting(u);
      if (r && 'error' in r) {
        failedUsers.push({ username: u.Username, operation: r.operation, error: r.error });
        processed++;
        return;
      }
      if (r) {
        const oldSub = attributeOf(u, 'sub');
        journal.append({
          t: 'u',
          u: u.Username,
          ...(r.username !== u.Username ? { n: r.username } : {}),
          ...(oldSub ? { os: oldSub } : {}),
          ...(r.sub ? { ns: r.sub } : {}),
          s: r.s,
        });
        target = r.username;
        ours = false;
      }
    }
    if (target === undefined) {
      const made = await create(u, plan);
      target = made?.username;
      ours = made?.created ?? false;
    }
    if (target !== undefined) {
      let next: FollowUp | undefined;
      const disable = u.Enabled === false;
      if (
        !state.followUpsDone.has(u.Username) &&
        (groups.length || links.length || disable || mfa?.preference)
      ) {
        next = { old: u.Username, user: target, groups, links, disable, mfa: mfa?.preference };
      }
      if (ours && !federated && !state.signInDone.has(u.Username)) {
        if (plan.setPassword) {
          // A disabled user's follow-ups (the disable) wait for its password; the others' go
          // to the UserUpdate workers at once.
          const after = next?.disable ? next : undefined;
          await passwords.push({
            old: u.Username,
            user: target,
            status: u.UserStatus,
            plan,
            next: after,
          });
          if (after) next = undefined;
        } else {
          signInDone(u.Username, target, u.UserStatus, plan);
        }
      }
      if (next) await followUps.push(next);
    }
    processed++;
    if (processed % 50 === 0) progress();
  };

  ctx.progress({ type: 'phase', phase: 'users', detail: `${opts.total} users` });
  try {
    await forEachConcurrent(
      opts.users ?? opts.reader.records('users', UserRecord),
      opts.createConcurrency,
      perUser,
      ctx.signal,
    );
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
  progress();

  for (const [group, n] of skippedMemberships) {
    ctx.warn({
      code: 'MEMBERSHIPS_SKIPPED',
      message: `${n} membership(s) of group ${group} not restored: that group could not be created`,
    });
  }
  for (const [provider, n] of skippedLinks) {
    ctx.warn({
      code: 'LINKS_SKIPPED',
      message: `${n} identity link(s) to ${provider} not restored: that identity provider was skipped`,
    });
  }
  const left = opts.index.remaining();
  if (left.memberships > 0) {
    ctx.warn({
      code: 'MEMBERSHIPS_WITHOUT_USER',
      message: `${left.memberships} membership(s) name ${left.users} user(s) that are not in the snapshot's users (deleted during the backup?); skipped`,
    });
  }
  if (externalProviderUsers.length) {
    ctx.warn({
      code: 'EXTERNAL_PROVIDER_USERS',
      message: `${externalProviderUsers.length} federated (EXTERNAL_PROVIDER) user(s) cannot be created by API; they come back at their next sign-in through their identity provider (listed in the report)`,
    });
  }
  return { failedUsers, externalProviderUsers, processed };
}
