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
import { monitorStalls } from '../support/stalls.js';

/**
 * The restore against Cognito's default quotas, 100 ms round trips, and injected faults (HTTP
 * 500s and connection resets, before or after the request took effect), through the quota
 * proxy in front of moto. The result must still be exact, and the two user categories must run
 * side by side near their quotas (pipelined, not one phase after the other).
 */
const REGION = 'us-east-1';
const USERS = 300;
/**
 * The seed of the injected 500s and resets: fixed, so a failure replays; another one with
 * COGNITO_VAULT_FAULT_SEED=n. Printed with the result either way.
 */
const FAULT_SEED = Number(process.env.COGNITO_VAULT_FAULT_SEED ?? 421);

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
    seed: FAULT_SEED,
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
    // A timer more than 50 ms late: the process was not running (scheduling jitter is less).
    const stalls = monitorStalls(10, 50);
    let r: RestoreResult;
    try {
      r = (await restoreSnapshot(gw, reader, {
        target: { createPool: 'faults-target' },
        stateDir: path.join(work, 'state'),
        idpSecrets: { Google: { client_secret: 'demo-google-secret' } },
      })) as RestoreResult;
    } finally {
      gw.destroy();
      stalls.stop();
    }
    const stats = proxy.stats().categories;
    const creation = stats.UserCreation;
    const update = stats.UserUpdate;
    // UserUpdate's share of its quota over the time this process could run: the span between
    // its first and last admitted request, on the bucket's clock, less the stalls in it.
    const span = (update?.lastAllowedAt ?? 0) - (update?.firstAllowedAt ?? 0);
    const stalled = stalls.stalledWithin(update?.firstAllowedAt ?? 0, update?.lastAllowedAt ?? 0);
    const runnable = span - stalled;
    const share = runnable > 0 ? ((update?.allowed ?? 1) - 1) / (runnable / 1000) / 25 : 0;
    console.log(
      `seed ${FAULT_SEED}: UserUpdate share ${share.toFixed(2)} over ${(runnable / 1000).toFixed(1)} s runnable ` +
        `(${update?.shareOfQuota} over ${(span / 1000).toFixed(1)} s wall, ${(stalled / 1000).toFixed(1)} s stalled); ` +
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
    // Judged over the time the process could run: a loaded machine's stalls are not the
    // restore's. (No upper bound: the bucket refills during a stall, so a catch-up after one
    // may exceed the quota per runnable second.)
    expect(runnable, `seed ${FAULT_SEED}`).toBeGreaterThan(0);
    // Side by side, whatever the load: UserUpdate was admitted during most of UserCreation's
    // window (a phase-after-phase restore would start it after the last creation).
    const c0 = creation?.firstAllowedAt ?? 0;
    const c1 = creation?.lastAllowedAt ?? 0;
    const overlap =
      Math.min(c1, update?.lastAllowedAt ?? 0) - Math.max(c0, update?.firstAllowedAt ?? 0);
    expect(overlap / (c1 - c0), `seed ${FAULT_SEED}`).toBeGreaterThan(0.5);
    expect(share, `seed ${FAULT_SEED}`).toBeGreaterThan(0.75);
    expect(update?.throttled ?? 0).toBeLessThan((update?.allowed ?? 0) * 0.05);
  });
});
