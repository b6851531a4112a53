import {
  CreateUserPoolClientCommand,
  DescribeUserPoolCommand,
  ListUserPoolClientsCommand,
  SetLogDeliveryConfigurationCommand,
  SetRiskConfigurationCommand,
  SetUICustomizationCommand,
  SetUserPoolMfaConfigCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { planPoolCreation } from '../../src/restore/pool/target.js';
import { restoreClients } from '../../src/restore/resources/restore.js';
import {
  applyNewPoolSettings,
  logConfigurationsFor,
  SETTINGS_PHASE,
  webAuthnForRestore,
} from '../../src/restore/pool/settings.js';
import type { RestoreWarning } from '../../src/restore/types.js';
import type { PoolDocument } from '../../src/snapshot/format.js';
import { awsError, netError } from '../support/aws-errors.js';
import type { StackMock } from '../support/stack-mock.js';
import { TempStateDir } from '../support/restore-phase.js';
import { unitGateway } from '../support/unit-gateway.js';

// moto 5.2.1 implements none of SetUICustomization, SetRiskConfiguration and
// SetLogDeliveryConfiguration, and drops WebAuthnConfiguration: these run on a mocked client.

const POOL = 'us-east-1_NewPool';
const WEBAUTHN = {
  RelyingPartyId: 'old-prefix.auth.us-east-1.amazoncognito.com',
  UserVerification: 'required',
  FactorConfiguration: 'MULTI_FACTOR_WITH_USER_VERIFICATION',
} as const;

describe('WebAuthn relying party for a new pool', () => {
  const region = 'us-east-1';
  it('--webauthn-rp-id wins', () => {
    const r = webAuthnForRestore(WEBAUTHN, { rpId: 'login.example.com', region });
    expect(r.config).toEqual({ ...WEBAUTHN, RelyingPartyId: 'login.example.com' });
    expect(r.warnings).toEqual([]);
  });

  it("an old prefix domain moves to --domain's prefix domain", () => {
    const r = webAuthnForRestore(WEBAUTHN, { domain: 'new-prefix', region: 'eu-west-1' });
    expect(r.config?.RelyingPartyId).toBe('new-prefix.auth.eu-west-1.amazoncognito.com');
    expect(r.config?.UserVerification).toBe('required');
  });

  it('an old prefix domain without --domain: the rest is kept, the id left out and reported', () => {
    const r = webAuthnForRestore(WEBAUTHN, { region });
    expect(r.config).toEqual({
      UserVerification: 'required',
      FactorConfiguration: 'MULTI_FACTOR_WITH_USER_VERIFICATION',
    });
    expect(r.warnings.map((w) => w.code)).toEqual(['WEBAUTHN_RP_NOT_RESTORED']);
  });

  it('a custom domain is kept, with a warning', () => {
    const r = webAuthnForRestore({ ...WEBAUTHN, RelyingPartyId: 'auth.example.com' }, { region });
    expect(r.config?.RelyingPartyId).toBe('auth.example.com');
    expect(r.warnings.map((w) => w.code)).toEqual(['WEBAUTHN_RP_CUSTOM_DOMAIN']);
  });

  it('nothing to carry: nothing sent', () => {
    expect(webAuthnForRestore(undefined, { region })).toEqual({ warnings: [] });
    expect(webAuthnForRestore({}, { region })).toEqual({ warnings: [] });
  });
});

describe('planPoolCreation keeps WebAuthn when MFA is OFF', () => {
  it('plans SetUserPoolMfaConfig with the whole WebAuthn configuration', () => {
    const doc: PoolDocument = {
      userPool: { Id: 'us-east-1_Old', Name: 'old', MfaConfiguration: 'OFF' },
      mfaConfig: { MfaConfiguration: 'OFF', WebAuthnConfiguration: { ...WEBAUTHN } },
    };
    const plan = planPoolCreation(doc, 'new');
    expect(plan.input.MfaConfiguration).toBe('OFF');
    expect(plan.mfa).toEqual({ MfaConfiguration: 'OFF', WebAuthnConfiguration: WEBAUTHN });
  });
});

describe('--webauthn-rp-id alone keeps the rest of the MFA configuration', () => {
  it('an SMS-MFA pool stays ON with its SMS settings', () => {
    const sms = { SmsConfiguration: { SnsCallerArn: 'arn:aws:iam::123456789012:role/sns' } };
    const doc: PoolDocument = {
      userPool: {
        Id: 'us-east-1_Old',
        Name: 'old',
        MfaConfiguration: 'ON',
        SmsConfiguration: sms.SmsConfiguration,
      },
      mfaConfig: { MfaConfiguration: 'ON', SmsMfaConfiguration: sms },
    };
    expect(planPoolCreation(doc, 'new').mfa).toBeUndefined();
    const plan = planPoolCreation(doc, 'new', undefined, { webauthnRpId: 'login.example.com' });
    expect(plan.input.MfaConfiguration).toBe('ON');
    expect(plan.mfa).toEqual({
      MfaConfiguration: 'ON',
      SmsMfaConfiguration: sms,
      WebAuthnConfiguration: {},
    });
    expect(
      webAuthnForRestore(plan.mfa?.WebAuthnConfiguration, {
        rpId: 'login.example.com',
        region: 'us-east-1',
      }).config,
    ).toEqual({ RelyingPartyId: 'login.example.com' });
  });
});

describe('log destinations in another account or region', () => {
  const cw = (arn: string) => ({
    LogLevel: 'ERROR' as const,
    EventSource: 'userNotification' as const,
    CloudWatchLogsConfiguration: { LogGroupArn: arn },
  });
  it('keeps same-account same-region destinations, flags the others and S3 buckets', () => {
    const here = cw('arn:aws:logs:us-east-1:111111111111:log-group:/aws/cognito/x');
    const otherAccount = cw('arn:aws:logs:us-east-1:222222222222:log-group:x');
    const otherRegion = cw('arn:aws:logs:eu-west-1:111111111111:log-group:x');
    const s3 = {
      LogLevel: 'INFO' as const,
      EventSource: 'userAuthEvents' as const,
      S3Configuration: { BucketArn: 'arn:aws:s3:::my-logs' },
    };
    const r = logConfigurationsFor([here, otherAccount, otherRegion, s3], {
      region: 'us-east-1',
      account: '111111111111',
    });
    expect(r.keep).toEqual([here, s3]);
    expect(r.warnings.map((w) => w.code)).toEqual([
      'LOG_DELIVERY_NEEDS_ATTENTION',
      'LOG_DELIVERY_NEEDS_ATTENTION',
      'LOG_DELIVERY_NEEDS_ATTENTION',
    ]);
    expect(r.warnings[2]?.message).toMatch(/S3 bucket ARN names no account/);
  });
});

describe('applyNewPoolSettings (mocked Cognito)', () => {
  let mock: StackMock;
  let gw: CognitoGateway;
  let state: TempStateDir;
  let warnings: RestoreWarning[];

  beforeEach(async () => {
    state = await TempStateDir.create('cv-settings-');
    ({ mock, gw } = unitGateway());
    mock.on(SetUserPoolMfaConfigCommand).resolves({});
    mock.on(SetUICustomizationCommand).resolves({});
    mock.on(SetRiskConfigurationCommand).resolves({});
    mock.on(SetLogDeliveryConfigurationCommand).resolves({});
    mock.on(DescribeUserPoolCommand).resolves({
      UserPool: { Id: POOL, Arn: `arn:aws:cognito-idp:us-east-1:111111111111:userpool/${POOL}` },
    });
    warnings = [];
  });

  afterEach(async () => {
    mock.restore();
    gw.destroy();
    await state.remove();
  });

  const journal = () => state.journal();

  const logo = Buffer.from('\x89PNG logo');
  const doc = (): PoolDocument => ({
    userPool: { Id: 'us-east-1_Old', Name: 'old', MfaConfiguration: 'OFF' },
    mfaConfig: { MfaConfiguration: 'OFF', WebAuthnConfiguration: { ...WEBAUTHN } },
    uiCustomization: {
      ClientId: 'ALL',
      CSS: '.banner-customizable { background-color: red; }',
      ImageUrl: 'https://cdn.example.com/logo.png',
      ImageFile: logo.toString('base64'),
    },
    riskConfiguration: {
      UserPoolId: 'us-east-1_Old',
      ClientId: 'ALL',
      CompromisedCredentialsRiskConfiguration: { Actions: { EventAction: 'BLOCK' } },
      RiskExceptionConfiguration: { BlockedIPRangeList: ['10.0.0.0/8'] },
      LastModifiedDate: new Date('2026-01-01T00:00:00.000Z'),
    },
    logDeliveryConfiguration: {
      UserPoolId: 'us-east-1_Old',
      LogConfigurations: [
        {
          LogLevel: 'ERROR',
          EventSource: 'userNotification',
          CloudWatchLogsConfiguration: {
            LogGroupArn: 'arn:aws:logs:us-east-1:111111111111:log-group:/aws/cognito/x',
          },
        },
      ],
    },
  });

  async function apply(d: PoolDocument, opts: { webauthnRpId?: string; domain?: string } = {}) {
    const j = await journal();
    try {
      const plan = planPoolCreation(d, 'new');
      await applyNewPoolSettings(
        { gw, poolId: POOL, region: 'us-east-1', journal: j, warn: (w) => warnings.push(w) },
        d,
        plan.mfa,
        opts,
      );
      return j;
    } finally {
      j.close();
    }
  }

  it('restores WebAuthn (MFA OFF), UI customization with the logo bytes, risk and log delivery', async () => {
    await apply(doc(), { webauthnRpId: 'login.example.com' });
    expect(mock.commandCalls(SetUserPoolMfaConfigCommand)[0]?.args[0].input).toEqual({
      UserPoolId: POOL,
      MfaConfiguration: 'OFF',
      WebAuthnConfiguration: { ...WEBAUTHN, RelyingPartyId: 'login.example.com' },
    });
    const ui = mock.commandCalls(SetUICustomizationCommand)[0]?.args[0].input;
    expect(ui?.UserPoolId).toBe(POOL);
    expect(ui?.CSS).toBe('.banner-customizable { background-color: red; }');
    expect(Buffer.from(ui?.ImageFile ?? new Uint8Array())).toEqual(logo);
    expect(ui).not.toHaveProperty('ClientId');
    expect(mock.commandCalls(SetRiskConfigurationCommand)[0]?.args[0].input).toEqual({
      UserPoolId: POOL,
      CompromisedCredentialsRiskConfiguration: { Actions: { EventAction: 'BLOCK' } },
      RiskExceptionConfiguration: { BlockedIPRangeList: ['10.0.0.0/8'] },
    });
    expect(mock.commandCalls(SetLogDeliveryConfigurationCommand)[0]?.args[0].input).toEqual({
      UserPoolId: POOL,
      LogConfigurations: doc().logDeliveryConfiguration?.LogConfigurations,
    });
    expect(warnings).toEqual([]);
  });

  it('a Plus-tier refusal of the risk configuration is a reported skip, and the rest goes on', async () => {
    mock.on(SetRiskConfigurationCommand).rejects(awsError('FeatureUnavailableInTierException'));
    await apply(doc(), { webauthnRpId: 'login.example.com' });
    expect(warnings).toContainEqual(
      expect.objectContaining({
        code: 'SETTING_NOT_RESTORED',
        message: expect.stringMatching(/risk.*FeatureUnavailableInTierException.*Plus/),
      }),
    );
    expect(mock.commandCalls(SetLogDeliveryConfigurationCommand)).toHaveLength(1);
  });

  it('a refused relying party id is dropped and the WebAuthn settings sent again without it', async () => {
    mock
      .on(SetUserPoolMfaConfigCommand)
      .rejectsOnce(awsError('InvalidParameterException'))
      .resolves({});
    await apply({
      ...doc(),
      mfaConfig: {
        MfaConfiguration: 'OFF',
        WebAuthnConfiguration: { ...WEBAUTHN, RelyingPartyId: 'auth.example.com' },
      },
    });
    const calls = mock.commandCalls(SetUserPoolMfaConfigCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.WebAuthnConfiguration).toEqual({
      UserVerification: 'required',
      FactorConfiguration: 'MULTI_FACTOR_WITH_USER_VERIFICATION',
    });
    expect(warnings.map((w) => w.code)).toEqual([
      'WEBAUTHN_RP_CUSTOM_DOMAIN',
      'WEBAUTHN_RP_NOT_RESTORED',
    ]);
  });

  it('a logo too large for SetUICustomization is reported; the CSS still goes', async () => {
    const d = doc();
    (d.uiCustomization as Record<string, unknown>).ImageFile =
      Buffer.alloc(131_073).toString('base64');
    await apply(d);
    const ui = mock.commandCalls(SetUICustomizationCommand)[0]?.args[0].input;
    expect(ui?.CSS).toBeTruthy();
    expect(ui?.ImageFile).toBeUndefined();
    expect(warnings.map((w) => w.code)).toContain('UI_IMAGE_NOT_RESTORED');
  });

  it('a snapshot from before logos were captured says the logo is not restored', async () => {
    const d = doc();
    delete (d.uiCustomization as Record<string, unknown>).ImageFile;
    await apply(d);
    expect(warnings.map((w) => w.code)).toContain('UI_IMAGE_NOT_RESTORED');
  });

  it('a log destination in another account is not sent, and is reported', async () => {
    mock.on(DescribeUserPoolCommand).resolves({
      UserPool: { Id: POOL, Arn: `arn:aws:cognito-idp:us-east-1:999999999999:userpool/${POOL}` },
    });
    await apply(doc());
    expect(mock.commandCalls(SetLogDeliveryConfigurationCommand)).toHaveLength(0);
    expect(warnings.map((w) => w.code)).toContain('LOG_DELIVERY_NEEDS_ATTENTION');
  });

  it('a network failure is not swallowed as a refusal', async () => {
    const e = netError('ECONNREFUSED');
    mock.on(SetUICustomizationCommand).rejects(e);
    await expect(apply(doc())).rejects.toMatchObject({
      name: 'ServiceUnavailableError',
      code: 'ENDPOINT_UNREACHABLE',
      exitCode: 7,
      context: { operation: 'SetUICustomization', networkCode: 'ECONNREFUSED' },
    });
  });

  it('app clients: a second secret and a secret Cognito would refuse are reported', async () => {
    mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
    mock
      .on(CreateUserPoolClientCommand)
      .callsFake((i) => ({ UserPoolClient: { ClientId: `new-${i.ClientName}` } }));
    const j = await journal();
    try {
      const map = await restoreClients(
        {
          gw,
          poolId: POOL,
          journal: j,
          warn: (w) => warnings.push(w),
          progress: () => undefined,
          signal: new AbortController().signal,
        },
        [
          {
            ClientId: 'old-rotating',
            ClientName: 'rotating',
            ClientSecret: 'A'.repeat(30),
            ClientSecrets: [
              {
                ClientSecretId: 'a--1',
                ClientSecretCreateDate: new Date('2026-01-01T00:00:00.000Z'),
              },
              { ClientSecretId: 'a--2' },
            ],
          },
          { ClientId: 'old-uuid', ClientName: 'uuid', ClientSecret: 'b8f1-not-a-valid-secret-99' },
          { ClientId: 'old-plain', ClientName: 'plain', ClientSecret: 'C'.repeat(40) },
        ],
        new Set(),
      );
      expect(map.size).toBe(3);
    } finally {
      j.close();
    }
    const inputs = mock.commandCalls(CreateUserPoolClientCommand).map((c) => c.args[0].input);
    expect(
      inputs.map((i) => [i.ClientName, i.ClientSecret !== undefined, i.GenerateSecret]),
    ).toEqual([
      ['rotating', true, undefined],
      ['uuid', false, true],
      ['plain', true, undefined],
    ]);
    expect(warnings.map((w) => [w.code, w.message.split(':')[0]])).toEqual([
      [
        'CLIENT_SECOND_SECRET_NOT_RESTORED',
        'app client rotating held 2 secrets (a rotation in progress',
      ],
      ['CLIENT_SECRET_REGENERATED', 'app client uuid'],
    ]);
    // The secrets are named by id and date, so the operator knows which applications switch.
    expect(warnings[0]?.message).toBe(
      "app client rotating held 2 secrets (a rotation in progress: a--1 (created 2026-01-01T00:00:00.000Z), a--2); Cognito reveals the value of only one (DescribeUserPoolClient's, without saying which), so the new client has that one and no second secret; applications using the other must switch",
    );
    // No secret value in any warning.
    expect(JSON.stringify(warnings)).not.toMatch(/AAAA|b8f1|CCCC/);
  });

  it('is journaled: a resumed run repeats nothing', async () => {
    await apply(doc(), { webauthnRpId: 'login.example.com' });
    const again = await journal();
    try {
      expect(again.state.poolSettingsDone).toBe(true);
      expect(again.state.phases.has(SETTINGS_PHASE)).toBe(true);
    } finally {
      again.close();
    }
    mock.resetHistory();
    await apply(doc(), { webauthnRpId: 'login.example.com' });
    expect(mock.calls()).toHaveLength(0);
  });
});
