import {
  DescribeUserPoolCommand,
  type LambdaConfigType,
  UpdateUserPoolCommand,
  type UpdateUserPoolCommandInput,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { UnexpectedResponseError } from '../../core/errors.js';
import { pickPresent, UPDATE_POOL_KEYS } from '../../cognito/fields.js';
import type { CognitoGateway } from '../../cognito/gateway.js';
import { withoutDuplicateSettings } from './target.js';

/**
 * `--without-triggers`: the new pool is created without its Lambda triggers, so PreSignUp,
 * PostConfirmation, custom message/sender and the rest do not run for every restored user; the
 * triggers are attached at the very end with one UpdateUserPool.
 *
 * UpdateUserPool resets every setting its request omits ("If you don't provide a value for an
 * attribute, Amazon Cognito sets it to its default value"), so that request carries the WHOLE
 * configuration: every member UpdateUserPool accepts, read back from DescribeUserPool of the
 * target, with only LambdaConfig taken from the snapshot. The field list (UPDATE_POOL_KEYS, in
 * src/cognito/fields.ts: the create keys less the create-only ones) is checked against the SDK's
 * request type at compile time: an SDK upgrade that adds a member breaks the build until someone
 * decides where its value comes from.
 */

/**
 * The UpdateUserPool request that changes nothing but LambdaConfig: the target's whole current
 * configuration (DescribeUserPool) with `lambdaConfig` in place of its triggers.
 */
export function wholeSettingsUpdate(
  live: UserPoolType,
  lambdaConfig: LambdaConfigType | undefined,
): UpdateUserPoolCommandInput {
  const input: UpdateUserPoolCommandInput = {
    UserPoolId: live.Id,
    ...(live.Name !== undefined && live.Name !== null ? { PoolName: live.Name } : {}),
    ...pickPresent(live, UPDATE_POOL_KEYS),
  };
  if (lambdaConfig && Object.keys(lambdaConfig).length) input.LambdaConfig = lambdaConfig;
  else delete input.LambdaConfig;

  // As for CreateUserPool: the legacy verification messages duplicate VerificationMessageTemplate
  // (which supersedes them), and the deprecated UnusedAccountValidityDays conflicts with
  // TemporaryPasswordValidityDays — each value is sent once.
  withoutDuplicateSettings(input);
  return input;
}

/** A CreateUserPool request without its Lambda triggers (and their KMS key). */
export function withoutLambdaConfig<T extends { LambdaConfig?: unknown }>(
  input: T,
): Omit<T, 'LambdaConfig'> {
  const { LambdaConfig: _dropped, ...rest } = input;
  return rest;
}

/** The snapshot's triggers, or undefined when it has none. */
export function snapshotTriggers(userPool: UserPoolType): LambdaConfigType | undefined {
  const lc = userPool.LambdaConfig;
  return lc && Object.keys(lc).length ? lc : undefined;
}

/** Attaches `lambdaConfig` to the pool with one whole-settings UpdateUserPool. */
export async function attachTriggers(
  gw: CognitoGateway,
  poolId: string,
  lambdaConfig: LambdaConfigType,
): Promise<void> {
  const { UserPool: live } = await gw.send(new DescribeUserPoolCommand({ UserPoolId: poolId }));
  if (!live)
    throw new UnexpectedResponseError('DescribeUserPool', 'UserPool', { userPoolId: poolId });
  const input = wholeSettingsUpdate(live, lambdaConfig);
  // Idempotent (the same whole settings twice): a retry after a lost answer is harmless.
  await gw.send(new UpdateUserPoolCommand(input));
}
