import path from 'node:path';
import {
  CreateManagedLoginBrandingCommand,
  CreateUserPoolClientCommand,
  SetRiskConfigurationCommand,
  SetUICustomizationCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import type { CognitoGateway } from '../../src/cognito/gateway.js';
import { comparePools, diffSnapshot } from '../../src/compare/index.js';
import { seedPool } from '../../testing/seed.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import { z } from 'zod';
import { FILES, MembershipRecord, UserRecord } from '../../src/snapshot/format.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';

// The settings moto lacks — UI customization and risk configuration of the pool and of each app
// client, managed login branding per client — served by the test double in front of moto
// (docs/testing.md), round-tripped behind the request guard: backup captures them, restore sets
// them on the new client ids, and compare (pools) and diff (snapshot vs pool) check them, and
// catch a restore that dropped a style.

let fixture: MotoFixture | undefined;
let gw: CognitoGateway;
let source: string;
let web: string;
let mobile: string;
const logo = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);

beforeAll(async () => {
  fixture = await startMotoFixture('cv-client-settings-it-', {
    withImportJobs: { settings: true },
  });
  gw = fixture.gw;
  source = (await seedPool(gw, { poolName: 'settings-source', users: 4, groups: 1 })).userPoolId;
  web =
    (await gw.send(new CreateUserPoolClientCommand({ UserPoolId: source, ClientName: 'web' })))
      .UserPoolClient?.ClientId ?? '';
  mobile =
    (await gw.send(new CreateUserPoolClientCommand({ UserPoolId: source, ClientName: 'mobile' })))
      .UserPoolClient?.ClientId ?? '';
  await gw.send(
    new SetUICustomizationCommand({
      UserPoolId: source,
      CSS: '.banner-customizable { color: red; }',
    }),
  );
  await gw.send(
    new SetUICustomizationCommand({
      UserPoolId: source,
      ClientId: web,
      CSS: '.banner-customizable { color: blue; }',
    }),
  );
  await gw.send(
    new SetRiskConfigurationCommand({
      UserPoolId: source,
      RiskExceptionConfiguration: { BlockedIPRangeList: ['192.0.2.0/24'] },
    }),
  );
  await gw.send(
    new SetRiskConfigurationCommand({
      UserPoolId: source,
      ClientId: mobile,
      RiskExceptionConfiguration: { SkippedIPRangeList: ['198.51.100.0/24'] },
    }),
  );
  await gw.send(
    new CreateManagedLoginBrandingCommand({
      UserPoolId: source,
      ClientId: web,
      Settings: { components: { form: { borderRadius: 8 } } },
      Assets: [{ Category: 'FORM_LOGO', ColorMode: 'LIGHT', Extension: 'PNG', Bytes: logo }],
    }),
  );
  await gw.send(
    new CreateManagedLoginBrandingCommand({
      UserPoolId: source,
      ClientId: mobile,
      UseCognitoProvidedValues: true,
    }),
  );
}, 120_000);

/** A copy of the snapshot whose managed-login-branding.json is empty. */
async function withoutBranding(reader: SnapshotReader, dir: string): Promise<SnapshotReader> {
  const storage = new LocalDirStorage(dir);
  const w = new SnapshotWriter(storage);
  await w.writeJson(FILES.pool, 'pool', await reader.readJson('pool', z.unknown()), 1);
  for (const kind of ['clients', 'identityProviders', 'resourceServers', 'groups'] as const) {
    const value = await reader.readJson(kind, z.array(z.unknown()));
    await w.writeJson(FILES[kind], kind, value, value.length);
  }
  await w.writeJson(FILES.managedLoginBranding, 'managedLoginBranding', [], 0);
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', reader.records('users', UserRecord));
  await w.writeJsonLines(
    'memberships/part-00000.jsonl.gz',
    'memberships',
    reader.records('memberships', MembershipRecord),
  );
  await w.commit({ ...reader.manifest });
  return SnapshotReader.open(storage);
}

afterAll(async () => {
  await fixture?.stop();
});

describe("app clients' own settings and managed login branding, end to end", () => {
  it('back up, restore onto the new client ids, compare and diff equal; a dropped style is caught', async () => {
    const work = fixture!.work;
    const backup = await backupPool(gw, new LocalDirStorage(path.join(work, 'b')), {
      userPoolId: source,
      includeSecrets: true, // the seeded Google IdP's client_secret
    });
    expect(
      backup.warnings.filter((w) => w.code === 'NOT_CAPTURED').map((w) => w.operation),
    ).toEqual(
      // moto implements neither of these: reported, not fatal.
      expect.not.arrayContaining([
        'GetUICustomization',
        'DescribeRiskConfiguration',
        'DescribeManagedLoginBrandingByClient',
      ]),
    );
    const reader = await SnapshotReader.open(new LocalDirStorage(backup.snapshot));
    const r = await restoreSnapshot(gw, reader, {
      target: { createPool: 'settings-restored' },
      stateDir: path.join(work, 'state'),
    });
    if (r.dryRun) throw new Error('unexpected dry run');
    expect(r.resourceFailures).toEqual([]);

    const cmp = await comparePools(gw, source, gw, r.userPoolId, { userStatus: 'restored' });
    expect(cmp.differences).toEqual([]);
    // Everything was readable on both sides (the log delivery configuration is moto's gap).
    expect(cmp.summary.settingsNotCompared ?? []).toEqual(['LogDeliveryConfiguration']);

    const diff = await diffSnapshot(reader, gw, r.userPoolId, { userStatus: 'restored' });
    expect(diff.resources.client).toEqual({ onlyInSnapshot: [], onlyInPool: [], changed: [] });
    expect(diff.settingsNotCompared ?? []).not.toContain('ManagedLoginBranding (app clients)');

    // A restore whose snapshot lost the styles: compare and diff name both clients.
    const copy = await withoutBranding(reader, path.join(work, 'b-unbranded'));
    const bare = await restoreSnapshot(gw, copy, {
      target: { createPool: 'settings-unbranded' },
      stateDir: path.join(work, 'state-unbranded'),
    });
    if (bare.dryRun) throw new Error('unexpected dry run');
    const caught = await comparePools(gw, source, gw, bare.userPoolId, { userStatus: 'restored' });
    expect(caught.differences.map((d) => d.message).sort()).toEqual([
      'app client mobile: ManagedLoginBranding is only in A',
      'app client web: ManagedLoginBranding is only in A',
    ]);
    const drift = await diffSnapshot(reader, gw, bare.userPoolId, { userStatus: 'restored' });
    expect(drift.equal).toBe(false);
    expect(drift.resources.client.changed.sort()).toEqual(['mobile', 'web']);
  });
});
