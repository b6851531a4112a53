import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CognitoIdentityProviderClient,
  CreateUserPoolCommand,
  DescribeUserPoolCommand,
  ListUserPoolsCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { drill as lambdaDrill } from '../../src/lambda/drill.js';
import { S3Storage } from '../../src/storage/s3.js';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { startEmulator, type Emulator } from '../../testing/emulator.js';
import { formatViolation } from '../../testing/request-guard.js';
import { startValidatingProxy, type ValidatingProxy } from '../../testing/validating-proxy.js';
import { seedPool } from '../../testing/seed.js';
import { DRILL_TAG, type DrillResult, HEARTBEAT_TAG, runDrill } from '../../src/drill/index.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { cliEnv, startCli } from '../support/cli.js';
import { useMotoEnv } from '../support/env.js';
import { startTagDouble, type TagDouble } from '../support/tag-double.js';

/**
 * `cognito-vault drill` end to end, as a user runs it (the built CLI, a child process), against
 * moto behind the request guard, with the tag double (test/support/tag-double.ts: moto has no
 * TagResource) between the guard and moto: client → guard → tag double → moto.
 */
const REGION = 'us-east-1';
let emu: Emulator;
let tags: TagDouble;
let faulty: TagDouble;
let guard: ValidatingProxy;
let faultyGuard: ValidatingProxy;
let gw: CognitoGateway;
let raw: CognitoIdentityProviderClient;
let work: string;
let snapshot: string;
let sourcePoolId: string;

async function poolIds(): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const r = await raw.send(new ListUserPoolsCommand({ MaxResults: 60, NextToken: token }));
    for (const p of r.UserPools ?? []) if (p.Id) out.push(p.Id);
    token = r.NextToken;
  } while (token);
  return out.sort();
}

const env = (): NodeJS.ProcessEnv => cliEnv(work, guard.endpoint);
const drill = (args: string[], endpoint = guard.endpoint, timeoutMs = 120_000) =>
  startCli(['drill', '--endpoint-url', endpoint, '--region', REGION, ...args], {
    env: cliEnv(work, endpoint),
    timeoutMs,
  }).done;

beforeAll(async () => {
  useMotoEnv();
  work = await mkdtemp(path.join(tmpdir(), 'cv-drill-'));
  emu = await startEmulator({});
  tags = await startTagDouble(emu.endpoint);
  guard = await startValidatingProxy({ upstream: tags.endpoint });
  // The same moto, through a double that lands one attribute of one user wrong.
  let mutated = false;
  faulty = await startTagDouble(emu.endpoint, {
    mutate: (op, input) => {
      if (op !== 'AdminCreateUser' || mutated) return undefined;
      const attrs = (input.UserAttributes ?? []) as { Name: string; Value: string }[];
      const given = attrs.find((a) => a.Name === 'given_name');
      if (!given) return undefined;
      mutated = true;
      return {
        ...input,
        UserAttributes: attrs.map((a) => (a === given ? { ...a, Value: `${a.Value}x` } : a)),
      };
    },
  });
  faultyGuard = await startValidatingProxy({ upstream: faulty.endpoint });
  gw = CognitoGateway.create(
    { region: REGION, endpointUrl: guard.endpoint },
    { rate: { unlimited: true } },
  );
  raw = new CognitoIdentityProviderClient({ region: REGION, endpoint: guard.endpoint });

  // A varied pool: statuses, disabled users, groups and memberships, clients; then production
  // settings a scratch pool must not take: a trigger, deletion protection.
  const seeded = await seedPool(gw, { poolName: 'prod', users: 60, groups: 6, concurrency: 8 });
  sourcePoolId = seeded.userPoolId;
  const { UserPool: p } = await raw.send(new DescribeUserPoolCommand({ UserPoolId: sourcePoolId }));
  await raw.send(
    new UpdateUserPoolCommand({
      UserPoolId: sourcePoolId,
      AutoVerifiedAttributes: p?.AutoVerifiedAttributes,
      Policies: p?.Policies,
      DeletionProtection: 'ACTIVE',
      LambdaConfig: { PreSignUp: 'arn:aws:lambda:us-east-1:123456789012:function:prod-presignup' },
      UserPoolTags: p?.UserPoolTags,
    }),
  );
  const root = new LocalDirStorage(path.join(work, 'snapshots'));
  const b = await backupPool(gw, root, { userPoolId: sourcePoolId, includeSecrets: false });
  snapshot = path.join(work, 'snapshots', sourcePoolId, b.manifest.snapshotId);
}, 180_000);

afterAll(async () => {
  gw?.destroy();
  raw?.destroy();
  await faultyGuard?.stop();
  await guard?.stop();
  await faulty?.stop();
  await tags?.stop();
  await emu?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  const violations = [...(guard?.violations() ?? []), ...(faultyGuard?.violations() ?? [])];
  if (violations.length)
    throw new Error(
      `requests violated Cognito's model:\n${violations.map(formatViolation).join('\n')}`,
    );
});

describe('cognito-vault drill (moto)', () => {
  it('a drill of a varied pool passes, estimates the RTO and leaves the pool list as it was', async () => {
    const before = await poolIds();
    const r = await drill(['--from', snapshot, '--users', 'admin-create', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/cost: writes \d+ users into scratch pool cognito-vault-drill-/);
    const out = JSON.parse(r.stdout) as DrillResult;
    expect(out.passed).toBe(true);
    expect(out.checks.map((c: { name: string; passed: boolean }) => [c.name, c.passed])).toEqual([
      ['snapshot', true],
      ['restore', true],
      ['compare', true],
      ['recovery', true],
      ['cleanup', true],
    ]);
    expect(out.counts.users.created).toBe(60);
    expect(out.counts.groups).toBe(6);
    expect(out.cost).toEqual({ usersWritten: 60, mauBilled: 60 });
    expect(out.recovery?.users).toBe(60);
    const admin = out.rto?.paths.find((p: { path: string }) => p.path === 'admin-create');
    expect(admin?.totalSeconds).toBeGreaterThan(0);
    expect(
      out.rto?.paths.find((p: { path: string }) => p.path === 'import-job')?.totalSeconds,
    ).toBeNull();
    // No username or attribute value reaches the output.
    expect(r.stdout).not.toMatch(/José|Müller|@example/);
    expect(await poolIds()).toEqual(before);
    // The scratch pool carried the drill tag and a heartbeat; the heartbeat went through TagResource.
  }, 180_000);

  it('a sample drill restores exactly N users and estimates the RTO of all of them', async () => {
    const before = await poolIds();
    const r = await drill([
      '--from',
      snapshot,
      '--sample',
      '12',
      '--users',
      'admin-create',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as DrillResult;
    expect(out.sample).toMatchObject({ size: 12, users: 12, of: 60 });
    expect(out.counts.users.created).toBe(12);
    expect(out.rto?.users).toBe(60);
    expect(await poolIds()).toEqual(before);
  }, 180_000);

  it('a corrupted snapshot fails with exit 3 and leaves no scratch pool', async () => {
    const before = await poolIds();
    const bad = path.join(work, 'corrupt');
    cpSync(snapshot, bad, { recursive: true });
    const dir = path.join(bad, 'users');
    const part = readdirSync(dir).find((f) => f.endsWith('.gz'));
    if (!part) throw new Error('no users part');
    const bytes = readFileSync(path.join(dir, part));
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = (bytes[mid] ?? 0) ^ 0xff;
    writeFileSync(path.join(dir, part), bytes);
    const r = await drill(['--from', bad]);
    expect(r.code, r.stderr).toBe(3);
    expect(await poolIds()).toEqual(before);
  }, 120_000);

  it('a difference in the scratch pool exits 9 and leaves no scratch pool', async () => {
    const before = await poolIds();
    const r = await drill(
      ['--from', snapshot, '--users', 'admin-create', '--json'],
      faultyGuard.endpoint,
    );
    expect(r.code, r.stderr).toBe(9);
    const out = JSON.parse(r.stdout) as DrillResult;
    expect(out.checks.find((c: { name: string }) => c.name === 'compare')?.passed).toBe(false);
    expect(out.differences.total).toBeGreaterThanOrEqual(1);
    expect(out.cleanup.scratchDeleted).toBe(true);
    expect(await poolIds()).toEqual(before);
  }, 180_000);

  /** A drill creating users at 2/s, once its scratch pool exists (and a little after). */
  async function slowDrillUnderWay(
    before: string[],
  ): Promise<{ child: ReturnType<typeof startCli>; scratch: string | undefined }> {
    const child = startCli(
      [
        'drill',
        '--endpoint-url',
        guard.endpoint,
        '--region',
        REGION,
        '--from',
        snapshot,
        '--users',
        'admin-create',
        '--max-rps',
        'UserCreation=2',
      ],
      { env: env(), timeoutMs: 120_000 },
    );
    let scratch: string | undefined;
    for (let i = 0; i < 200 && !scratch; i++) {
      await new Promise((r) => setTimeout(r, 100));
      scratch = (await poolIds()).find((id) => !before.includes(id));
    }
    expect(scratch).toBeDefined();
    await new Promise((r) => setTimeout(r, 500));
    return { child, scratch };
  }

  it('kill -9 mid-drill: cleanup leaves a live pool alone, deletes it once stale; the pool list is as before', async () => {
    const before = await poolIds();
    const { child, scratch } = await slowDrillUnderWay(before);
    child.child.kill('SIGKILL');
    await child.done;
    const id = scratch as string;
    // Its heartbeat is fresh: a cleanup now must not take a running drill's pool.
    const early = await drill(['--cleanup', '--json']);
    expect(early.code, early.stderr).toBe(0);
    expect(JSON.parse(early.stdout)).toMatchObject({ deleted: [], alive: [id] });
    // Two minutes later (the heartbeat tag aged, as time would).
    const { UserPool } = await raw.send(new DescribeUserPoolCommand({ UserPoolId: id }));
    expect(UserPool?.UserPoolTags?.[DRILL_TAG]).toBeTruthy();
    await raw.send(
      new TagResourceCommand({
        ResourceArn: UserPool?.Arn,
        Tags: { [HEARTBEAT_TAG]: new Date(Date.now() - 3 * 60_000).toISOString() },
      }),
    );
    const late = await drill(['--cleanup', '--json']);
    expect(late.code, late.stderr).toBe(0);
    expect(JSON.parse(late.stdout)).toMatchObject({ deleted: [id] });
    expect(await poolIds()).toEqual(before);
  }, 180_000);

  it('never deletes a pool without the drill tag, even named like one and even with --force', async () => {
    const untagged = (
      await raw.send(new CreateUserPoolCommand({ PoolName: 'cognito-vault-drill-notmine' }))
    ).UserPool?.Id as string;
    // Created as a drill pool, then its drill tag removed (someone took it over).
    const retagged = (
      await raw.send(
        new CreateUserPoolCommand({
          PoolName: 'cognito-vault-drill-taken',
          UserPoolTags: { [DRILL_TAG]: 'x', [HEARTBEAT_TAG]: '2020-01-01T00:00:00.000Z' },
        }),
      )
    ).UserPool;
    await raw.send(new UntagResourceCommand({ ResourceArn: retagged?.Arn, TagKeys: [DRILL_TAG] }));
    const r = await drill(['--cleanup', '--force', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { deleted: string[]; untagged: string[] };
    expect(out.deleted).toEqual([]);
    expect(out.untagged.sort()).toEqual([untagged, retagged?.Id].sort());
    const ids = await poolIds();
    expect(ids).toContain(untagged);
    expect(ids).toContain(retagged?.Id);
    // And a drill's own start-up cleanup leaves them too.
    const d = await drill([
      '--from',
      snapshot,
      '--sample',
      '3',
      '--users',
      'admin-create',
      '--json',
    ]);
    expect(d.code, d.stderr).toBe(0);
    expect((await poolIds()).filter((i) => i === untagged || i === retagged?.Id)).toHaveLength(2);
  }, 180_000);

  it('SIGTERM mid-drill: exit 130 and the scratch pool deleted', async () => {
    const before = await poolIds();
    const { child } = await slowDrillUnderWay(before);
    child.child.kill('SIGTERM');
    const r = await child.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/scratch pool was deleted/);
    expect(await poolIds()).toEqual(before);
  }, 120_000);

  it('a running drill refreshes its heartbeat tag (TagResource) on its scratch pool', async () => {
    const reader = await SnapshotReader.open(new LocalDirStorage(snapshot));
    const beats: string[] = [];
    const calls = tags.tagCalls();
    const before = await poolIds();
    // Reads the scratch pool's heartbeat tag from the outside while the drill runs.
    const watcher = setInterval(() => {
      void poolIds()
        .then(async (ids) => {
          const id = ids.find((i) => !before.includes(i));
          if (!id) return;
          const d = await raw.send(new DescribeUserPoolCommand({ UserPoolId: id }));
          beats.push(d.UserPool?.UserPoolTags?.[HEARTBEAT_TAG] ?? '');
        })
        .catch(() => undefined);
    }, 100);
    const slow = CognitoGateway.create(
      { region: REGION, endpointUrl: guard.endpoint },
      { rate: { maxRps: { UserCreation: 10 } } },
    );
    try {
      const result = await runDrill(slow, reader, { usersPath: 'admin-create', heartbeatMs: 150 });
      expect(result.passed).toBe(true);
    } finally {
      clearInterval(watcher);
      slow.destroy();
    }
    expect(tags.tagCalls()).toBeGreaterThan(calls);
    expect(new Set(beats.filter(Boolean)).size).toBeGreaterThan(1);
  }, 120_000);

  it('the Lambda entry: newest snapshot in S3 → drill → metrics; at its deadline it stops and deletes the scratch pool', async () => {
    const s3 = new S3Client({ region: REGION, endpoint: guard.endpoint, forcePathStyle: true });
    const saved = { ...process.env };
    const lines: string[] = [];
    const spy = vi
      .spyOn(console, 'log')
      .mockImplementation((l: unknown) => void lines.push(String(l)));
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'vault' }));
      await backupPool(gw, new S3Storage({ client: s3, bucket: 'vault', prefix: 'lambda' }), {
        userPoolId: sourcePoolId,
      });
      Object.assign(process.env, {
        COGNITO_VAULT_TO: 's3://vault/lambda',
        COGNITO_VAULT_ENDPOINT_URL: guard.endpoint,
        COGNITO_VAULT_DRILL_SAMPLE: '10',
        COGNITO_VAULT_NAME: 'v1',
        AWS_REGION: REGION,
      });
      const before = await poolIds();
      const summary = await lambdaDrill(
        { userPoolId: sourcePoolId },
        { getRemainingTimeInMillis: () => 900_000 },
      );
      expect(summary).toMatchObject({
        userPoolId: sourcePoolId,
        passed: true,
        exitCode: 0,
        sampledUsers: 10,
        users: 60,
        scratchDeleted: true,
      });
      expect(summary.estimatedRestoreSeconds).toBeGreaterThan(0);
      const metric = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((m) => '_aws' in m);
      expect(metric).toMatchObject({ Vault: 'v1', UserPoolId: sourcePoolId, DrillPassed: 1 });
      expect(metric?.EstimatedRestoreSeconds).toBeGreaterThan(0);
      expect(await poolIds()).toEqual(before);

      // 61 s left of a 60 s margin: the deadline fires a second in, mid-drill.
      lines.length = 0;
      delete process.env.COGNITO_VAULT_DRILL_SAMPLE;
      await expect(
        lambdaDrill({ userPoolId: sourcePoolId }, { getRemainingTimeInMillis: () => 61_000 }),
      ).rejects.toMatchObject({ code: 'INTERRUPTED' });
      const failed = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((m) => '_aws' in m);
      expect(failed).toMatchObject({ DrillPassed: 0 });
      expect(await poolIds()).toEqual(before);
    } finally {
      spy.mockRestore();
      vi.restoreAllMocks();
      process.env = saved;
      s3.destroy();
    }
  }, 120_000);

  it('refuses to start near the account user-pool limit (exit 4), before creating anything', async () => {
    const before = await poolIds();
    const r = await drill(['--from', snapshot, '--pool-limit', String(before.length + 5)]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/limit/);
    expect(await poolIds()).toEqual(before);
  }, 60_000);
});
