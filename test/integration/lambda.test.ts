import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import { configFromEnv, handler, TIMEOUT_MARGIN_MS } from '../../src/lambda/handler.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { S3Storage } from '../../src/storage/s3.js';
import { listSnapshots } from '../../src/snapshot/catalog.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import { configureHandler, createVaultBucket, vaultStorage } from '../support/handler-env.js';

let fixture: MotoFixture;
let s3: S3Client;
let poolA: string;
let poolB: string;
let saved: NodeJS.ProcessEnv;

beforeAll(async () => {
  fixture = await startMotoFixture('cv-lambda-');
  saved = { ...process.env }; // with moto's credentials
  s3 = await createVaultBucket(fixture);
  poolA = (await seedPool(fixture.gw, { users: 40, groups: 3, poolName: 'lambda-a' })).userPoolId;
  poolB = (await seedPool(fixture.gw, { users: 25, groups: 2, poolName: 'lambda-b' })).userPoolId;
});

afterEach(() => {
  process.env = { ...saved };
});

afterAll(async () => {
  s3?.destroy();
  await fixture?.stop();
});

const configure = (vars: Record<string, string>): void => configureHandler(fixture, vars);
const storage = (prefix: string): S3Storage => vaultStorage(fixture, prefix);

describe('scheduled backup Lambda handler', () => {
  it('backs up the configured pools into S3 as complete, verifiable snapshots', async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/nightly',
      COGNITO_VAULT_USER_POOL_IDS: `${poolA},${poolB}`,
    });
    const r = await handler({}, { getRemainingTimeInMillis: () => 900_000 });
    expect(r.failures).toEqual([]);
    expect(r.snapshots.map((s) => [s.userPoolId, s.users])).toEqual([
      [poolA, 40],
      [poolB, 25],
    ]);
    const listed = await listSnapshots(storage('nightly'));
    expect(
      listed
        .filter((s) => s.complete)
        .map((s) => s.userPoolId)
        .sort(),
    ).toEqual([poolA, poolB].sort());
    for (const s of listed) {
      const v = await (await SnapshotReader.open(storage(`nightly/${s.path}`))).verify();
      expect(v.ok, v.problems.join('; ')).toBe(true);
    }
  });

  it('COGNITO_VAULT_USER_MFA=true captures per-user MFA settings and counts the billed users', async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/user-mfa',
      COGNITO_VAULT_USER_POOL_IDS: poolB,
      COGNITO_VAULT_USER_MFA: 'true',
    });
    const r = await handler({});
    expect(r.failures).toEqual([]);
    expect(r.snapshots[0]?.userMfa).toMatchObject({ usersRead: 25, billedAsMau: 25 });
    const [snap] = await listSnapshots(storage('user-mfa'));
    const reader = await SnapshotReader.open(storage(`user-mfa/${snap?.path}`));
    expect(reader.manifest.options.userMfa).toBe(true);
  });

  it('takes the pools from the event when it names them', async () => {
    configure({ COGNITO_VAULT_TO: 's3://vault/event', COGNITO_VAULT_USER_POOL_IDS: '*' });
    const r = await handler({ userPoolIds: [poolB] });
    expect(r.snapshots.map((s) => s.userPoolId)).toEqual([poolB]);
  });

  it('prunes each pool to the retention policy after a successful backup', async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/retained',
      COGNITO_VAULT_USER_POOL_IDS: poolB,
      COGNITO_VAULT_KEEP_LAST: '1',
    });
    const first = await handler({});
    expect(first.pruned).toEqual([]);
    const second = await handler({});
    expect(second.pruned).toHaveLength(1);
    const listed = await listSnapshots(storage('retained'));
    expect(listed.map((s) => s.path)).toEqual([
      `${poolB}/${second.snapshots[0]?.snapshot.split('/').pop()}`,
    ]);
    expect(listed[0]?.complete).toBe(true);
  });

  it('retention keeps unreadable and unknown-format snapshots and says why in the result', async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/kept-odd',
      COGNITO_VAULT_USER_POOL_IDS: poolB,
      COGNITO_VAULT_KEEP_LAST: '1',
    });
    const root = storage('kept-odd');
    await root.child(`${poolB}/2026-01-01T00-00-00-000Z`).put('manifest.json', '{ corrupt');
    await root.child(`${poolB}/2026-01-01T00-00-00-000Z`).put('groups.json', '[]');
    await root
      .child(`${poolB}/2026-01-02T00-00-00-000Z`)
      .put('manifest.json', JSON.stringify({ formatVersion: 3 }));
    const r = await handler({});
    expect(r.failures).toEqual([]);
    expect(r.pruneFailures).toEqual([]);
    expect(r.pruned).toEqual([]);
    expect(r.retained.map((x) => [x.snapshotId, x.reasons])).toEqual(
      expect.arrayContaining([
        ['2026-01-01T00-00-00-000Z', ['unreadable']],
        ['2026-01-02T00-00-00-000Z', ['unknown-format']],
      ]),
    );
    expect((await listSnapshots(root)).map((s) => s.status).sort()).toEqual([
      'complete',
      'unknown-format',
      'unreadable',
    ]);
  });

  it('stops before the Lambda timeout, leaves no manifest and reports the failure', async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/slow',
      COGNITO_VAULT_USER_POOL_IDS: poolA,
      COGNITO_VAULT_RATE_SHARE: '0.01', // ListUsers at 0.3 requests/s: far slower than the budget
    });
    await expect(
      handler({}, { getRemainingTimeInMillis: () => TIMEOUT_MARGIN_MS + 1_500 }),
    ).rejects.toThrow(/1 of 1 pool backups failed: .*INTERRUPTED/);
    const listed = await listSnapshots(storage('slow'));
    expect(listed.every((s) => !s.complete)).toBe(true);
  });

  it('the next invocation resumes the snapshot an interrupted one left, and says so', async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/resume',
      COGNITO_VAULT_USER_POOL_IDS: poolA,
      COGNITO_VAULT_RATE_SHARE: '0.01',
    });
    await expect(
      handler({}, { getRemainingTimeInMillis: () => TIMEOUT_MARGIN_MS + 4_000 }),
    ).rejects.toThrow(/INTERRUPTED/);
    const before = await listSnapshots(storage('resume'));
    expect(before.map((s) => s.status)).toEqual(['incomplete']);
    expect(before[0]?.leases.filter((l) => l.live)).toEqual([]);
    configure({ COGNITO_VAULT_RATE_SHARE: '1' });
    const r = await handler({}, { getRemainingTimeInMillis: () => 900_000 });
    expect(r.resumed).toEqual([{ userPoolId: poolA, snapshotId: before[0]?.snapshotId }]);
    expect(r.snapshots[0]).toMatchObject({ snapshotId: before[0]?.snapshotId, users: 40 });
    const after = await listSnapshots(storage('resume'));
    expect(after.map((s) => [s.snapshotId, s.status])).toEqual([
      [before[0]?.snapshotId, 'complete'],
    ]);
    const reader = await SnapshotReader.open(storage(`resume/${after[0]?.path}`));
    expect((await reader.verify()).ok).toBe(true);
    expect(reader.manifest.resumes).toHaveLength(1);
    // A third invocation has nothing to resume: a new snapshot.
    const third = await handler({}, { getRemainingTimeInMillis: () => 900_000 });
    expect(third.resumed).toEqual([]);
    expect(third.snapshots[0]?.snapshotId).not.toBe(before[0]?.snapshotId);
  });

  it('writes SSE-KMS objects and passes the expected bucket owner from the environment', async () => {
    const key = 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-00000000000b';
    configure({
      COGNITO_VAULT_TO: 's3://vault/owned',
      COGNITO_VAULT_USER_POOL_IDS: poolB,
      COGNITO_VAULT_KMS_KEY_ID: key,
      COGNITO_VAULT_EXPECTED_BUCKET_OWNER: '123456789012', // moto's account
    });
    expect(configFromEnv(process.env)).toMatchObject({
      kmsKeyId: key,
      expectedBucketOwner: '123456789012',
    });
    const r = await handler({}, { getRemainingTimeInMillis: () => 900_000 });
    expect(r.failures).toEqual([]);
    const [snap] = await listSnapshots(storage('owned'));
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: 'vault', Key: `owned/${snap?.path}/manifest.json` }),
    );
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toBe(key);
    expect(() =>
      configFromEnv({
        COGNITO_VAULT_TO: 's3://vault/x',
        COGNITO_VAULT_USER_POOL_IDS: '*',
        COGNITO_VAULT_EXPECTED_BUCKET_OWNER: '12345',
      }),
    ).toThrow(/12-digit/);
  });

  it('COGNITO_VAULT_REGIONS: every pool of two Regions, in parallel, each in its own Region', async () => {
    const eu = CognitoGateway.create({ region: 'eu-west-1', endpointUrl: fixture.moto.endpoint });
    const poolEu = (await seedPool(eu, { users: 15, groups: 1, poolName: 'lambda-a' })).userPoolId;
    eu.destroy();
    expect(poolEu.startsWith('eu-west-1_')).toBe(true);
    configure({
      COGNITO_VAULT_TO: 's3://vault/regions',
      COGNITO_VAULT_USER_POOL_IDS: '*',
      COGNITO_VAULT_REGIONS: 'us-east-1,eu-west-1',
    });
    const r = await handler({}, { getRemainingTimeInMillis: () => 900_000 });
    expect(r.failures).toEqual([]);
    expect(r.regions.map((x) => [x.region, x.status])).toEqual([
      ['us-east-1', 'ok'],
      ['eu-west-1', 'ok'],
    ]);
    const ids = r.snapshots.map((x) => [x.region, x.userPoolId]);
    expect(ids).toContainEqual(['eu-west-1', poolEu]);
    expect(ids).toContainEqual(['us-east-1', poolA]);
    for (const x of r.snapshots) expect(x.userPoolId.startsWith(`${x.region}_`)).toBe(true);
    const listed = await listSnapshots(storage('regions'));
    expect(listed.filter((x) => x.complete).map((x) => x.userPoolId)).toContain(poolEu);
  });

  it('refuses a configuration without an S3 location or without pools', () => {
    expect(() => configFromEnv({ COGNITO_VAULT_USER_POOL_IDS: poolA })).toThrow(/COGNITO_VAULT_TO/);
    expect(() => configFromEnv({ COGNITO_VAULT_TO: 's3://vault/x' })).toThrow(/no pools/);
    expect(() =>
      configFromEnv({
        COGNITO_VAULT_TO: 's3://vault/x',
        COGNITO_VAULT_USER_POOL_IDS: 'not a pool id',
      }),
    ).toThrow(/malformed user pool id/);
    expect(
      configFromEnv({ COGNITO_VAULT_TO: 's3://vault/x', COGNITO_VAULT_USER_POOL_IDS: '*' }),
    ).toMatchObject({
      userPoolIds: '*',
      rateShare: 0.5,
      includeSecrets: false,
    });
  });
});
