import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedPool } from '../../testing/seed.js';
import { backupUnit, plan, prune, report } from '../../src/lambda/stepfunctions.js';
import { listSnapshots } from '../../src/snapshot/catalog.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { S3Storage } from '../../src/storage/s3.js';
import { type MotoFixture, REGION, startMotoFixture } from '../support/fixture.js';
import { configureHandler, createVaultBucket, vaultStorage } from '../support/handler-env.js';

/**
 * The Step Functions handlers against moto, one call at a time: what a single invocation does
 * with its event (plan's grouping and validation, a retried BackupUnit, a unit resumed across
 * executions, malformed events). The state machine that strings them together is executed on an
 * ASL interpreter in stepfunctions-execution.test.ts.
 */
let fixture: MotoFixture;
let s3: S3Client;
let poolA: string;
let poolB: string;
let poolBig: string;
let saved: NodeJS.ProcessEnv;

beforeAll(async () => {
  fixture = await startMotoFixture('cv-sfn-');
  saved = { ...process.env };
  s3 = await createVaultBucket(fixture);
  poolA = (await seedPool(fixture.gw, { users: 30, groups: 2, poolName: 'sfn-a' })).userPoolId;
  poolB = (await seedPool(fixture.gw, { users: 20, groups: 2, poolName: 'sfn-b' })).userPoolId;
  poolBig = (await seedPool(fixture.gw, { users: 240, groups: 3, poolName: 'sfn-big' })).userPoolId;
});

afterEach(() => {
  process.env = { ...saved };
  vi.restoreAllMocks();
});

afterAll(async () => {
  s3?.destroy();
  await fixture?.stop();
});

const configure = (vars: Record<string, string>): void => configureHandler(fixture, vars);
const storage = (prefix: string): S3Storage => vaultStorage(fixture, prefix);

async function verifyAll(prefix: string): Promise<void> {
  for (const s of await listSnapshots(storage(prefix))) {
    if (!s.complete) continue;
    const v = await (await SnapshotReader.open(storage(`${prefix}/${s.path}`))).verify();
    expect(v.ok, v.problems.join('; ')).toBe(true);
  }
}

describe('plan', () => {
  it('groups units by account and Region, from the environment or the event', async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/p',
      COGNITO_VAULT_USER_POOL_IDS: `${poolA},${poolB}`,
    });
    const p = await plan({});
    expect(p.unitCount).toBe(2);
    expect(p.groups).toEqual([
      {
        group: `self/${REGION}`,
        units: [
          { userPoolId: poolA, region: REGION },
          { userPoolId: poolB, region: REGION },
        ],
      },
    ]);
    // Explicit ids carry their own Region: one group per Region.
    const q = await plan({ userPoolIds: [poolA, 'eu-west-1_AbCdEf123'] });
    expect(q.groups.map((g) => g.group)).toEqual([`self/${REGION}`, 'self/eu-west-1']);
  });

  it('lists every pool of each Region for `*`', async () => {
    configure({ COGNITO_VAULT_TO: 's3://vault/p', COGNITO_VAULT_USER_POOL_IDS: '*' });
    const p = await plan({});
    expect(p.groups).toHaveLength(1);
    expect(p.groups[0]?.units.map((u) => u.userPoolId)).toEqual(
      expect.arrayContaining([poolA, poolB, poolBig]),
    );
  });

  it('plans accounts × Regions through the role pattern, one group per account and Region', async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/p',
      COGNITO_VAULT_USER_POOL_IDS: `${poolA},eu-west-1_AbCdEf123`,
      COGNITO_VAULT_ACCOUNTS: '111111111111,222222222222',
      COGNITO_VAULT_ROLE_ARN_PATTERN: 'arn:aws:iam::{account}:role/CognitoVaultBackup',
    });
    const p = await plan({});
    expect(p.groups.map((g) => g.group)).toEqual([
      `111111111111/${REGION}`,
      '111111111111/eu-west-1',
      `222222222222/${REGION}`,
      '222222222222/eu-west-1',
    ]);
    expect(p.groups[2]?.units[0]).toEqual({
      userPoolId: poolA,
      region: REGION,
      accountId: '222222222222',
      roleArn: 'arn:aws:iam::222222222222:role/CognitoVaultBackup',
    });
  });

  it('lists the pools of other accounts with their assumed role (STS), each account its own', async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/p',
      COGNITO_VAULT_USER_POOL_IDS: '*',
      // moto's default account holds the seeded pools; 111111111111 has none.
      COGNITO_VAULT_ACCOUNTS: '123456789012,111111111111',
      COGNITO_VAULT_ROLE_ARN_PATTERN: 'arn:aws:iam::{account}:role/CognitoVaultBackup',
    });
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const p = await plan({});
    expect(p.groups.map((g) => g.group)).toEqual([`123456789012/${REGION}`]);
    expect(p.groups[0]?.units.map((u) => u.userPoolId)).toEqual(
      expect.arrayContaining([poolA, poolB, poolBig]),
    );
    expect(p.groups[0]?.units[0]?.roleArn).toBe(
      'arn:aws:iam::123456789012:role/CognitoVaultBackup',
    );
  });

  it('refuses bad configuration with one clear usage error', async () => {
    configure({ COGNITO_VAULT_TO: 's3://vault/p', COGNITO_VAULT_USER_POOL_IDS: poolA });
    await expect(plan({ accounts: ['111111111111'] })).rejects.toThrow(/ROLE_ARN_PATTERN/);
    await expect(
      plan({ accounts: ['12'], roleArnPattern: 'arn:aws:iam::{account}:role/X' }),
    ).rejects.toThrow(/12-digit/);
    await expect(plan({ userPoolIds: '*', regions: ['mars'] })).rejects.toThrow(/not a Region/);
    await expect(plan({ userPoolIds: '*', regions: [REGION, REGION] })).rejects.toThrow(/twice/);
    // Pool ids name their Region: a Region list beside them is a mistake, not ignored.
    await expect(plan({ regions: [REGION] })).rejects.toThrow(/every pool \(\*\) only/);
    await expect(plan({ userPoolIds: ['nope'] })).rejects.toMatchObject({ exitCode: 2 });
    configure({ COGNITO_VAULT_USER_POOL_IDS: '' });
    await expect(plan({})).rejects.toThrow(/no pools/);
  });
});

describe('backupUnit', () => {
  it('answers done for a snapshot already committed (a retried invocation), backing up nothing', async () => {
    configure({ COGNITO_VAULT_TO: 's3://vault/again', COGNITO_VAULT_USER_POOL_IDS: poolB });
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const unit = { userPoolId: poolB, region: REGION };
    const first = await backupUnit({ unit });
    expect(first).toMatchObject({ done: true, invocations: 1 });
    const again = await backupUnit({ unit, snapshotId: first.snapshotId, invocations: 1 });
    expect(again).toEqual({ unit, done: true, snapshotId: first.snapshotId, invocations: 2 });
    expect((await listSnapshots(storage('again'))).map((s) => s.path)).toEqual([
      `${poolB}/${first.snapshotId}`,
    ]);
  });
});

describe('backupUnit across executions', () => {
  it("a unit's first invocation continues the snapshot an earlier, interrupted run left", async () => {
    configure({
      COGNITO_VAULT_TO: 's3://vault/across',
      COGNITO_VAULT_USER_POOL_IDS: poolBig,
      COGNITO_VAULT_RATE_SHARE: '0.2',
      COGNITO_VAULT_DEADLINE_MARGIN_MS: '0',
    });
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const unit = { userPoolId: poolBig, region: REGION };
    // An execution whose unit stopped at its deadline (and, say, the execution then timed out).
    let stopped: Awaited<ReturnType<typeof backupUnit>> | undefined;
    for (let n = 1; !stopped && n < 10; n++) {
      stopped = await backupUnit({ unit }, { getRemainingTimeInMillis: () => n * 1_000 }).catch(
        () => undefined,
      );
    }
    expect(stopped?.done).toBe(false);
    // The next execution starts the unit afresh, without a snapshot id: it is found and continued.
    const next = await backupUnit({ unit });
    expect(next).toMatchObject({ done: true, snapshotId: stopped?.snapshotId });
    expect(next.summary?.users).toBe(240);
    expect((await listSnapshots(storage('across'))).map((x) => [x.path, x.complete])).toEqual([
      [`${poolBig}/${stopped?.snapshotId}`, true],
    ]);
    await verifyAll('across');
  });
});

describe('handler inputs', () => {
  it('backupUnit, prune and report refuse malformed events (exit 2)', async () => {
    configure({ COGNITO_VAULT_TO: 's3://vault/x' });
    await expect(backupUnit({ unit: { userPoolId: 'x', region: REGION } })).rejects.toMatchObject({
      exitCode: 2,
    });
    await expect(backupUnit({ unit: { userPoolId: poolA, region: 'eu-west-1' } })).rejects.toThrow(
      /not in eu-west-1/,
    );
    await expect(
      backupUnit({ unit: { userPoolId: poolA, region: REGION }, snapshotId: '../x' }),
    ).rejects.toMatchObject({ exitCode: 2 });
    await expect(
      backupUnit({ unit: { userPoolId: poolA, region: REGION, roleArn: 'arn:nope' } }),
    ).rejects.toThrow(/not an IAM role ARN/);
    await expect(report({ results: 'x' as never })).rejects.toMatchObject({ exitCode: 2 });
    expect(await prune({ unit: { userPoolId: poolA, region: REGION } })).toMatchObject({
      configured: false,
      pruned: [],
    });
  });
});
