import { paginateListUserPools } from '@aws-sdk/client-cognito-identity-provider';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoGateway, items } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import { comparePools, type SubMapEntry } from '../../src/compare/index.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import type { RestoreResult } from '../../src/restore/types.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { useMotoEnv } from '../support/env.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { startQuotaProxy, type QuotaProxy } from '../support/quota-proxy.js';

/**
 * The restore against Cognito's default quotas, 100 ms round trips, and injected faults (HTTP
 * 500s and connection resets, before or after the request took effect), through the quota
 * proxy in front of moto. The result must still be exact, and the two user categories must run
 * side by side near their quotas (pipelined, not one phase after the other).
 */
const REGION = 'us-east-1';
const USERS = 300;

let moto: MotoServer;
let proxy: QuotaProxy;
let direct: CognitoGateway;
let work: string;
let sourceId: string;
let reader: SnapshotReader;

beforeAll(async () => {
  useMotoEnv();
  moto = await startMoto();
  direct = CognitoGateway.create(
    { region: REGION, endpointUrl: moto.endpoint },
    { rate: { unlimited: true } },
  );
  work = await mkdtemp(path.join(tmpdir(), 'cv-restore-faults-'));
  const seeded = await seedPool(direct, {
    users: USERS,
    groups: 8,
    poolName: 'faults-source',
    concurrency: 16,
  });
  sourceId = seeded.userPoolId;
  const root = new LocalDirStorage(path.join(work, 'snapshots'));
  const b = await backupPool(direct, root, { userPoolId: sourceId });
  reader = await SnapshotReader.open(root.child(`${sourceId}/${b.manifest.snapshotId}`));
  // The timed restore talks to moto past the request guard: the guard's extra hop runs in this
  // process and costs the share-of-quota margin below on a loaded machine. Seeding and backup
  // here, and the same restore requests in restore.test.ts, go through the guard.
  proxy = await startQuotaProxy({
    target: moto.motoEndpoint,
    delayMs: 100,
    failureRate: 0.03,
    resetRate: 0.03,
    resetPhase: 'random',
    seed: 1 + Math.floor(Math.random() * 1000),
  });
});

afterAll(async () => {
  direct?.destroy();
  await proxy?.close();
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('restore under quotas, latency and faults', () => {
  it('is exact, fails nobody, and runs UserCreation and UserUpdate side by side', async () => {
    const gw = CognitoGateway.create({ region: REGION, endpointUrl: proxy.endpoint });
    proxy.resetStats();
    let r: RestoreResult;
    try {
      r = (await restoreSnapshot(gw, reader, {
        target: { createPool: 'faults-target' },
        stateDir: path.join(work, 'state'),
        idpSecrets: { Google: { client_secret: 'demo-google-secret' } },
      })) as RestoreResult;
    } finally {
      gw.destroy();
    }
    const stats = proxy.stats().categories;
    const creation = stats.UserCreation;
    const update = stats.UserUpdate;
    console.log(
      `${USERS} users in ${(r.durationMs / 1000).toFixed(1)} s through 100 ms round trips and faults: ` +
        `UserCreation ${creation?.achievedRps.toFixed(1)} RPS (${creation?.allowed} calls), ` +
        `UserUpdate ${update?.achievedRps.toFixed(1)} RPS (${update?.allowed} calls), ` +
        `throttled ${creation?.throttled}/${update?.throttled}, ` +
        `500s ${Object.values(stats).reduce((n, c) => n + c.injected500, 0)}, ` +
        `resets ${Object.values(stats).reduce((n, c) => n + c.resets, 0)}`,
    );
    expect(r.failedUsers).toEqual([]);
    expect(r.users.created + r.users.existing).toBe(USERS);
    expect(r.users.failed).toBe(0);

    const map = readFileSync(r.subMap, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as SubMapEntry);
    expect(map).toHaveLength(USERS);
    const cmp = await comparePools(direct, sourceId, direct, r.userPoolId, {
      subMap: map,
      userStatus: 'restored',
    });
    expect(cmp.differences).toEqual([]);
    // Exactly one pool and one client per name: lost answers did not make duplicates.
    const names: string[] = [];
    const pools = direct.pages(paginateListUserPools, { MaxResults: 60 });
    for await (const p of items(pools, 'UserPools')) names.push(p.Name ?? '');
    expect(names.filter((n) => n === 'faults-target')).toHaveLength(1);
    expect(cmp.summary.clients).toEqual({ a: 2, b: 2 });

    // Pipelined: UserUpdate, the bottleneck, ran near its quota for the whole users phase.
    expect(update?.shareOfQuota ?? 0).toBeGreaterThan(0.75);
    expect(update?.throttled ?? 0).toBeLessThan((update?.allowed ?? 0) * 0.05);
  });
});
