import { closeSync, openSync, writeSync } from 'node:fs';
import {
  AdminSetUserMFAPreferenceCommand,
  type AdminSetUserMFAPreferenceCommandInput,
} from '@aws-sdk/client-cognito-identity-provider';
import type { CognitoGateway } from '../../cognito/gateway.js';
import type { UserRecord } from '../../snapshot/format.js';

/**
 * Per-user MFA, from snapshots taken with `backup --user-mfa` (UserMFASettingList and
 * PreferredMfaSetting on each user record). SMS and email MFA come back with
 * AdminSetUserMFAPreference (UserResourceUpdate quota, 25 RPS, not adjustable): the factor is
 * enabled, and preferred when it was. TOTP cannot come back — no API reads or writes an
 * authenticator secret — so TOTP users are counted and listed in a 0600 file (usernames are
 * personal data), and they must set up their authenticator again.
 */
export interface MfaPreference {
  sms: boolean;
  email: boolean;
  preferred?: 'SMS_MFA' | 'EMAIL_OTP';
}

/** What a user record says about MFA (undefined: nothing to set, or not captured). */
export function mfaOf(u: UserRecord): { preference?: MfaPreference; totp: boolean } | undefined {
  const list = u.UserMFASettingList;
  if (!list) return undefined;
  const sms = list.includes('SMS_MFA');
  const email = list.includes('EMAIL_OTP');
  const totp = list.includes('SOFTWARE_TOKEN_MFA');
  const p = u.PreferredMfaSetting;
  const preferred = p === 'SMS_MFA' || p === 'EMAIL_OTP' ? p : undefined;
  if (!sms && !email) return totp ? { totp } : undefined;
  return {
    totp,
    preference: {
      sms,
      email,
      ...(preferred && (preferred === 'SMS_MFA' ? sms : email) ? { preferred } : {}),
    },
  };
}

export function mfaPreferenceInput(
  poolId: string,
  username: string,
  p: MfaPreference,
): AdminSetUserMFAPreferenceCommandInput {
  return {
    UserPoolId: poolId,
    Username: username,
    ...(p.sms
      ? { SMSMfaSettings: { Enabled: true, PreferredMfa: p.preferred === 'SMS_MFA' } }
      : {}),
    ...(p.email
      ? { EmailMfaSettings: { Enabled: true, PreferredMfa: p.preferred === 'EMAIL_OTP' } }
      : {}),
  };
}

/** AdminSetUserMFAPreference (idempotent: setting the same preference twice is harmless). */
export async function setUserMfaPreference(
  gw: CognitoGateway,
  poolId: string,
  username: string,
  p: MfaPreference,
): Promise<void> {
  const input = mfaPreferenceInput(poolId, username, p);
  await gw.send(new AdminSetUserMFAPreferenceCommand(input));
}

/**
 * The users whose TOTP cannot be restored, one JSON line each, in a 0600 file. Rewritten by
 * every run (each run reads every user from the snapshot), so a resumed run lists each once.
 */
export class TotpReport {
  private fd: number | undefined;
  count = 0;

  constructor(readonly file: string) {}

  add(username: string): void {
    this.fd ??= openSync(this.file, 'w', 0o600);
    writeSync(this.fd, `${JSON.stringify({ username, factor: 'SOFTWARE_TOKEN_MFA' })}\n`);
    this.count++;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
