import { describe, expect, it } from 'vitest';
import { clientInput } from '../../src/restore/resources/restore.js';
import { REDACTED } from '../../src/snapshot/format.js';

const base = {
  ClientId: 'oldclientid123',
  ClientName: 'machine',
  UserPoolId: 'us-east-1_old',
  CreationDate: new Date('2026-01-01T00:00:00.000Z'),
  AllowedOAuthFlows: ['client_credentials' as const],
};

describe('app client restore input', () => {
  it('restores a captured secret as the custom client secret, so applications keep working', () => {
    const secret = 'a'.repeat(20) + 'B0c1D2e3F4g5h6I7j8K9l0m1n2o3p4q5r6s';
    const { input } = clientInput({ ...base, ClientSecret: secret }, 'us-east-1_new', new Set());
    expect(input.ClientSecret).toBe(secret);
    expect(input.GenerateSecret).toBeUndefined();
    expect(input.UserPoolId).toBe('us-east-1_new');
    expect(input).not.toHaveProperty('ClientId');
    expect(input).not.toHaveProperty('CreationDate');
  });

  it('generates a new secret when the snapshot holds only the redaction marker', () => {
    const { input } = clientInput({ ...base, ClientSecret: REDACTED }, 'us-east-1_new', new Set());
    expect(input.GenerateSecret).toBe(true);
    expect(input.ClientSecret).toBeUndefined();
  });

  it('generates a new secret when the captured one is not a valid custom secret, and says so', () => {
    for (const bad of ['short!', '442106b1-fc4e-4a32-b68e-b2375d96e502', 'x'.repeat(65)]) {
      const r = clientInput({ ...base, ClientSecret: bad }, 'us-east-1_new', new Set());
      expect(r.input.GenerateSecret).toBe(true);
      expect(r.input.ClientSecret).toBeUndefined();
      expect(r.newSecret).toBe('invalid');
    }
    const redacted = clientInput({ ...base, ClientSecret: REDACTED }, 'us-east-1_new', new Set());
    expect(redacted.newSecret).toBe('redacted');
    const kept = clientInput({ ...base, ClientSecret: 'A'.repeat(24) }, 'us-east-1_new', new Set());
    expect(kept.newSecret).toBeUndefined();
  });

  it('copies every client field restore knows, including refresh-token rotation', () => {
    const full = {
      ...base,
      RefreshTokenRotation: { Feature: 'ENABLED', RetryGracePeriodSeconds: 10 },
      AuthSessionValidity: 7,
      EnablePropagateAdditionalUserContextData: true,
      AnalyticsConfiguration: { ApplicationId: 'app', ExternalId: 'ext', UserDataShared: false },
      ClientType: 'confidential',
    };
    const { input } = clientInput(full as never, 'us-east-1_new', new Set());
    expect(input.RefreshTokenRotation).toEqual({ Feature: 'ENABLED', RetryGracePeriodSeconds: 10 });
    expect(input.AuthSessionValidity).toBe(7);
    expect(input.EnablePropagateAdditionalUserContextData).toBe(true);
    expect(input.AnalyticsConfiguration).toEqual(full.AnalyticsConfiguration);
    // Output only: CreateUserPoolClient has no ClientType.
    expect(input).not.toHaveProperty('ClientType');
  });

  it('creates a public client without any secret', () => {
    const { input } = clientInput({ ...base }, 'us-east-1_new', new Set());
    expect(input.GenerateSecret).toBeUndefined();
    expect(input.ClientSecret).toBeUndefined();
  });

  it('drops an analytics configuration whose ExternalId was redacted, and says so', () => {
    const analytics = { ApplicationId: 'app', RoleArn: 'arn:r', ExternalId: REDACTED };
    const r = clientInput(
      { ...base, AnalyticsConfiguration: analytics } as typeof base,
      'us-east-1_new',
      new Set(),
    );
    expect(r.input.AnalyticsConfiguration).toBeUndefined();
    expect(r.analyticsDropped).toBe(true);
    const kept = clientInput(
      { ...base, AnalyticsConfiguration: { ...analytics, ExternalId: 'ext' } } as typeof base,
      'us-east-1_new',
      new Set(),
    );
    expect(kept.input.AnalyticsConfiguration?.ExternalId).toBe('ext');
    expect(kept.analyticsDropped).toBeUndefined();
  });
});
