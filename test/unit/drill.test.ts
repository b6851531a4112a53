import { describe, expect, it } from 'vitest';
import {
  type DrillMeasurements,
  drawSample,
  estimateRto,
  sampleKey,
} from '../../src/drill/index.js';
import {
  lastHeartbeat,
  assertPoolRoom,
  isDrillPool,
  DRILL_TAG,
  HEARTBEAT_TAG,
} from '../../src/drill/pools.js';
import { scratchPoolDocument } from '../../src/drill/view.js';
import { iamPolicy } from '../../src/policy/iam.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

async function snapshotOf(n: number): Promise<SnapshotReader> {
  const storage = new MemoryStorage();
  const w = new SnapshotWriter(storage);
  const users = Array.from({ length: n }, (_, i) => ({
    Username: `user-${i}`,
    Enabled: i % 10 !== 0,
    UserStatus: i % 7 === 0 ? 'EXTERNAL_PROVIDER' : 'CONFIRMED',
    Attributes: [
      { Name: 'sub', Value: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` },
      { Name: 'email', Value: `u${i}@example.com` },
      { Name: 'email_verified', Value: i % 3 === 0 ? 'false' : 'true' },
    ],
  }));
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', users);
  await w.commit(manifestDraft({ counts: { users: n } }));
  return SnapshotReader.open(storage);
}

describe('drill sample', () => {
  it('is deterministic for a seed, changes with it, and has exactly N users', async () => {
    const reader = await snapshotOf(500);
    const a = await drawSample(reader, 40, 'cognito-vault');
    const b = await drawSample(reader, 40, 'cognito-vault');
    const c = await drawSample(reader, 40, 'another seed');
    expect(a.usernames?.size).toBe(40);
    expect([...(a.usernames ?? [])].sort()).toEqual([...(b.usernames ?? [])].sort());
    const overlap = [...(a.usernames ?? [])].filter((u) => c.usernames?.has(u)).length;
    expect(overlap).toBeLessThan(20);
    expect(a.counts).toEqual({
      users: 500,
      externalProvider: 72,
      disabled: 50,
      verifiedContact: 285,
    });
    expect(a.sampled.users).toBe(40);
  });

  it('is the N smallest hashes of the sub (whatever the order in the files)', async () => {
    const reader = await snapshotOf(100);
    const s = await drawSample(reader, 10, 'x');
    const keys = Array.from({ length: 100 }, (_, i) => ({
      u: `user-${i}`,
      k: sampleKey('x', {
        Username: `user-${i}`,
        Attributes: [
          { Name: 'sub', Value: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` },
        ],
      }),
    }))
      .sort((p, q) => (p.k < q.k ? -1 : 1))
      .slice(0, 10)
      .map((p) => p.u);
    expect([...(s.usernames ?? [])].sort()).toEqual(keys.sort());
  });

  it('no sample, or one as large as the snapshot: every user', async () => {
    const reader = await snapshotOf(20);
    expect((await drawSample(reader, undefined, 's')).usernames).toBeUndefined();
    expect((await drawSample(reader, 20, 's')).usernames).toBeUndefined();
  });
});

describe('scratch pool document', () => {
  it('drops triggers, domain, deletion protection and tags; carries the drill tags', () => {
    const doc = scratchPoolDocument(
      {
        userPool: {
          Id: 'us-east-1_A',
          Name: 'prod',
          LambdaConfig: { PreSignUp: 'arn:aws:lambda:us-east-1:1:function:f' },
          DeletionProtection: 'ACTIVE',
          Domain: 'prod-login',
          UserPoolTags: { env: 'prod' },
        },
        domain: { Domain: 'prod-login' },
        tags: { env: 'prod' },
      },
      { [DRILL_TAG]: 'd1', [HEARTBEAT_TAG]: '2026-01-01T00:00:00.000Z' },
    );
    expect(doc.userPool.LambdaConfig).toBeUndefined();
    expect(doc.userPool.Domain).toBeUndefined();
    expect(doc.userPool.DeletionProtection).toBe('INACTIVE');
    expect(doc.userPool.UserPoolTags).toEqual({
      [DRILL_TAG]: 'd1',
      [HEARTBEAT_TAG]: '2026-01-01T00:00:00.000Z',
    });
    expect(doc.domain).toBeUndefined();
    expect(doc.tags).toBeUndefined();
  });
});

describe('drill pools', () => {
  it('the tag decides, the heartbeat dates it, the pool limit keeps headroom', () => {
    expect(isDrillPool({ UserPoolTags: { [DRILL_TAG]: 'x' } })).toBe(true);
    expect(isDrillPool({ UserPoolTags: { [DRILL_TAG]: '' } })).toBe(false);
    expect(isDrillPool({ Name: 'cognito-vault-drill-x' })).toBe(false);
    expect(lastHeartbeat({ UserPoolTags: { [HEARTBEAT_TAG]: '2026-01-01T00:00:00.000Z' } })).toBe(
      Date.parse('2026-01-01T00:00:00.000Z'),
    );
    expect(lastHeartbeat({ CreationDate: new Date(5) })).toBe(5);
    expect(() => assertPoolRoom(989, 1000)).not.toThrow();
    expect(() => assertPoolRoom(990, 1000)).toThrow(/limit of 1000/);
  });
});

describe('RTO estimate', () => {
  const base: DrillMeasurements = {
    preflightSeconds: 0.5,
    setupSeconds: 3,
    usersSeconds: 5,
    counts: { users: 2000, externalProvider: 0, disabled: 100, verifiedContact: 1500 },
    sampled: { users: 200, externalProvider: 0, disabled: 10, verifiedContact: 150 },
    memberships: { total: 3000, sampled: 300 },
    rates: [
      {
        category: 'UserCreation',
        ceilingRps: 50,
        calls: 200,
        throttles: 0,
        retries: 0,
        achievedRps: 50,
        shareOfQuota: 1,
      },
      {
        category: 'UserAccountRecovery',
        ceilingRps: 30,
        calls: 150,
        throttles: 0,
        retries: 0,
        achievedRps: 30,
        shareOfQuota: 1,
      },
      {
        category: 'UserUpdate',
        ceilingRps: 25,
        calls: 310,
        throttles: 2,
        retries: 2,
        achievedRps: 24,
        shareOfQuota: 0.96,
      },
    ],
    created: 200,
    imported: 0,
    ceilings: { UserList: 30, UserUpdate: 25 },
  };

  it("admin-create: the slowest category at its measured rate, plus the drill's start-up and tail", () => {
    const rto = estimateRto(base);
    const admin = rto.paths.find((p) => p.path === 'admin-create');
    // UserUpdate: (3000 + 100) / 24 = 129.2 s; the sample's model 310/24 = 12.9 s > 5 s → no overhead.
    expect(admin?.bottleneck).toBe('UserUpdate');
    expect(admin?.phases.find((p) => p.phase === 'users')?.seconds).toBeCloseTo(129.2, 1);
    expect(admin?.totalSeconds).toBeCloseTo(0.5 + 3 + 129.2, 0);
    expect(rto.paths.find((p) => p.path === 'import-job')?.totalSeconds).toBeNull();
  });

  it('import-job: rows at the measured job rate, one job at a time, then listing and follow-ups', () => {
    const rto = estimateRto({
      ...base,
      created: 0,
      imported: 200,
      importJobs: { jobs: 1, rows: 200, seconds: 10 },
    });
    const imp = rto.paths.find((p) => p.path === 'import-job');
    // 2000 / 20 rows/s = 100 s; ListUsers 34 pages / 30 = 1.1 s; follow-ups 3100 / 24 = 129.2 s.
    expect(imp?.totalSeconds).toBeCloseTo(0.5 + 3 + 100 + 1.1 + 129.2, 0);
  });
});

describe('policy drill', () => {
  it('pool actions only on drill-tagged pools, create only with the tag, heartbeat key only', () => {
    const p = iamPolicy('drill', { s3Location: 's3://vault/cognito' });
    const cognito = p.Statement.filter((s) => s.Action.some((a) => a.startsWith('cognito-idp:')));
    const withAction = (a: string) => cognito.filter((s) => s.Action.includes(`cognito-idp:${a}`));
    for (const op of ['DeleteUserPool', 'AdminCreateUser', 'DescribeUserPool', 'ListUsers']) {
      const [st, ...more] = withAction(op);
      expect(more).toEqual([]);
      expect(st?.Condition).toEqual({
        StringLike: { 'aws:ResourceTag/cognito-vault:drill': '?*' },
      });
    }
    expect(withAction('UpdateUserPool')).toEqual([]);
    expect(withAction('CreateUserPool')).toEqual([
      {
        Sid: 'CognitoDrillCreate',
        Effect: 'Allow',
        Action: ['cognito-idp:CreateUserPool'],
        Resource: '*',
        Condition: { StringLike: { 'aws:RequestTag/cognito-vault:drill': '?*' } },
      },
    ]);
    expect(withAction('TagResource')[0]?.Condition).toEqual({
      StringLike: { 'aws:ResourceTag/cognito-vault:drill': '?*' },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['cognito-vault:drill-heartbeat'] },
    });
    // Every statement but ListUserPools carries a tag condition.
    const unconditioned = cognito.filter((s) => !s.Condition).flatMap((s) => s.Action);
    expect(unconditioned).toEqual(['cognito-idp:ListUserPools']);
  });
});
