import { randomInt } from 'node:crypto';
import type { PasswordPolicyType, UserPoolType } from '@aws-sdk/client-cognito-identity-provider';
import type { UserRecord } from '../../snapshot/format.js';
import type { PasswordState } from '../types.js';

/**
 * How the admin-create path leaves a restored user's password (`--password-state`):
 *
 * - `sign-in-ready` (default): every user the snapshot had as able to sign in ends CONFIRMED —
 *   with a random permanent password nobody knows (AdminSetUserPassword `Permanent`), so
 *   "forgot password" works for anyone with a verified email or phone — or, in a pool whose
 *   sign-in policy allows email/SMS one-time passwords, as a passwordless user when the user has
 *   the matching verified attribute.
 * - `force-change`: the old behaviour: AdminCreateUser only, every user in
 *   FORCE_CHANGE_PASSWORD with a temporary password nobody knows (locked out until an admin acts).
 *
 * Neither sends a message to anyone.
 */
export type { PasswordState } from '../types.js';
export const PASSWORD_STATES: readonly PasswordState[] = ['sign-in-ready', 'force-change'];

/**
 * Where a user ends: `c` CONFIRMED with a random permanent password, `p` passwordless (signs in
 * with an email/SMS one-time password), `f` FORCE_CHANGE_PASSWORD (temporary password nobody
 * knows).
 */
export type SignInKind = 'c' | 'p' | 'f';

/** Why a user cannot get back in without an administrator. */
export type NeedsAdminReason =
  /** No verified email/phone that the pool's account recovery may use: ForgotPassword fails. */
  | 'no-verified-contact'
  /** Never confirmed in the source pool: restored in FORCE_CHANGE_PASSWORD, not activated. */
  | 'unconfirmed'
  /** `--password-state force-change`: FORCE_CHANGE_PASSWORD users cannot use ForgotPassword. */
  | 'force-change';

/** What the target pool allows, read once (DescribeUserPool of the target). */
export interface SignInContext {
  state: PasswordState;
  policy: PasswordPolicyType | undefined;
  /** Passwordless first factors the target allows (EMAIL_OTP, SMS_OTP). */
  emailOtp: boolean;
  smsOtp: boolean;
  /** Account recovery (ForgotPassword) channels of the target. */
  recoverByEmail: boolean;
  recoverByPhone: boolean;
}

export interface SignInPlan {
  kind: SignInKind;
  /** Send a random TemporaryPassword with AdminCreateUser (passwordless pools only). */
  temporaryPassword: boolean;
  /** AdminSetUserPassword Permanent after creation. */
  setPassword: boolean;
  needsAdmin?: NeedsAdminReason;
}

export function signInContext(target: UserPoolType, state: PasswordState): SignInContext {
  const factors = new Set<string>(target.Policies?.SignInPolicy?.AllowedFirstAuthFactors ?? []);
  const mechanisms = target.AccountRecoverySetting?.RecoveryMechanisms;
  // Without an AccountRecoverySetting Cognito recovers through a verified phone, else email.
  const names = new Set(
    mechanisms ? mechanisms.map((m) => m.Name) : ['verified_email', 'verified_phone_number'],
  );
  return {
    state,
    policy: target.Policies?.PasswordPolicy,
    emailOtp: factors.has('EMAIL_OTP'),
    smsOtp: factors.has('SMS_OTP'),
    recoverByEmail: names.has('verified_email'),
    recoverByPhone: names.has('verified_phone_number'),
  };
}

function verified(u: UserRecord, attr: 'email' | 'phone_number'): boolean {
  const value = (name: string): string | undefined =>
    u.Attributes.find((a) => a.Name === name)?.Value;
  return Boolean(value(attr)) && value(`${attr}_verified`) === 'true';
}

/**
 * The documented status mapping (docs/restore.md, "How each user gets back in"):
 * CONFIRMED, RESET_REQUIRED, FORCE_CHANGE_PASSWORD (and the deprecated ARCHIVED, COMPROMISED,
 * UNKNOWN) → CONFIRMED (random password, or passwordless); UNCONFIRMED → FORCE_CHANGE_PASSWORD
 * (an account its owner never confirmed is not activated by a restore). EXTERNAL_PROVIDER users
 * are never created. With `force-change` everyone stays FORCE_CHANGE_PASSWORD.
 */
export function planSignIn(u: UserRecord, ctx: SignInContext): SignInPlan {
  const passwordlessPool = ctx.emailOtp || ctx.smsOtp;
  const passwordless =
    (ctx.emailOtp && verified(u, 'email')) || (ctx.smsOtp && verified(u, 'phone_number'));
  if (ctx.state === 'force-change') {
    // Exactly the old requests: AdminCreateUser without a TemporaryPassword (Cognito makes a
    // passwordless user where passwordless sign-in is active).
    if (passwordlessPool && passwordless)
      return { kind: 'p', temporaryPassword: false, setPassword: false };
    return { kind: 'f', temporaryPassword: false, setPassword: false, needsAdmin: 'force-change' };
  }
  if (u.UserStatus === 'UNCONFIRMED') {
    return {
      kind: 'f',
      temporaryPassword: passwordlessPool,
      setPassword: false,
      needsAdmin: 'unconfirmed',
    };
  }
  if (passwordless) return { kind: 'p', temporaryPassword: false, setPassword: false };
  const recoverable =
    (ctx.recoverByEmail && verified(u, 'email')) ||
    (ctx.recoverByPhone && verified(u, 'phone_number'));
  return {
    kind: 'c',
    // In a passwordless pool AdminCreateUser without a password would make a passwordless user
    // (and refuses one without email/phone): give it a random temporary one, replaced at once.
    temporaryPassword: passwordlessPool,
    setPassword: true,
    ...(recoverable ? {} : { needsAdmin: 'no-verified-contact' as const }),
  };
}

/** The UserStatus a restored user is expected to have, from its status in the snapshot. */
export function expectedRestoredStatus(
  sourceStatus: string | undefined,
  state: PasswordState = 'sign-in-ready',
): string {
  if (state === 'force-change' || sourceStatus === 'UNCONFIRMED') return 'FORCE_CHANGE_PASSWORD';
  return 'CONFIRMED';
}

// ---- random passwords ------------------------------------------------------------------------

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
/** Cognito's password special characters, less the space (AdminSetUserPassword: `[\S]+`). */
const SYMBOLS = '^$*.[]{}()?"!@#%&/\\,><\':;|_~`=+-';
const ALL = UPPER + LOWER + DIGITS + SYMBOLS;

/**
 * Length of generated passwords: 98 characters of 94 symbols (~640 bits), far beyond guessing.
 * AdminSetUserPassword's model allows 256, but pools' policies top out at 99 (MinimumLength
 * 6–99) and emulators (moto) refuse 99 and more; a pool requiring more gets its minimum.
 */
export const RANDOM_PASSWORD_LENGTH = 98;
const MAX_PASSWORD_LENGTH = 256;

/**
 * A password nobody knows, satisfying any Cognito password policy (one character of every class
 * whatever the policy requires, at least the policy's minimum length): 98 characters drawn with
 * crypto.randomInt from 94 symbols (~640 bits). Never stored, journaled, logged or shown.
 */
export function randomPassword(policy?: PasswordPolicyType): string {
  const length = Math.min(
    MAX_PASSWORD_LENGTH,
    Math.max(RANDOM_PASSWORD_LENGTH, policy?.MinimumLength ?? 0),
  );
  const pick = (set: string): string => set.charAt(randomInt(set.length));
  const chars = [pick(UPPER), pick(LOWER), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < length) chars.push(pick(ALL));
  // Fisher–Yates, so the guaranteed classes are not at fixed places.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
