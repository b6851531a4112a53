import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import {
  DescribeIdentityProviderCommand,
  DescribeManagedLoginBrandingByClientCommand,
  DescribeRiskConfigurationCommand,
  GetLogDeliveryConfigurationCommand,
  GetUICustomizationCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  GetUserPoolMfaConfigCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ASSET_KEYS,
  BRANDING_KEYS,
  BRANDING_NOT_COPIED,
  CLIENT_NOT_COPIED,
  LOG_DELIVERY_KEYS,
  RISK_KEYS,
  COMPARED_CLIENT_KEYS,
  CREATE_CLIENT_DERIVED,
  CREATE_CLIENT_KEYS,
  CREATE_GROUP_KEYS,
  CREATE_IDP_KEYS,
  CREATE_POOL_DERIVED,
  CREATE_POOL_KEYS,
  CREATE_RESOURCE_SERVER_KEYS,
  GROUP_NOT_COPIED,
  IDP_NOT_COPIED,
  MFA_KEYS,
  POOL_NOT_COPIED,
  RESOURCE_SERVER_NOT_COPIED,
} from '../../src/cognito/fields.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { locateCognitoModel } from '../../testing/request-guard.js';
import { comparePools } from '../../src/compare/index.js';
import { awsError } from '../support/aws-errors.js';
import { type StackMock, stackMock } from '../support/stack-mock.js';
import { unitClient } from '../support/unit-gateway.js';

// The compile-time checks in src/cognito/fields.ts hold the SDK's members; this holds the API
// model's (botocore's, installed with moto), which may know a field the SDK does not yet.
const file = locateCognitoModel();
const raw = readFileSync(file);
const model = JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as {
  shapes: Record<string, { members?: Record<string, unknown> }>;
};
const members = (shape: string): string[] => Object.keys(model.shapes[shape]?.members ?? {});

describe("field lists cover Cognito's API model", () => {
  const cases: [string, readonly string[]][] = [
    ['CreateUserPoolRequest', [...CREATE_POOL_KEYS, ...Object.keys(CREATE_POOL_DERIVED)]],
    ['UserPoolType', [...CREATE_POOL_KEYS, ...Object.keys(POOL_NOT_COPIED)]],
    ['CreateUserPoolClientRequest', [...CREATE_CLIENT_KEYS, ...Object.keys(CREATE_CLIENT_DERIVED)]],
    ['UserPoolClientType', [...CREATE_CLIENT_KEYS, ...Object.keys(CLIENT_NOT_COPIED)]],
    ['CreateIdentityProviderRequest', [...CREATE_IDP_KEYS, 'UserPoolId']],
    ['IdentityProviderType', [...CREATE_IDP_KEYS, ...Object.keys(IDP_NOT_COPIED)]],
    ['CreateResourceServerRequest', [...CREATE_RESOURCE_SERVER_KEYS, 'UserPoolId']],
    [
      'ResourceServerType',
      [...CREATE_RESOURCE_SERVER_KEYS, ...Object.keys(RESOURCE_SERVER_NOT_COPIED)],
    ],
    ['CreateGroupRequest', [...CREATE_GROUP_KEYS, 'UserPoolId']],
    ['GroupType', [...CREATE_GROUP_KEYS, ...Object.keys(GROUP_NOT_COPIED)]],
    ['GetUserPoolMfaConfigResponse', MFA_KEYS],
    ['SetUserPoolMfaConfigRequest', [...MFA_KEYS, 'UserPoolId']],
    ['CreateManagedLoginBrandingRequest', [...BRANDING_KEYS, ...Object.keys(BRANDING_NOT_COPIED)]],
    ['ManagedLoginBrandingType', [...BRANDING_KEYS, ...Object.keys(BRANDING_NOT_COPIED)]],
    ['AssetType', ASSET_KEYS],
    ['SetRiskConfigurationRequest', [...RISK_KEYS, 'UserPoolId', 'ClientId']],
    ['SetLogDeliveryConfigurationRequest', [...LOG_DELIVERY_KEYS, 'UserPoolId']],
  ];
  for (const [shape, handled] of cases) {
    it(`${shape}: every member is copied or excluded with a reason`, () => {
      expect(members(shape).length).toBeGreaterThan(0);
      expect(members(shape).filter((m) => !handled.includes(m))).toEqual([]);
    });
  }
});

// ---- compare checks every field restore writes -------------------------------------------

const A = 'us-east-1_A';
const B = 'us-east-1_B';
let mock: StackMock | undefined;
afterEach(() => mock?.restore());

interface Side {
  extras?: { ui?: Record<string, unknown>; risk?: Record<string, unknown>; logs?: unknown[] };
  pool: Record<string, unknown>;
  mfa: Record<string, unknown>;
  client: Record<string, unknown>;
  idp: Record<string, unknown>;
  group: Record<string, unknown>;
  server: Record<string, unknown>;
}

function side(): Side {
  return {
    pool: { Name: 'p' },
    mfa: { MfaConfiguration: 'OFF' },
    client: { ClientId: 'c1', ClientName: 'web' },
    idp: { ProviderName: 'Google', ProviderType: 'Google', ProviderDetails: { client_id: 'x' } },
    group: { GroupName: 'g' },
    server: { Identifier: 'https://api', Name: 'api', Scopes: [] },
  };
}

async function compare(a: Side, b: Side) {
  const client = unitClient();
  mock = stackMock(client);
  const of = (id: string | undefined): Side => (id === A ? a : b);
  mock.on(DescribeUserPoolCommand).callsFake((i) => ({ UserPool: of(i.UserPoolId).pool }));
  mock.on(GetUserPoolMfaConfigCommand).callsFake((i) => of(i.UserPoolId).mfa);
  mock.on(ListUsersCommand).resolves({ Users: [] });
  mock.on(ListGroupsCommand).callsFake((i) => ({ Groups: [of(i.UserPoolId).group] }));
  mock.on(ListUserPoolClientsCommand).callsFake((i) => ({
    UserPoolClients: [{ ClientId: of(i.UserPoolId).client.ClientId, ClientName: 'web' }],
  }));
  mock
    .on(DescribeUserPoolClientCommand)
    .callsFake((i) => ({ UserPoolClient: of(i.UserPoolId).client }));
  mock
    .on(ListIdentityProvidersCommand)
    .callsFake(() => ({ Providers: [{ ProviderName: 'Google' }] }));
  mock
    .on(DescribeIdentityProviderCommand)
    .callsFake((i) => ({ IdentityProvider: of(i.UserPoolId).idp }));
  mock
    .on(ListResourceServersCommand)
    .callsFake((i) => ({ ResourceServers: [of(i.UserPoolId).server] }));
  mock.on(ListUsersInGroupCommand).resolves({ Users: [] });
  mock
    .on(DescribeManagedLoginBrandingByClientCommand)
    .rejects(awsError('ResourceNotFoundException'));
  const extra = (id: string | undefined) => {
    const x = of(id).extras;
    if (!x) throw Object.assign(new Error('not implemented'), { name: 'NotImplemented' });
    return x;
  };
  mock
    .on(GetUICustomizationCommand)
    .callsFake((i) => ({ UICustomization: extra(i.UserPoolId).ui }));
  mock
    .on(DescribeRiskConfigurationCommand)
    .callsFake((i) => ({ RiskConfiguration: extra(i.UserPoolId).risk }));
  mock.on(GetLogDeliveryConfigurationCommand).callsFake((i) => ({
    LogDeliveryConfiguration: {
      UserPoolId: i.UserPoolId,
      LogConfigurations: extra(i.UserPoolId).logs,
    },
  }));
  const gw = new CognitoGateway(client, { rate: { unlimited: true } });
  try {
    return await comparePools(gw, A, gw, B);
  } finally {
    gw.destroy();
  }
}

describe('compare checks every field restore writes (no blind spot shared with restore)', () => {
  it('identical sides compare equal', async () => {
    expect((await compare(side(), side())).equal).toBe(true);
  });

  const fieldsOf = (r: Awaited<ReturnType<typeof compare>>): string[] =>
    r.differences.map((d) => d.field ?? d.key);

  it('every pool setting restore copies', async () => {
    for (const k of CREATE_POOL_KEYS) {
      const b = side();
      b.pool[k] = { changed: k };
      expect(fieldsOf(await compare(side(), b)), k).toContain(k);
    }
  });

  it('every MFA setting restore writes, WebAuthn included', async () => {
    for (const k of MFA_KEYS) {
      const b = side();
      b.mfa[k] = { changed: k };
      expect(fieldsOf(await compare(side(), b)), k).toContain(k);
    }
  });

  it('every app client field restore copies, and the client type', async () => {
    expect(COMPARED_CLIENT_KEYS).toContain('RefreshTokenRotation');
    for (const k of COMPARED_CLIENT_KEYS) {
      const b = side();
      b.client[k] = { changed: k };
      expect(fieldsOf(await compare(side(), b)), k).toContain(k);
    }
  });

  it('UI customization, risk and log delivery: compared when readable, reported when one side is not', async () => {
    const withExtras = (css: string): Side => ({
      ...side(),
      extras: {
        ui: { CSS: css, ImageUrl: `https://cdn/${css}.png`, ClientId: 'ALL' },
        risk: { RiskExceptionConfiguration: { BlockedIPRangeList: ['10.0.0.0/8'] } },
        logs: [{ LogLevel: 'ERROR', EventSource: 'userNotification' }],
      },
    });
    // Different logo URLs (each pool has its own), same CSS: equal.
    const same = await compare(withExtras('a'), {
      ...withExtras('a'),
      extras: { ...withExtras('a').extras, ui: { CSS: 'a', ImageUrl: 'https://other/x.png' } },
    });
    expect(same.differences).toEqual([]);
    expect(same.summary.settingsNotCompared).toBeUndefined();
    const css = await compare(withExtras('a'), withExtras('b'));
    expect(fieldsOf(css)).toEqual(['UICustomization']);
    const noLogo = withExtras('a');
    delete noLogo.extras!.ui!.ImageUrl;
    expect(fieldsOf(await compare(withExtras('a'), noLogo))).toEqual(['UICustomization']);
    const risk = withExtras('a');
    risk.extras!.risk = {};
    expect(fieldsOf(await compare(withExtras('a'), risk))).toEqual(['RiskConfiguration']);
    const logs = withExtras('a');
    logs.extras!.logs = [];
    expect(fieldsOf(await compare(withExtras('a'), logs))).toEqual(['LogDeliveryConfiguration']);
    // Readable on one side only: a difference; on neither: listed as not compared.
    const oneSide = await compare(withExtras('a'), side());
    expect(oneSide.differences.map((d) => d.message)).toContain(
      'pool setting UICustomization could be read in A only',
    );
    const neither = await compare(side(), side());
    expect(neither.equal).toBe(true);
    expect(neither.summary.settingsNotCompared).toEqual([
      'UICustomization',
      'RiskConfiguration',
      'LogDeliveryConfiguration',
      'ClientUICustomization (app clients)',
      'ClientRiskConfiguration (app clients)',
    ]);
  });

  it('every identity provider, group and resource server field restore copies', async () => {
    for (const k of CREATE_IDP_KEYS.filter((x) => x !== 'ProviderName')) {
      const b = side();
      b.idp[k] = k === 'ProviderDetails' ? { client_id: 'other' } : { changed: k };
      expect(fieldsOf(await compare(side(), b)), k).toContain(k);
    }
    for (const k of CREATE_GROUP_KEYS.filter((x) => x !== 'GroupName')) {
      const b = side();
      b.group[k] = 7;
      expect(fieldsOf(await compare(side(), b)), k).toContain(k);
    }
    for (const k of CREATE_RESOURCE_SERVER_KEYS.filter((x) => x !== 'Identifier')) {
      const b = side();
      b.server[k] = k === 'Scopes' ? [{ ScopeName: 's', ScopeDescription: 'd' }] : 'other';
      expect(fieldsOf(await compare(side(), b)), k).toContain(k);
    }
  });
});
