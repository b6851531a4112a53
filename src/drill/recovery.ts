import { paginateListUsers } from '@aws-sdk/client-cognito-identity-provider';
import { type CognitoGateway, items } from '../cognito/gateway.js';
import { hasVerifiedContact } from './sample.js';

/**
 * Can each restored user get back in by themselves? Cognito's ForgotPassword works for
 * CONFIRMED and RESET_REQUIRED users with a verified email or phone number; a
 * FORCE_CHANGE_PASSWORD user cannot use it (an administrator must act), and a user without a
 * verified contact has nowhere to receive a code. Read from the scratch pool itself (ListUsers:
 * bills nothing, one streaming pass); only counts are kept.
 */
export interface RecoveryCheck {
  /** Users in the scratch pool. */
  users: number;
  /** By status: CONFIRMED (AdminCreateUser, sign-in-ready), RESET_REQUIRED (import job), … */
  byStatus: Record<string, number>;
  /** Users with a verified contact whose status lets them reset their password. */
  canRecover: number;
  /**
   * Users with a verified contact who still cannot recover (wrong status): each one is a
   * failure of the check — the restore left them locked out.
   */
  lockedOut: number;
  /** Users without a verified email/phone: need an administrator (as in the source). */
  noVerifiedContact: number;
  /** Disabled users (restored disabled, as in the snapshot). */
  disabled: number;
  passed: boolean;
}

const RECOVERABLE = new Set(['CONFIRMED', 'RESET_REQUIRED']);

export async function checkRecovery(gw: CognitoGateway, poolId: string): Promise<RecoveryCheck> {
  const out: RecoveryCheck = {
    users: 0,
    byStatus: {},
    canRecover: 0,
    lockedOut: 0,
    noVerifiedContact: 0,
    disabled: 0,
    passed: true,
  };
  for await (const u of items(gw.pages(paginateListUsers, { UserPoolId: poolId }), 'Users')) {
    out.users++;
    const status = u.UserStatus ?? 'UNKNOWN';
    out.byStatus[status] = (out.byStatus[status] ?? 0) + 1;
    if (u.Enabled === false) out.disabled++;
    if (!hasVerifiedContact(u.Attributes ?? [])) {
      out.noVerifiedContact++;
      continue;
    }
    if (RECOVERABLE.has(status)) out.canRecover++;
    else out.lockedOut++;
  }
  out.passed = out.lockedOut === 0;
  return out;
}
