import {
  CreateIdentityProviderCommand,
  CreateUserPoolClientCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import path from 'node:path';
import type { CreateIdentityProviderCommandInput } from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import { comparePools } from '../../src/compare/index.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';

// A pool with an app client using every field CreateUserPoolClient takes and one identity
// provider of every type, round-tripped with the request guard in front of moto: every request
// seeding, backup, restore and compare send must be one real Cognito accepts (the fixture fails
// the file otherwise).

let fixture: MotoFixture | undefined;
let gw: CognitoGateway;
let sourcePoolId: string;

const IDPS: Omit<CreateIdentityProviderCommandInput, 'UserPoolId'>[] = [
  {
    ProviderName: 'Facebook',
    ProviderType: 'Facebook',
    ProviderDetails: {
      client_id: 'fb-app',
      client_secret: 'fb-secret',
      authorize_scopes: 'public_profile,email',
      api_version: 'v17.0',
    },
    AttributeMapping: { email: 'email' },
  },
  {
    ProviderName: 'LoginWithAmazon',
    ProviderType: 'LoginWithAmazon',
    ProviderDetails: {
      client_id: 'amzn1.application-oa2-client.x',
      client_secret: 'lwa-secret',
      authorize_scopes: 'profile',
    },
  },
  {
    ProviderName: 'SignInWithApple',
    ProviderType: 'SignInWithApple',
    ProviderDetails: {
      client_id: 'com.example.app',
      team_id: 'TEAM123456',
      key_id: 'KEY1234567',
      private_key: '-----BEGIN PRIVATE KEY-----\nMIGTAgEA\n-----END PRIVATE KEY-----',
      authorize_scopes: 'email name',
    },
  },
  {
    ProviderName: 'Corp-OIDC',
    ProviderType: 'OIDC',
    ProviderDetails: {
      client_id: 'oidc-client',
      client_secret: 'oidc-secret',
      attributes_request_method: 'GET',
      oidc_issuer: 'https://issuer.example.com',
      authorize_scopes: 'openid email profile',
    },
    AttributeMapping: { email: 'email', username: 'sub' },
    IdpIdentifiers: ['corp-oidc'],
  },
  {
    ProviderName: 'Corp-SAML',
    ProviderType: 'SAML',
    ProviderDetails: {
      MetadataURL: 'https://idp.example.com/saml/metadata',
      IDPSignout: 'true',
    },
    AttributeMapping: { email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/email' },
    IdpIdentifiers: ['corp.example.com'],
  },
];

beforeAll(async () => {
  fixture = await startMotoFixture('cv-fidelity-it-');
  gw = fixture.gw;
  const seeded = await seedPool(gw, { poolName: 'fidelity-source', users: 6, groups: 3 });
  sourcePoolId = seeded.userPoolId;
  for (const idp of IDPS) {
    await gw.send(new CreateIdentityProviderCommand({ UserPoolId: sourcePoolId, ...idp }));
  }
  // Every field CreateUserPoolClient takes.
  await gw.send(
    new CreateUserPoolClientCommand({
      UserPoolId: sourcePoolId,
      ClientName: 'maximal',
      GenerateSecret: true,
      RefreshTokenValidity: 10,
      AccessTokenValidity: 2,
      IdTokenValidity: 3,
      TokenValidityUnits: { AccessToken: 'hours', IdToken: 'hours', RefreshToken: 'days' },
      ReadAttributes: ['email', 'name', 'custom:tier'],
      WriteAttributes: ['name', 'custom:tier'],
      ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_USER_AUTH'],
      SupportedIdentityProviders: ['COGNITO', 'Google', ...IDPS.map((i) => i.ProviderName ?? '')],
      CallbackURLs: ['https://app.example.com/callback'],
      LogoutURLs: ['https://app.example.com/logout'],
      DefaultRedirectURI: 'https://app.example.com/callback',
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email', 'https://api.example.com/orders.read'],
      AllowedOAuthFlowsUserPoolClient: true,
      AnalyticsConfiguration: {
        ApplicationId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
        RoleArn: 'arn:aws:iam::123456789012:role/pinpoint',
        ExternalId: 'ext-id',
        UserDataShared: false,
      },
      PreventUserExistenceErrors: 'ENABLED',
      EnableTokenRevocation: true,
      EnablePropagateAdditionalUserContextData: true,
      AuthSessionValidity: 5,
      RefreshTokenRotation: { Feature: 'ENABLED', RetryGracePeriodSeconds: 30 },
    }),
  );
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

describe('fidelity on moto, behind the request guard', () => {
  it('round-trips the maximal client and every IdP type with only valid requests', async () => {
    const work = fixture!.work;
    const backup = await backupPool(gw, new LocalDirStorage(path.join(work, 'b')), {
      userPoolId: sourcePoolId,
      includeSecrets: true,
    });
    expect(backup.identityProviders).toBe(IDPS.length + 1);
    // moto 5.2.1 has no ListUserPoolClientSecrets: reported, not fatal.
    expect(backup.warnings).toContainEqual(
      expect.objectContaining({ code: 'NOT_CAPTURED', operation: 'ListUserPoolClientSecrets' }),
    );
    const reader = await SnapshotReader.open(new LocalDirStorage(backup.snapshot));
    const r = await restoreSnapshot(gw, reader, {
      target: { createPool: 'fidelity-restored' },
      stateDir: path.join(work, 'state'),
      // SetUserPoolMfaConfig with a WebAuthn configuration goes through the guard too.
      webauthnRpId: 'login.example.com',
    });
    if (r.dryRun) throw new Error('unexpected dry run');
    expect(r.identityProviders).toBe(IDPS.length + 1);
    // moto's generated secrets are UUIDs, which Cognito refuses as custom secrets: reported,
    // never swapped silently.
    expect(r.warnings.map((w) => w.code)).toContain('CLIENT_SECRET_REGENERATED');

    const cmp = await comparePools(gw, sourcePoolId, gw, r.userPoolId, {
      compareSecrets: true,
      userStatus: 'restored',
    });
    expect(cmp.differences).toEqual([]);
    expect(cmp.summary.identityProviders).toEqual({ a: IDPS.length + 1, b: IDPS.length + 1 });
    expect(fixture!.moto.violations()).toEqual([]);
    expect(fixture!.moto.checked()).toBeGreaterThan(50);
  });
});
