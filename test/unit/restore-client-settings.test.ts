import {
  SetRiskConfigurationCommand,
  SetUICustomizationCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import type { StackMock } from '../support/stack-mock.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { RequestGuard } from '../../testing/request-guard.js';
import {
  CLIENT_SETTINGS_PHASE,
  restoreClientSettings,
} from '../../src/restore/resources/client-settings.js';
import { RestoreJournal } from '../../src/restore/state/journal.js';
import type { PhaseContext } from '../../src/restore/phase-context.js';
import type { RestoreWarning } from '../../src/restore/types.js';
import type { PoolDocument } from '../../src/snapshot/format.js';
import { awsError } from '../support/aws-errors.js';
import { phaseContext, TempStateDir } from '../support/restore-phase.js';
import { unitGateway } from '../support/unit-gateway.js';

const TARGET = 'us-east-1_New';
const logo = Buffer.from('\x89PNG client logo');
const clients = [
  { ClientId: 'old-web', ClientName: 'web' },
  { ClientId: 'old-mobile', ClientName: 'mobile' },
  { ClientId: 'old-gone', ClientName: 'gone' },
];
const doc: PoolDocument = {
  userPool: { Id: 'us-east-1_Old' },
  clientUICustomizations: [
    {
      ClientId: 'old-web',
      CSS: '.banner-customizable { background-color: red; }',
      ImageUrl: 'https://cdn.example.com/web.png',
      ImageFile: logo.toString('base64'),
      CSSVersion: '1',
      UserPoolId: 'us-east-1_Old',
    },
    // Its client was not restored: nothing is sent for it.
    { ClientId: 'old-gone', CSS: '.x{}' },
  ],
  clientRiskConfigurations: [
    {
      ClientId: 'old-mobile',
      UserPoolId: 'us-east-1_Old',
      RiskExceptionConfiguration: { BlockedIPRangeList: ['192.0.2.0/24'] },
      LastModifiedDate: new Date('2026-11-01T00:00:00.000Z'),
    },
  ],
};

let state: TempStateDir;
let mock: StackMock;
let gw: CognitoGateway;

beforeEach(async () => {
  state = await TempStateDir.create('cv-client-settings-');
  ({ mock, gw } = unitGateway());
});

afterEach(async () => {
  mock.restore();
  gw.destroy();
  await state.remove();
});

async function journal(s: 'c' | 'e' = 'c'): Promise<RestoreJournal> {
  const j = await state.journal('2026-11-30T00:00:00.000Z');
  if (!j.state.clients.has('old-web')) {
    j.append({ t: 'client', old: 'old-web', new: 'newweb1', s });
    j.append({ t: 'client', old: 'old-mobile', new: 'newmobile1', s: 'c' });
  }
  return j;
}

const context = (j: RestoreJournal, warnings: RestoreWarning[] = []): PhaseContext =>
  phaseContext(gw, TARGET, j, warnings);

const ids = (j: RestoreJournal) => new Map([...j.state.clients].map(([o, v]) => [o, v.id]));

describe("app clients' own UI customization and risk configuration", () => {
  it('are set on the new client ids, with the logo bytes, and the requests are valid for Cognito', async () => {
    mock.on(SetUICustomizationCommand).resolves({});
    mock.on(SetRiskConfigurationCommand).resolves({});
    const j = await journal();
    await restoreClientSettings(context(j), doc, clients, ids(j));
    const ui = mock.commandCalls(SetUICustomizationCommand).map((c) => c.args[0].input);
    const risk = mock.commandCalls(SetRiskConfigurationCommand).map((c) => c.args[0].input);
    expect(ui).toHaveLength(1);
    expect(ui[0]).toMatchObject({
      UserPoolId: TARGET,
      ClientId: 'newweb1',
      CSS: '.banner-customizable { background-color: red; }',
    });
    expect(Buffer.from(ui[0]?.ImageFile ?? new Uint8Array())).toEqual(logo);
    // Output-only members (CSSVersion, ImageUrl, dates) are not sent.
    expect(Object.keys(ui[0] ?? {}).sort()).toEqual(['CSS', 'ClientId', 'ImageFile', 'UserPoolId']);
    expect(risk).toEqual([
      {
        UserPoolId: TARGET,
        ClientId: 'newmobile1',
        RiskExceptionConfiguration: { BlockedIPRangeList: ['192.0.2.0/24'] },
      },
    ]);
    expect(j.state.phases.has(CLIENT_SETTINGS_PHASE)).toBe(true);
    // Checked against Cognito's API model (botocore's), blobs as base64 as on the wire.
    const guard = RequestGuard.fromBotocore();
    const wire = { ...ui[0], ImageFile: Buffer.from(ui[0]?.ImageFile ?? []).toString('base64') };
    expect(guard.validate('SetUICustomization', wire)).toEqual([]);
    expect(guard.validate('SetRiskConfiguration', risk[0])).toEqual([]);
    j.close();
  });

  it('a refusal (no Plus plan) is a SETTING_NOT_RESTORED warning naming the client; the rest goes on', async () => {
    mock.on(SetUICustomizationCommand).resolves({});
    mock.on(SetRiskConfigurationCommand).rejects(awsError('FeatureUnavailableInTierException'));
    const warnings: RestoreWarning[] = [];
    const j = await journal();
    await restoreClientSettings(context(j, warnings), doc, clients, ids(j));
    expect(warnings).toEqual([
      expect.objectContaining({
        code: 'SETTING_NOT_RESTORED',
        message: expect.stringMatching(/risk\) configuration of app client mobile not restored/),
      }),
    ]);
    expect(mock.commandCalls(SetUICustomizationCommand)).toHaveLength(1);
    expect(j.state.phases.has(CLIENT_SETTINGS_PHASE)).toBe(true);
    j.close();
  });

  it('a client the target had already (--merge) keeps its own settings, with a warning', async () => {
    mock.on(SetUICustomizationCommand).resolves({});
    mock.on(SetRiskConfigurationCommand).resolves({});
    const warnings: RestoreWarning[] = [];
    const j = await journal('e');
    await restoreClientSettings(context(j, warnings), doc, clients, ids(j));
    expect(mock.commandCalls(SetUICustomizationCommand)).toHaveLength(0);
    expect(mock.commandCalls(SetRiskConfigurationCommand)).toHaveLength(1);
    expect(warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/app client web existed in the target already/),
    ]);
    j.close();
  });

  it('credentials refused stop the restore; once the phase is journaled nothing is sent again', async () => {
    mock.on(SetUICustomizationCommand).rejects(awsError('AccessDeniedException'));
    const j = await journal();
    await expect(restoreClientSettings(context(j), doc, clients, ids(j))).rejects.toMatchObject({
      exitCode: 5,
    });
    expect(j.state.phases.has(CLIENT_SETTINGS_PHASE)).toBe(false);
    j.append({ t: 'phase', p: CLIENT_SETTINGS_PHASE });
    mock.reset();
    await restoreClientSettings(context(j), doc, clients, ids(j));
    expect(mock.calls()).toHaveLength(0);
    j.close();
  });
});
