import {
  DescribeRiskConfigurationCommand,
  DescribeUserPoolCommand,
  GetLogDeliveryConfigurationCommand,
  GetUICustomizationCommand,
  GetUserPoolMfaConfigCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListTagsForResourceCommand,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, describe, expect, it } from 'vitest';
import {
  backupRegions,
  type RegionProgressEvent,
  type RegionsResult,
  regionsExitCode,
} from '../../src/backup/regions.js';
import { ExitCode, UsageError } from '../../src/core/errors.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { COGNITO_REGIONS, isOptInRegion, parseRegionList } from '../../src/cognito/regions.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { awsError } from '../support/aws-errors.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitStack } from '../support/unit-gateway.js';

type Mock = StackMock;

interface FakeRegion {
  gw: CognitoGateway;
  mock: Mock;
  destroyed: boolean;
}

const made: FakeRegion[] = [];

/** A gateway for one Region whose client is mocked on its own: Regions answer differently. */
function fakeRegion(region: string, pools: string[], tweak?: (mock: Mock) => void): FakeRegion {
  const { client, mock } = unitStack(region);
  mock.on(ListUserPoolsCommand).resolves({ UserPools: pools.map((Id) => ({ Id, Name: 'same' })) });
  mock.on(DescribeUserPoolCommand).callsFake(async (input: { UserPoolId: string }) => ({
    UserPool: { Id: input.UserPoolId, Name: 'same', EstimatedNumberOfUsers: 2 },
  }));
  mock.on(GetUserPoolMfaConfigCommand).resolves({ MfaConfiguration: 'OFF' });
  mock.on(ListTagsForResourceCommand).resolves({});
  mock.on(GetUICustomizationCommand).resolves({});
  mock.on(GetLogDeliveryConfigurationCommand).resolves({});
  mock.on(DescribeRiskConfigurationCommand).resolves({});
  mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock.on(ListGroupsCommand).resolves({ Groups: [] });
  mock.on(ListUsersCommand).resolves({
    Users: [
      { Username: 'a', Attributes: [{ Name: 'sub', Value: '0a' }] },
      { Username: 'b', Attributes: [{ Name: 'sub', Value: '0b' }] },
    ],
  });
  tweak?.(mock);
  const gw = new CognitoGateway(client, {
    rate: { unlimited: true },
    retry: { baseDelayMs: 1, maxDelayMs: 2, transientAttempts: 2, throttleAttempts: 2 },
  });
  const fake: FakeRegion = { gw, mock, destroyed: false };
  const destroy = gw.destroy.bind(gw);
  gw.destroy = () => {
    fake.destroyed = true;
    destroy();
  };
  made.push(fake);
  return fake;
}

afterEach(() => {
  for (const f of made.splice(0)) f.mock.restore();
});

describe('parseRegionList (--regions, COGNITO_VAULT_REGIONS)', () => {
  it('takes a list in its order, and "all" as every Region with user pools', () => {
    expect(parseRegionList('eu-west-1,us-east-1')).toEqual({
      regions: ['eu-west-1', 'us-east-1'],
      all: false,
    });
    expect(parseRegionList(' us-east-1 , eu-west-1 ').regions).toEqual(['us-east-1', 'eu-west-1']);
    const all = parseRegionList('all');
    expect(all.all).toBe(true);
    expect(all.regions).toEqual(COGNITO_REGIONS.map((r) => r.region));
    expect(all.regions).toContain('eu-west-1');
    expect(new Set(all.regions).size).toBe(all.regions.length);
    expect(isOptInRegion('af-south-1')).toBe(true);
    expect(isOptInRegion('us-east-1')).toBe(false);
  });

  it.each([
    ['', 'BAD_REGIONS'],
    ['   ', 'BAD_REGIONS'],
    ['us-east-1,', 'BAD_REGIONS'],
    [',us-east-1', 'BAD_REGIONS'],
    ['us-east-1,,eu-west-1', 'BAD_REGIONS'],
    ['us-east-1,us-east-1', 'BAD_REGIONS'],
    ['all,us-east-1', 'BAD_REGIONS'],
    ['us-east-1,mars-north-1', 'UNKNOWN_REGION'],
    ['US-EAST-1', 'UNKNOWN_REGION'],
    ['us-east-1_AbC', 'UNKNOWN_REGION'],
    ['cn-north-1', 'UNKNOWN_REGION'],
  ])('refuses %j (%s, exit 2)', (value, code) => {
    let err: unknown;
    try {
      parseRegionList(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).code).toBe(code);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as UsageError).message).not.toMatch(/\n/);
  });

  it('a control character in a name is not echoed', () => {
    expect(() => parseRegionList('us-east-1,eu\u001b[2Jx')).toThrow(/eu\?\[2Jx/);
  });
});

describe('backupRegions', () => {
  it('backs up both Regions, one gateway each (destroyed after), a result per pool', async () => {
    const us = fakeRegion('us-east-1', ['us-east-1_A', 'us-east-1_B']);
    const eu = fakeRegion('eu-west-1', ['eu-west-1_A']);
    const asked: string[] = [];
    const root = new MemoryStorage();
    const r = await backupRegions([{ region: 'us-east-1' }, { region: 'eu-west-1' }], root, {
      gatewayFor: (region) => {
        asked.push(region);
        return region === 'us-east-1' ? us.gw : eu.gw;
      },
      shards: 1,
    });
    expect(asked.sort()).toEqual(['eu-west-1', 'us-east-1']);
    expect(us.destroyed && eu.destroyed).toBe(true);
    expect(r.pools.map((p) => [p.region, p.userPoolId, p.ok])).toEqual([
      ['us-east-1', 'us-east-1_A', true],
      ['us-east-1', 'us-east-1_B', true],
      ['eu-west-1', 'eu-west-1_A', true],
    ]);
    for (const p of r.pools) if (p.ok) expect(p.snapshotId).toBe(p.result.manifest.snapshotId);
    expect(r.regions.map((x) => [x.region, x.status, x.pools, x.backedUp, x.failed])).toEqual([
      ['us-east-1', 'ok', 2, 2, 0],
      ['eu-west-1', 'ok', 1, 1, 0],
    ]);
    // The Regions' quota reports are their own: us-east-1 made more UserList calls.
    const calls = (region: string) =>
      r.regions.find((x) => x.region === region)?.rates.find((c) => c.category === 'UserList')
        ?.calls ?? 0;
    expect(calls('us-east-1')).toBe(2);
    expect(calls('eu-west-1')).toBe(1);
    expect(regionsExitCode(r)).toBe(0);
  });

  it('runs the Regions in parallel, the pools of one Region one after another', async () => {
    let release: () => void = () => undefined;
    const bothListing = new Promise<void>((resolve) => {
      let n = 0;
      release = () => {
        if (++n === 2) resolve();
      };
    });
    const timeout = (ms: number) =>
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the other Region never started')), ms),
      );
    let inFlight = 0;
    let peak = 0;
    const gate = (region: string, ids: string[]) =>
      fakeRegion(region, ids, (mock) => {
        mock.on(ListUserPoolsCommand).callsFake(async () => {
          release();
          // Each Region waits until the other is listing too: run one after another, this hangs.
          await Promise.race([bothListing, timeout(5_000)]);
          return { UserPools: ids.map((Id) => ({ Id })) };
        });
        mock.on(DescribeUserPoolCommand).callsFake(async (input: { UserPoolId: string }) => {
          if (input.UserPoolId.startsWith('us-east-1')) {
            peak = Math.max(peak, ++inFlight);
            await new Promise((res) => setTimeout(res, 20));
            inFlight--;
          }
          return { UserPool: { Id: input.UserPoolId, Name: 'p' } };
        });
      });
    const us = gate('us-east-1', ['us-east-1_A', 'us-east-1_B', 'us-east-1_C']);
    const eu = gate('eu-west-1', ['eu-west-1_A']);
    const r = await backupRegions(
      [{ region: 'us-east-1' }, { region: 'eu-west-1' }],
      new MemoryStorage(),
      { gatewayFor: (x) => (x === 'us-east-1' ? us.gw : eu.gw), shards: 1 },
    );
    expect(r.pools.every((p) => p.ok)).toBe(true);
    expect(peak).toBe(1);
  });

  it('a Region that refuses access fails alone; exit 10 (partial)', async () => {
    const us = fakeRegion('us-east-1', ['us-east-1_A']);
    const eu = fakeRegion('eu-west-1', [], (mock) =>
      mock.on(ListUserPoolsCommand).rejects(awsError('AccessDeniedException', 400)),
    );
    const events: RegionProgressEvent[] = [];
    const r = await backupRegions(
      [{ region: 'us-east-1' }, { region: 'eu-west-1' }],
      new MemoryStorage(),
      {
        gatewayFor: (x) => (x === 'us-east-1' ? us.gw : eu.gw),
        shards: 1,
        onProgress: (e) => events.push(e),
      },
    );
    expect(r.pools.map((p) => [p.userPoolId, p.ok])).toEqual([['us-east-1_A', true]]);
    const euOut = r.regions.find((x) => x.region === 'eu-west-1');
    expect(euOut?.status).toBe('failed');
    expect(euOut?.error).toMatchObject({
      code: 'ACCESS_DENIED',
      name: 'AccessDeniedException',
      exitCode: 5,
    });
    expect(eu.destroyed).toBe(true);
    expect(regionsExitCode(r)).toBe(ExitCode.PartialBackup);
    expect(events).toContainEqual(
      expect.objectContaining({ region: 'eu-west-1', type: 'region', status: 'failed' }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ region: 'us-east-1', userPoolId: 'us-east-1_A', type: 'phase' }),
    );
  });

  it('a gateway factory that throws fails its Region only', async () => {
    const us = fakeRegion('us-east-1', ['us-east-1_A']);
    const r = await backupRegions(
      [{ region: 'us-east-1' }, { region: 'eu-west-1' }],
      new MemoryStorage(),
      {
        gatewayFor: (x) => {
          if (x === 'eu-west-1') throw new Error('no endpoint for eu-west-1: secret@example');
          return us.gw;
        },
        shards: 1,
      },
    );
    expect(r.pools.filter((p) => p.ok)).toHaveLength(1);
    const eu = r.regions.find((x) => x.region === 'eu-west-1');
    expect(eu?.error).toEqual({
      code: 'UNEXPECTED',
      name: 'Error',
      exitCode: 1,
      message: 'unexpected failure: Error',
    });
  });

  it('a pool that fails does not stop the next pool of its Region', async () => {
    const us = fakeRegion('us-east-1', ['us-east-1_A', 'us-east-1_Bad', 'us-east-1_C'], (mock) =>
      mock.on(DescribeUserPoolCommand).callsFake(async (input: { UserPoolId: string }) => {
        if (input.UserPoolId === 'us-east-1_Bad') throw awsError('NotAuthorizedException', 400);
        return { UserPool: { Id: input.UserPoolId, Name: 'p' } };
      }),
    );
    const r = await backupRegions([{ region: 'us-east-1' }], new MemoryStorage(), {
      gatewayFor: () => us.gw,
      shards: 1,
    });
    expect(r.pools.map((p) => [p.userPoolId, p.ok])).toEqual([
      ['us-east-1_A', true],
      ['us-east-1_Bad', false],
      ['us-east-1_C', true],
    ]);
    const bad = r.pools[1];
    expect(bad && !bad.ok && bad.error.exitCode).toBe(5);
    expect(r.regions[0]).toMatchObject({ status: 'ok', pools: 3, backedUp: 2, failed: 1 });
    expect(regionsExitCode(r)).toBe(10);
  });

  it('every failure alike and nothing backed up: that exit code (5), not 10', async () => {
    const denied = (region: string) =>
      fakeRegion(region, [], (mock) =>
        mock.on(ListUserPoolsCommand).rejects(awsError('AccessDeniedException', 400)),
      );
    const us = denied('us-east-1');
    const eu = denied('eu-west-1');
    const r = await backupRegions(
      [{ region: 'us-east-1' }, { region: 'eu-west-1' }],
      new MemoryStorage(),
      { gatewayFor: (x) => (x === 'us-east-1' ? us.gw : eu.gw) },
    );
    expect(regionsExitCode(r)).toBe(5);
  });

  it('--regions all: an opt-in Region the account has not enabled is skipped, not a failure', async () => {
    const us = fakeRegion('us-east-1', ['us-east-1_A']);
    const notEnabled = () =>
      fakeRegion('af-south-1', [], (mock) =>
        mock.on(ListUserPoolsCommand).rejects(awsError('UnrecognizedClientException', 400)),
      );
    const af = notEnabled();
    const plans = [{ region: 'us-east-1' }, { region: 'af-south-1', optional: true }];
    const r = await backupRegions(plans, new MemoryStorage(), {
      gatewayFor: (x) => (x === 'us-east-1' ? us.gw : af.gw),
      shards: 1,
    });
    expect(r.regions[1]).toMatchObject({ region: 'af-south-1', status: 'skipped' });
    expect(r.regions[1]?.reason).toMatch(/opt-in/);
    expect(regionsExitCode(r)).toBe(0);
    // Named explicitly (not from "all"), the same answer is a failure.
    const us2 = fakeRegion('us-east-1', ['us-east-1_A']);
    const af2 = notEnabled();
    const r2 = await backupRegions(
      [{ region: 'us-east-1' }, { region: 'af-south-1' }],
      new MemoryStorage(),
      { gatewayFor: (x) => (x === 'us-east-1' ? us2.gw : af2.gw), shards: 1 },
    );
    expect(r2.regions[1]?.status).toBe('failed');
    expect(regionsExitCode(r2)).toBe(10);
  });

  it('an abort stops every Region: the running pools are interrupted, the rest not started', async () => {
    const controller = new AbortController();
    const slow = (region: string, ids: string[]) =>
      fakeRegion(region, ids, (mock) =>
        mock.on(ListUsersCommand).callsFake(async () => {
          controller.abort();
          await new Promise((res) => setTimeout(res, 20));
          return { Users: [] };
        }),
      );
    const us = slow('us-east-1', ['us-east-1_A', 'us-east-1_B']);
    const eu = slow('eu-west-1', ['eu-west-1_A', 'eu-west-1_B']);
    const r = await backupRegions(
      [{ region: 'us-east-1' }, { region: 'eu-west-1' }],
      new MemoryStorage(),
      { gatewayFor: (x) => (x === 'us-east-1' ? us.gw : eu.gw), signal: controller.signal },
    );
    expect(r.pools.some((p) => p.ok)).toBe(false);
    for (const p of r.pools) if (!p.ok) expect(p.error.exitCode).toBe(130);
    const notStarted = r.pools.filter((p) => !p.ok && /not started/.test(p.error.message));
    expect(notStarted.map((p) => p.userPoolId).sort()).toEqual(['eu-west-1_B', 'us-east-1_B']);
  });

  it('afterPool runs after each pool with the Region gateway; its escape fails that pool', async () => {
    const us = fakeRegion('us-east-1', ['us-east-1_A', 'us-east-1_B']);
    const seen: string[] = [];
    const r = await backupRegions([{ region: 'us-east-1' }], new MemoryStorage(), {
      gatewayFor: () => us.gw,
      shards: 1,
      afterPool: async (outcome, gw) => {
        expect(gw).toBe(us.gw);
        seen.push(outcome.userPoolId);
        if (outcome.userPoolId === 'us-east-1_B') throw new Error('prune broke');
      },
    });
    expect(seen).toEqual(['us-east-1_A', 'us-east-1_B']);
    expect(r.pools.map((p) => p.ok)).toEqual([true, false]);
  });

  it('refuses a Region planned twice', async () => {
    await expect(
      backupRegions([{ region: 'us-east-1' }, { region: 'us-east-1' }], new MemoryStorage(), {
        gatewayFor: () => fakeRegion('us-east-1', []).gw,
      }),
    ).rejects.toThrow(/twice/);
  });
});

describe('regionsExitCode', () => {
  const ok = { ok: true, region: 'r', userPoolId: 'p', snapshotId: 's' } as never;
  const fail = (exitCode: number) =>
    ({
      ok: false,
      region: 'r',
      userPoolId: 'q',
      error: { code: 'X', name: 'X', exitCode, message: 'x' },
    }) as const;
  const result = (pools: unknown[], regionErrors: number[] = []): RegionsResult => ({
    pools: pools as RegionsResult['pools'],
    regions: regionErrors.map((exitCode) => ({
      region: 'r',
      status: 'failed',
      pools: 0,
      backedUp: 0,
      failed: 0,
      durationMs: 0,
      rates: [],
      error: { code: 'X', name: 'X', exitCode, message: 'x' },
    })),
  });
  it.each([
    ['nothing to do', result([]), 0],
    ['all backed up', result([ok, ok]), 0],
    ['one pool failed', result([ok, fail(7)]), 10],
    ['one Region failed', result([ok], [5]), 10],
    ['all failed alike', result([fail(7)], [7]), 7],
    ['all failed differently', result([fail(7)], [5]), 10],
  ])('%s → %i', (_name, r, code) => {
    expect(regionsExitCode(r)).toBe(code);
  });
});
