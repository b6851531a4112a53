import path from 'node:path';
import {
  CreateUserPoolCommand,
  DescribeUserPoolCommand,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import { RESTORE_TOKEN_TAG } from '../../src/restore/create-once.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import { readJournal } from '../../src/restore/state/journal.js';
import type { RestoreResult } from '../../src/restore/types.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { type MotoFixture, REGION, startMotoFixture } from '../support/fixture.js';

/**
 * CreateUserPool and CreateUserPoolClient "succeeded but the answer was lost" (a proxy forwards
 * the request and cuts the connection), while the lists lag behind and someone else creates a
 * pool of the same name meanwhile: the restore must find what its own attempt created — by the
 * token tag it journaled, not by name — and create nothing twice.
 */
let fixture: MotoFixture | undefined;
let reader: SnapshotReader;

beforeAll(async () => {
  fixture = await startMotoFixture('cv-create-once-');
  const seeded = await seedPool(fixture.gw, {
    users: 12,
    groups: 2,
    poolName: 'once-source',
    concurrency: 4,
  });
  const root = new LocalDirStorage(path.join(fixture.work, 'snapshots'));
  const b = await backupPool(fixture.gw, root, { userPoolId: seeded.userPoolId });
  reader = await SnapshotReader.open(root.child(`${seeded.userPoolId}/${b.manifest.snapshotId}`));
});

afterAll(async () => {
  await fixture?.stop();
});

describe('idempotent creation after a lost answer', () => {
  it('adopts its own pool and clients, not a same-named stranger, and creates nothing twice', async () => {
    const f = fixture as MotoFixture;
    const name = 'once-target';
    let stranger = '';
    const proxy = await startFaultProxy({
      target: f.moto.endpoint,
      dropResponses: { CreateUserPool: 1, CreateUserPoolClient: 1 },
      listLagMs: 1200,
      onDrop: async (op) => {
        if (op !== 'CreateUserPool') return;
        // Meanwhile, someone else creates a pool with the same name.
        const r = await f.raw.send(new CreateUserPoolCommand({ PoolName: name }));
        stranger = r.UserPool?.Id ?? '';
      },
    });
    const gw = CognitoGateway.create(
      { region: REGION, endpointUrl: proxy.endpoint },
      { rate: { unlimited: true } },
    );
    let r: RestoreResult;
    try {
      r = (await restoreSnapshot(gw, reader, {
        target: { createPool: name },
        stateDir: path.join(f.work, 'state'),
        idpSecrets: { Google: { client_secret: 'x' } },
      })) as RestoreResult;
    } finally {
      gw.destroy();
      await proxy.close();
    }
    expect(proxy.dropped).toEqual(['CreateUserPool', 'CreateUserPoolClient']);
    expect(stranger).not.toBe('');
    expect(r.userPoolId).not.toBe(stranger);
    expect(r.failedUsers).toEqual([]);

    const pools = await f.raw.send(new ListUserPoolsCommand({ MaxResults: 60 }));
    const named = (pools.UserPools ?? []).filter((p) => p.Name === name).map((p) => p.Id);
    expect(named.sort()).toEqual([r.userPoolId, stranger].sort());
    const ours = await f.raw.send(new DescribeUserPoolCommand({ UserPoolId: r.userPoolId }));
    const state = await readJournal(r.stateDir);
    expect(state?.poolIntent?.tokens).toHaveLength(1);
    expect(ours.UserPool?.UserPoolTags?.[RESTORE_TOKEN_TAG]).toBe(state?.poolIntent?.tokens[0]);

    const clients = await f.raw.send(
      new ListUserPoolClientsCommand({ UserPoolId: r.userPoolId, MaxResults: 60 }),
    );
    const names = (clients.UserPoolClients ?? []).map((c) => c.ClientName).sort();
    expect(names).toEqual(['machine', 'web']);
    expect(r.warnings.filter((w) => w.code === 'POOL_DUPLICATE')).toEqual([]);
  });
});
