import { describe, expect, it } from 'vitest';
import {
  expectedRestoredStatus,
  planSignIn,
  randomPassword,
  signInContext,
} from '../../src/restore/users/sign-in.js';
import type { UserRecord } from '../../src/snapshot/format.js';

function u(status: string, attrs: Record<string, string> = {}): UserRecord {
  return {
    Username: 'x',
    UserStatus: status,
    Enabled: true,
    Attributes: Object.entries(attrs).map(([Name, Value]) => ({ Name, Value })),
  } as UserRecord;
}
const VERIFIED = { email: 'x@example.com', email_verified: 'true' };
const plainPool = signInContext({}, 'sign-in-ready');

describe('random passwords', () => {
  it('satisfy the strictest policy, are long, have no whitespace, and never repeat', () => {
    const policy = {
      MinimumLength: 99,
      RequireUppercase: true,
      RequireLowercase: true,
      RequireNumbers: true,
      RequireSymbols: true,
    };
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = randomPassword(policy);
      expect(p.length).toBe(99);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[^A-Za-z0-9]/);
      expect(p).toMatch(/^\S+$/);
      seen.add(p);
    }
    expect(seen.size).toBe(300);
  });

  it('never exceed the 256 characters AdminSetUserPassword takes', () => {
    expect(randomPassword({ MinimumLength: 300 }).length).toBe(256);
    expect(randomPassword().length).toBe(98);
  });
});

describe('status mapping (sign-in-ready)', () => {
  it.each(['CONFIRMED', 'RESET_REQUIRED', 'FORCE_CHANGE_PASSWORD', 'COMPROMISED'])(
    '%s with a verified email → CONFIRMED with a random password, self-service',
    (status) => {
      expect(planSignIn(u(status, VERIFIED), plainPool)).toEqual({
        kind: 'c',
        temporaryPassword: false,
        setPassword: true,
      });
      expect(expectedRestoredStatus(status)).toBe('CONFIRMED');
    },
  );

  it('UNCONFIRMED → FORCE_CHANGE_PASSWORD, never activated, needs an administrator', () => {
    expect(planSignIn(u('UNCONFIRMED', VERIFIED), plainPool)).toMatchObject({
      kind: 'f',
      setPassword: false,
      needsAdmin: 'unconfirmed',
    });
    expect(expectedRestoredStatus('UNCONFIRMED')).toBe('FORCE_CHANGE_PASSWORD');
  });

  it('a user without a verified email or phone is CONFIRMED but needs an administrator', () => {
    const unverified = { email: 'x@example.com', email_verified: 'false' };
    expect(planSignIn(u('CONFIRMED', unverified), plainPool)).toMatchObject({
      kind: 'c',
      setPassword: true,
      needsAdmin: 'no-verified-contact',
    });
    expect(
      planSignIn(
        u('CONFIRMED', { phone_number: '+15555550100', phone_number_verified: 'true' }),
        plainPool,
      ).needsAdmin,
    ).toBeUndefined();
  });

  it('follows the account recovery setting: a verified phone does not help an email-only pool', () => {
    const emailOnly = signInContext(
      { AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] } },
      'sign-in-ready',
    );
    const phone = { phone_number: '+15555550100', phone_number_verified: 'true' };
    expect(planSignIn(u('CONFIRMED', phone), emailOnly).needsAdmin).toBe('no-verified-contact');
    const adminOnly = signInContext(
      { AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'admin_only', Priority: 1 }] } },
      'sign-in-ready',
    );
    expect(planSignIn(u('CONFIRMED', VERIFIED), adminOnly).needsAdmin).toBe('no-verified-contact');
  });

  it('passwordless pools: a user with the matching verified attribute gets no password', () => {
    const otp = signInContext(
      { Policies: { SignInPolicy: { AllowedFirstAuthFactors: ['PASSWORD', 'EMAIL_OTP'] } } },
      'sign-in-ready',
    );
    expect(planSignIn(u('CONFIRMED', VERIFIED), otp)).toEqual({
      kind: 'p',
      temporaryPassword: false,
      setPassword: false,
    });
    // A verified phone is no use when only email OTP is allowed: random password, with a
    // temporary one at creation (else Cognito would make a passwordless user or refuse it).
    const phone = { phone_number: '+15555550100', phone_number_verified: 'true' };
    expect(planSignIn(u('CONFIRMED', phone), otp)).toEqual({
      kind: 'c',
      temporaryPassword: true,
      setPassword: true,
    });
    // Passkeys cannot be restored: a WEB_AUTHN-only pool is a password pool for the restore.
    const passkey = signInContext(
      { Policies: { SignInPolicy: { AllowedFirstAuthFactors: ['PASSWORD', 'WEB_AUTHN'] } } },
      'sign-in-ready',
    );
    expect(planSignIn(u('CONFIRMED', VERIFIED), passkey).kind).toBe('c');
  });

  it('force-change keeps the old requests: no password anywhere, everyone needs an administrator', () => {
    const ctx = signInContext({}, 'force-change');
    expect(planSignIn(u('CONFIRMED', VERIFIED), ctx)).toEqual({
      kind: 'f',
      temporaryPassword: false,
      setPassword: false,
      needsAdmin: 'force-change',
    });
    expect(expectedRestoredStatus('CONFIRMED', 'force-change')).toBe('FORCE_CHANGE_PASSWORD');
  });
});
