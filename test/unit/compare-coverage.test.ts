import {
  AdminGetUserCommand,
  DescribeIdentityProviderCommand,
  DescribeManagedLoginBrandingByClientCommand,
  DescribeRiskConfigurationCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  DescribeUserPoolDomainCommand,
  GetLogDeliveryConfigurationCommand,
  GetUICustomizationCommand,
  GetUserPoolMfaConfigCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { type StackMock, stackMock } from '../support/stack-mock.js';
import { afterEach, describe, expect, it } from 'vitest';
import { RESTORE_WRITES, WRITTEN_NOT_COMPARED } from '../../src/cognito/fields.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { type CompareOptions, comparePools } from '../../src/compare/index.js';
import { awsError } from '../support/aws-errors.js';
import { unitClient } from '../support/unit-gateway.js';

/**
 * `compare` checks every field restore writes: the cases are derived from RESTORE_WRITES in
 * src/cognito/fields.ts (the lists the restore code copies from). For each document and each
 * field it writes, pool B is pool A with that one field changed, and the comparison must find
 * a difference. A field added to a write list that compare does not check fails here; a new
 * document fails to compile until it has a mutation below. The few fields compare cannot read
 * back are WRITTEN_NOT_COMPARED, each with its reason.
 */

type Loose = Record<string, unknown>;
type Doc = keyof typeof RESTORE_WRITES;

const A = 'us-east-1_A';
const B = 'us-east-1_B';

interface Side {
  pool: Loose;
  mfa: Loose;
  ui: Loose;
  risk: Loose;
  logs: Loose[];
  domain: Loose;
  client: Loose;
  clientUi: Loose | null;
  clientRisk: Loose | null;
  branding: Loose | null;
  idp: Loose;
  group: Loose;
  server: Loose;
  users: UserType[];
  members: Record<string, string[]>;
  /** AdminGetUser's MFA answer for the one user. */
  userMfa: { UserMFASettingList: string[]; PreferredMfaSetting?: string };
}

function side(): Side {
  return {
    pool: { Name: 'p', Domain: 'prefix' },
    mfa: { MfaConfiguration: 'OFF' },
    ui: { ClientId: 'ALL', CSS: '.a{}', ImageUrl: 'https://cdn/a.png' },
    risk: { RiskExceptionConfiguration: { BlockedIPRangeList: ['192.0.2.0/24'] } },
    logs: [{ LogLevel: 'ERROR', EventSource: 'userNotification' }],
    domain: { Domain: 'prefix', ManagedLoginVersion: 2 },
    client: { ClientId: 'c1', ClientName: 'web', ClientSecret: 'secret-value-xxxxxxxxxxxxxx' },
    clientUi: { CSS: '.client{}', ImageUrl: 'https://cdn/c.png' },
    clientRisk: { RiskExceptionConfiguration: { SkippedIPRangeList: ['198.51.100.0/24'] } },
    branding: {
      UseCognitoProvidedValues: false,
      Settings: { components: { form: { borderRadius: 8 } } },
      Assets: [
        {
          Category: 'FORM_LOGO',
          ColorMode: 'LIGHT',
          Extension: 'PNG',
          Bytes: new Uint8Array([1, 2, 3]),
          ResourceId: 'logo',
        },
      ],
    },
    idp: { ProviderName: 'Google', ProviderType: 'Google', ProviderDetails: { client_id: 'x' } },
    group: { GroupName: 'g', Description: 'd', Precedence: 1 },
    server: { Identifier: 'https://api', Name: 'api', Scopes: [] },
    users: [
      {
        Username: 'u1',
        Enabled: true,
        UserStatus: 'CONFIRMED',
        Attributes: [
          { Name: 'sub', Value: 's-1' },
          { Name: 'email', Value: 'a@example.com' },
          {
            Name: 'identities',
            Value: JSON.stringify([{ providerName: 'Google', userId: 'g-1' }]),
          },
        ],
      },
    ],
    members: { g: ['u1'] },
    userMfa: { UserMFASettingList: ['SMS_MFA', 'EMAIL_OTP'], PreferredMfaSetting: 'SMS_MFA' },
  };
}

let mock: StackMock | undefined;
afterEach(() => mock?.restore());

async function compare(a: Side, b: Side, opts: CompareOptions = { userMfa: true }) {
  const client = unitClient();
  mock = stackMock(client);
  const of = (id: string | undefined): Side => (id === A ? a : b);
  mock.on(DescribeUserPoolCommand).callsFake((i) => ({ UserPool: of(i.UserPoolId).pool }));
  mock.on(GetUserPoolMfaConfigCommand).callsFake((i) => of(i.UserPoolId).mfa);
  mock.on(ListUsersCommand).callsFake((i) => ({ Users: of(i.UserPoolId).users }));
  mock.on(ListGroupsCommand).callsFake((i) => ({ Groups: [of(i.UserPoolId).group] }));
  mock.on(ListUsersInGroupCommand).callsFake((i) => ({
    Users: (of(i.UserPoolId).members[i.GroupName ?? ''] ?? []).map((u) => ({ Username: u })),
  }));
  mock.on(ListUserPoolClientsCommand).callsFake((i) => ({
    UserPoolClients: [{ ClientId: of(i.UserPoolId).client.ClientId }],
  }));
  mock
    .on(DescribeUserPoolClientCommand)
    .callsFake((i) => ({ UserPoolClient: of(i.UserPoolId).client }));
  mock
    .on(ListIdentityProvidersCommand)
    .callsFake((i) => ({ Providers: [{ ProviderName: of(i.UserPoolId).idp.ProviderName }] }));
  mock
    .on(DescribeIdentityProviderCommand)
    .callsFake((i) => ({ IdentityProvider: of(i.UserPoolId).idp }));
  mock
    .on(ListResourceServersCommand)
    .callsFake((i) => ({ ResourceServers: [of(i.UserPoolId).server] }));
  mock.on(GetUICustomizationCommand).callsFake((i) => {
    const s = of(i.UserPoolId);
    if (!i.ClientId) return { UICustomization: s.ui };
    // A client without its own customization gets the pool's (ClientId ALL).
    return { UICustomization: s.clientUi ? { ...s.clientUi, ClientId: i.ClientId } : s.ui };
  });
  mock.on(DescribeRiskConfigurationCommand).callsFake((i) => {
    const s = of(i.UserPoolId);
    if (!i.ClientId) return { RiskConfiguration: s.risk };
    return {
      RiskConfiguration: s.clientRisk ? { ...s.clientRisk, ClientId: i.ClientId } : s.risk,
    };
  });
  mock.on(GetLogDeliveryConfigurationCommand).callsFake((i) => ({
    LogDeliveryConfiguration: {
      UserPoolId: i.UserPoolId,
      LogConfigurations: of(i.UserPoolId).logs,
    },
  }));
  mock.on(DescribeUserPoolDomainCommand).callsFake((i) => ({
    DomainDescription: [a, b].find((s) => s.domain.Domain === i.Domain)?.domain,
  }));
  mock.on(DescribeManagedLoginBrandingByClientCommand).callsFake((i) => {
    const s = of(i.UserPoolId);
    if (!s.branding) throw awsError('ResourceNotFoundException');
    return {
      ManagedLoginBranding: { ...s.branding, ManagedLoginBrandingId: `id-${i.UserPoolId}` },
    };
  });
  mock.on(AdminGetUserCommand).callsFake((i) => ({
    Username: i.Username,
    ...of(i.UserPoolId).userMfa,
  }));
  const gw = new CognitoGateway(client, { rate: { unlimited: true } });
  try {
    return await comparePools(gw, A, gw, B, opts);
  } finally {
    gw.destroy();
  }
}

const changed = (f: string) => ({ changed: f });
const user = (s: Side): UserType => s.users[0]!;

/** Pool B with one written field changed, per document (a new document must be added here). */
const MUTATE: Record<Doc, (b: Side, field: string) => void> = {
  pool: (b, f) => (b.pool[f] = changed(f)),
  mfa: (b, f) => (b.mfa[f] = changed(f)),
  uiCustomization: (b, f) => (b.ui[f] = f === 'ImageFile' ? undefined : 'other'),
  riskConfiguration: (b, f) => (b.risk[f] = changed(f)),
  logDelivery: (b, f) => (b.logs = f === 'LogConfigurations' ? [] : b.logs),
  // The restored pool has another prefix (--domain): only the version is compared.
  domain: (b, f) => {
    b.pool.Domain = 'prefix-b';
    b.domain = { ...b.domain, Domain: 'prefix-b', [f]: 3 };
  },
  client: (b, f) =>
    (b.client[f] = f === 'ClientName' ? 'other' : f === 'ClientSecret' ? undefined : changed(f)),
  clientUICustomization: (b, f) =>
    f === 'ImageFile' ? delete b.clientUi!.ImageUrl : (b.clientUi![f] = 'other'),
  clientRiskConfiguration: (b, f) => (b.clientRisk![f] = changed(f)),
  managedLoginBranding: (b, f) => {
    const style = b.branding!;
    if (f === 'UseCognitoProvidedValues') style[f] = true;
    else if (f === 'Settings') style[f] = { components: { form: { borderRadius: 2 } } };
    else if (f === 'Assets')
      style[f] = [{ ...(style.Assets as Loose[])[0], Bytes: new Uint8Array([9]) }];
    else style[f] = changed(f);
  },
  identityProvider: (b, f) =>
    (b.idp[f] =
      f === 'ProviderDetails'
        ? { client_id: 'other' }
        : f === 'ProviderName'
          ? 'Other'
          : changed(f)),
  resourceServer: (b, f) =>
    (b.server[f] =
      f === 'Scopes'
        ? [{ ScopeName: 's', ScopeDescription: 'd' }]
        : f === 'Identifier'
          ? 'x'
          : 'y'),
  group: (b, f) => {
    if (f === 'GroupName') {
      b.group = { ...b.group, GroupName: 'h' };
      b.members = { h: b.members.g ?? [] };
    } else b.group[f] = f === 'Precedence' ? 7 : 'other';
  },
  user: (b, f) => {
    const u = user(b);
    if (f === 'Enabled') u.Enabled = false;
    else if (f === 'Attributes')
      u.Attributes = u.Attributes!.map((x) => (x.Name === 'email' ? { ...x, Value: 'b@x' } : x));
    else if (f === 'identities')
      u.Attributes = u.Attributes!.filter((x) => x.Name !== 'identities');
    else throw new Error(`no mutation for user field ${f}`);
  },
  membership: (b) => (b.members = { g: [] }),
  userMfa: (b, f) => {
    const gone = f === 'SMSMfaSettings' ? 'SMS_MFA' : 'EMAIL_OTP';
    b.userMfa = {
      UserMFASettingList: b.userMfa.UserMFASettingList.filter((x) => x !== gone),
      PreferredMfaSetting: 'EMAIL_OTP',
    };
  },
};

describe('compare checks every field restore writes (derived from RESTORE_WRITES)', () => {
  it('identical sides compare equal, with nothing left uncompared', async () => {
    const r = await compare(side(), side());
    expect(r.differences).toEqual([]);
    expect(r.summary.settingsNotCompared).toBeUndefined();
  });

  it('WRITTEN_NOT_COMPARED names only fields restore writes, each with a reason', () => {
    for (const [doc, fields] of Object.entries(WRITTEN_NOT_COMPARED)) {
      const written = RESTORE_WRITES[doc as Doc].fields as readonly string[];
      for (const [f, reason] of Object.entries(fields ?? {})) {
        expect(written, `${doc}.${f}`).toContain(f);
        expect(reason.length).toBeGreaterThan(20);
      }
    }
  });

  for (const [doc, { operation, fields }] of Object.entries(RESTORE_WRITES) as [
    Doc,
    (typeof RESTORE_WRITES)[Doc],
  ][]) {
    const skipped = (WRITTEN_NOT_COMPARED[doc] ?? {}) as Record<string, string>;
    const checked = (fields as readonly string[]).filter((f) => !(f in skipped));
    if (checked.length === 0) continue;
    it(`${doc} (${operation}): a change of any written field is a difference`, async () => {
      for (const f of checked) {
        const b = side();
        MUTATE[doc](b, f);
        const r = await compare(side(), b);
        expect(r.equal, `${doc}.${f} changed, compare found nothing`).toBe(false);
      }
    });
  }

  it('per-user MFA costs a billed read per user: compared only when asked', async () => {
    const b = side();
    MUTATE.userMfa(b, 'SMSMfaSettings');
    expect((await compare(side(), b, {})).equal).toBe(true);
    expect(mock?.commandCalls(AdminGetUserCommand)).toHaveLength(0);
    const asked = await compare(side(), b);
    expect(asked.differences).toEqual([
      expect.objectContaining({ kind: 'user', key: 'u1', field: 'UserMFASettingList' }),
    ]);
    expect(mock?.commandCalls(AdminGetUserCommand)).toHaveLength(2);
  });

  it("per-user MFA after a restore: SMS and email come back, TOTP cannot (userStatus 'restored')", async () => {
    const a = side();
    a.userMfa = {
      UserMFASettingList: ['SOFTWARE_TOKEN_MFA', 'SMS_MFA'],
      PreferredMfaSetting: 'SOFTWARE_TOKEN_MFA',
    };
    const b = side();
    b.userMfa = { UserMFASettingList: ['SMS_MFA'] };
    // Compared as they are: TOTP is missing.
    expect((await compare(a, b)).equal).toBe(false);
    // Compared with what a restore brings back: equal; a lost SMS factor is still caught.
    expect((await compare(a, b, { userMfa: true, userStatus: 'restored' })).equal).toBe(true);
    b.userMfa = { UserMFASettingList: [] };
    const lost = await compare(a, b, { userMfa: true, userStatus: 'restored' });
    expect(lost.differences.map((d) => d.message)).toEqual([
      'user u1: MFA settings differ from what a restore brings back (SMS and email, not TOTP)',
    ]);
  });

  it('a restored pool with another domain prefix, or none, is not a difference', async () => {
    const b = side();
    b.pool.Domain = 'prefix-b';
    b.domain = { ...b.domain, Domain: 'prefix-b' };
    expect((await compare(side(), b)).equal).toBe(true);
    delete b.pool.Domain;
    const none = await compare(side(), b);
    expect(none.equal).toBe(true);
    expect(none.summary.settingsNotCompared).toEqual(['Domain']);
  });

  it('a restore that dropped managed login branding is caught, named by app client', async () => {
    const b = side();
    b.branding = null;
    const r = await compare(side(), b);
    expect(r.differences).toEqual([
      expect.objectContaining({
        kind: 'client',
        key: 'web',
        field: 'ManagedLoginBranding',
        message: 'app client web: ManagedLoginBranding is only in A',
      }),
    ]);
    // The style id is the pool's own (each side has another one): not a difference.
    expect((await compare(side(), side())).equal).toBe(true);
  });

  it('a client without a UI customization or risk configuration of its own gets the pool one: none', async () => {
    const a = side();
    a.clientUi = null;
    a.clientRisk = null;
    const dropped = await compare(side(), a);
    expect(dropped.differences.map((d) => [d.key, d.field])).toEqual([
      ['web', 'ClientUICustomization'],
      ['web', 'ClientRiskConfiguration'],
    ]);
    expect((await compare(a, a)).equal).toBe(true);
  });
});
