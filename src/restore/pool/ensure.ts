import { randomUUID } from 'node:crypto';
import {
  CreateUserPoolCommand,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { InternalError, UnexpectedResponseError, UsageError } from '../../core/errors.js';
import { type CognitoGateway, regionOfPoolId } from '../../cognito/gateway.js';
import { accountOfPoolArn, checkAfterCreate } from '../preflight/arns.js';
import { createOnce, RESTORE_TOKEN_TAG, SINGLE_ATTEMPT } from '../create-once.js';
import type { JournalState } from '../state/journal.js';
import { describeTargetPool, planPoolCreation, poolsNamed } from './target.js';
import { isResourceError, recordResourceFailure } from '../resources/restore.js';
import type { PoolReady, RunStep } from '../run-state.js';
import { applyNewPoolSettings, SETTINGS_PHASE } from './settings.js';
import { snapshotTriggers, withoutLambdaConfig } from './triggers.js';
import type { RestoreWarning } from '../types.js';
import { opt } from '../../core/options.js';

/**
 * The pool an earlier attempt created whose answer was lost (a reset connection, a 5xx, or the
 * run died before journaling it). Attempts journal a random token before the call and tag the
 * pool with it, so the pool is recognised by its tag among the pools named like the target that
 * did not exist before (another run or person may have created one alike meanwhile). If lost
 * answers made more than one, the first attempt's pool is used and the others are reported.
 * Journals written before tokens existed fall back to "the one new pool of that name".
 */
export async function adoptInterruptedPool(
  gw: CognitoGateway,
  prior: JournalState,
  name: string,
  warn: (w: RestoreWarning) => void,
): Promise<string | undefined> {
  const before = new Set(prior.poolIntent?.preexisting ?? []);
  const candidates = (await poolsNamed(gw, name)).filter((id) => !before.has(id));
  const tokens = prior.poolIntent?.tokens ?? [];
  if (tokens.length === 0) {
    if (candidates.length > 1) {
      throw new UsageError(
        'POOL_AMBIGUOUS',
        `an earlier run was interrupted while creating pool "${name}", and ${candidates.length} new pools have that name (${candidates.join(', ')}); delete the extra ones or restore into one with ${opt('target.userPoolId')}`,
        { name },
      );
    }
    return candidates[0];
  }
  const ours: { id: string; order: number }[] = [];
  for (const id of candidates) {
    let pool: UserPoolType;
    try {
      pool = await describeTargetPool(gw, id);
    } catch (e) {
      if (e instanceof UsageError && e.code === 'POOL_NOT_FOUND') continue;
      throw e;
    }
    const order = tokens.indexOf(pool.UserPoolTags?.[RESTORE_TOKEN_TAG] ?? '');
    if (order >= 0) ours.push({ id, order });
  }
  ours.sort((a, b) => a.order - b.order);
  for (const extra of ours.slice(1)) {
    warn({
      code: 'POOL_DUPLICATE',
      message: `a retried CreateUserPool after a lost answer also created pool ${extra.id} ("${name}"); it is not used — delete it`,
    });
  }
  return ours[0]?.id;
}

/**
 * CreateUserPool, exactly once across retries and crashes: each attempt journals a fresh token
 * and tags the pool with it; an ambiguous failure adopts the pool the token names.
 */
async function createPool(step: RunStep, name: string): Promise<string> {
  const { run, pre, journal } = step;
  const { gw, options, progress, warn } = run;
  const state = journal.state;
  progress({ type: 'phase', phase: 'pool', detail: `creating ${name}` });
  if (options.withoutTriggers && !state.triggers && snapshotTriggers(pre.data.pool.userPool))
    journal.append({ t: 'triggers', s: 'pending' });
  const preexisting = state.poolIntent?.preexisting ?? (await poolsNamed(gw, name));
  const planned = pre.poolPlan?.input ?? { PoolName: name };
  const baseInput = state.triggers === 'pending' ? withoutLambdaConfig(planned) : planned;
  const createdId = await createOnce(
    () => {
      // A fresh token per attempt, journaled before the call and carried as a tag: the
      // pool an attempt created is found by it, whatever else is named alike.
      const token = randomUUID();
      journal.append({ t: 'pool-intent', name, preexisting, token });
      const input = {
        ...baseInput,
        UserPoolTags: { ...baseInput.UserPoolTags, [RESTORE_TOKEN_TAG]: token },
      };
      return gw.send(new CreateUserPoolCommand(input), SINGLE_ATTEMPT).then((r) => r.UserPool?.Id);
    },
    () => adoptInterruptedPool(gw, state, name, warn),
    {
      signal: run.signal,
      ...(options.settleDelaysMs ? { settleDelaysMs: options.settleDelaysMs } : {}),
    },
  );
  if (!createdId) throw new UnexpectedResponseError('CreateUserPool', 'UserPool.Id');
  return createdId;
}

/** The settings CreateUserPool does not take (MFA, domain-dependent WebAuthn, …), once. */
async function applySettings(step: RunStep, poolId: string, poolName: string): Promise<void> {
  const { run, pre, journal } = step;
  const { gw, options, progress, warn } = run;
  const plan = pre.poolPlan ?? planPoolCreation(pre.data.pool, poolName, pre.legacy, pre.webauthn);
  await applyNewPoolSettings(
    {
      gw,
      poolId,
      region: regionOfPoolId(poolId),
      journal,
      warn,
      // A refused MFA configuration is a resource failure: the restore goes on.
      mfaRefused: (e) => {
        if (!isResourceError(e)) return false;
        recordResourceFailure(
          { journal, progress },
          'mfaConfig',
          poolName,
          'SetUserPoolMfaConfig',
          e,
        );
        return true;
      },
    },
    pre.data.pool,
    plan.mfa,
    {
      ...(options.webauthnRpId ? { webauthnRpId: options.webauthnRpId } : {}),
      ...(options.domain ? { domain: options.domain } : {}),
    },
  );
}

/**
 * The target pool exists once this returns: an existing pool is used as it is; a new one is
 * created (or an earlier run's adopted), journaled, checked for foreign ARNs once its account
 * is known, and given the settings CreateUserPool does not take.
 */
export async function ensurePool(step: RunStep): Promise<PoolReady> {
  const { run, pre, journal } = step;
  const { gw, target, options, warn } = run;
  const state = journal.state;
  let poolId = pre.poolId;
  if (!('createPool' in target)) {
    if (!poolId) throw new InternalError('no target pool after pool creation');
    return { poolId, createdPool: false };
  }
  poolId ??= await createPool(step, target.createPool);
  if (state.poolId !== poolId) journal.append({ t: 'pool', id: poolId });
  if (!accountOfPoolArn(pre.targetPool?.Arn)) {
    // The account was not known (or only claimed) before the pool existed.
    const created = await describeTargetPool(gw, poolId);
    for (const w of checkAfterCreate(
      pre.data,
      created,
      pre.arns.checked,
      !!options.allowForeignArns,
    ))
      warn(w);
  }
  if (!state.poolSettingsDone || !state.phases.has(SETTINGS_PHASE))
    await applySettings(step, poolId, target.createPool);
  return { poolId, createdPool: true };
}
