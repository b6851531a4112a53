import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { App, CfnParameter, DefaultStackSynthesizer, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoVault, type CognitoVaultProps, RETRIED_ERRORS } from '../../src/cdk/index.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { S3Storage } from '../../src/storage/s3.js';
import { REGION } from '../support/fixture.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { freePort } from '../support/moto.js';
import {
  type CfnTemplate,
  type Deployment,
  type ExecutionOutcome,
  type Invocation,
  type SfnEmulator,
  startSfnEmulator,
} from '../support/sfn-emulator.js';

/**
 * The state machine the construct synthesizes, EXECUTED: moto's Step Functions interpreter runs
 * the template's definition, and every Lambda invocation runs the bundle the template deploys
 * (dist/lambda-bundle zipped, the CodeBucket/CodeKey upload) on Node.js
 * (test/support/sfn-emulator.ts). The tests judge the run by what an operator sees: the
 * execution's status and error, the objects in the bucket, the events the state machine handed
 * each function — not by calling our handlers in the order we expect.
 */

/** The errors BackupUnit retries: pinned here, not read from src (a changed list must fail). */
const RETRIED = ['ServiceUnavailableError', 'StorageError', 'InterruptedError'];
const OTHER_REGION = 'eu-west-1';
const DEADLINE_REGION = 'eu-central-1';
const MISSING_POOL = 'us-east-1_doesNotExist1';
/** The deadline test's UserList ceiling (COGNITO_VAULT_MAX_RPS) and invocation timeout. */
const USER_LIST_RPS = '0.8';
const TIMEOUT_S = 8;

let emu: SfnEmulator;
let poolA: string;
let poolB: string;
let poolC: string;
let poolBig: string;

beforeAll(async () => {
  emu = await startSfnEmulator('cv-sfn-exec-');
  const gwFor = (region: string) =>
    CognitoGateway.create(
      { region, endpointUrl: emu.fixture.moto.endpoint },
      { rate: { unlimited: true } },
    );
  poolA = (await seedPool(emu.fixture.gw, { users: 30, groups: 2, poolName: 'sfn-a' })).userPoolId;
  poolB = (await seedPool(emu.fixture.gw, { users: 20, groups: 2, poolName: 'sfn-b' })).userPoolId;
  const west = gwFor(OTHER_REGION);
  const central = gwFor(DEADLINE_REGION);
  try {
    poolC = (await seedPool(west, { users: 15, groups: 1, poolName: 'sfn-c' })).userPoolId;
    poolBig = (await seedPool(central, { users: 240, groups: 3, poolName: 'sfn-big' })).userPoolId;
  } finally {
    west.destroy();
    central.destroy();
  }
}, 300_000);

afterAll(async () => {
  await emu?.stop();
});

/** A stack like infra/app.mjs's published one: the bundle from CodeBucket/CodeKey. */
function synthesize(
  props: Omit<CognitoVaultProps, 'code'> | ((stack: Stack) => Omit<CognitoVaultProps, 'code'>),
): CfnTemplate {
  const app = new App();
  const stack = new Stack(app, 'Executed', {
    synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
  });
  if (typeof props === 'function') props = props(stack);
  const codeBucket = new CfnParameter(stack, 'CodeBucket');
  const codeKey = new CfnParameter(stack, 'CodeKey');
  new CognitoVault(stack, 'Vault', {
    ...props,
    code: lambda.Code.fromBucket(
      s3.Bucket.fromBucketName(stack, 'CodeBucketRef', codeBucket.valueAsString),
      codeKey.valueAsString,
    ),
  });
  return app.synth().getStackByName('Executed').template as CfnTemplate;
}

const published = async (): Promise<CfnTemplate> =>
  JSON.parse(await readFile('infra/template/cognito-vault.template.json', 'utf8')) as CfnTemplate;

const deploy = (
  template: CfnTemplate,
  name: string,
  opts: Omit<Parameters<SfnEmulator['deploy']>[1], 'name'> = {},
): Promise<Deployment> =>
  emu.deploy(template, {
    ...opts,
    name,
    parameters: { CodeBucket: emu.code.bucket, CodeKey: emu.code.key, ...opts.parameters },
  });

interface UnitOutcome {
  userPoolId: string;
  ok: boolean;
  snapshotId?: string;
  pruneErrors?: unknown;
  error?: string;
  cause?: string;
}

const ofHandler = (r: ExecutionOutcome, handler: string): Invocation[] =>
  r.invocations.filter((i) => i.handler === handler);

/** What the state machine handed the Report function: per group, per unit. */
function outcomes(r: ExecutionOutcome): UnitOutcome[] {
  const [report] = ofHandler(r, 'index.report');
  expect(report, 'the Report function was invoked').toBeDefined();
  return ((report!.event as { results: UnitOutcome[][] }).results ?? []).flat();
}

/** Complete snapshots (manifest written) in a deployment's bucket, read with the raw S3 API. */
async function manifests(d: Deployment): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await emu.s3.send(
      new ListObjectsV2Command({ Bucket: d.bucket, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token);
  return keys
    .filter((k) => k.endsWith('/manifest.json'))
    .map((k) => k.replace(/^snapshots\//, '').replace(/\/manifest\.json$/, ''))
    .sort();
}

/** Every record of a snapshot as sorted JSON strings per kind (users, memberships, settings). */
async function contents(reader: SnapshotReader): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const kind of ['users', 'memberships'] as const) {
    const rows: string[] = [];
    for await (const r of reader.records(kind, z.unknown())) rows.push(JSON.stringify(r));
    out[kind] = rows.sort();
  }
  for (const kind of ['pool', 'clients', 'groups', 'identityProviders'] as const) {
    const v = await reader.readJson(kind, z.unknown());
    out[kind] = (Array.isArray(v) ? v : [v]).map((x) => JSON.stringify(x)).sort();
  }
  return out;
}

async function verify(d: Deployment, path: string): Promise<number> {
  const reader = await SnapshotReader.open(
    new S3Storage({ client: emu.s3, bucket: d.bucket, prefix: `snapshots/${path}` }),
  );
  const v = await reader.verify();
  expect(v.ok, v.problems.join('; ')).toBe(true);
  return reader.manifest.counts.users;
}

type State = Record<string, unknown> & { Type: string };
function statesOf(asl: Record<string, unknown>): Record<string, State> {
  const out: Record<string, State> = {};
  const walk = (s: Record<string, State>): void => {
    for (const [name, st] of Object.entries(s)) {
      out[name] = st;
      const proc = (st.ItemProcessor ?? st.Iterator) as
        { States: Record<string, State> } | undefined;
      if (proc) walk(proc.States);
    }
  };
  walk(asl.States as Record<string, State>);
  return out;
}

/** No Task or Pass state with a Parameters that is not a JSON object (aws-cdk issue 34260). */
function expectObjectParameters(asl: Record<string, unknown>): void {
  for (const [name, st] of Object.entries(statesOf(asl))) {
    if (!('Parameters' in st)) continue;
    const p = st.Parameters;
    expect(
      typeof p === 'object' && p !== null && !Array.isArray(p),
      `${name}.Parameters must be a JSON object, is ${JSON.stringify(p)}`,
    ).toBe(true);
  }
}

/** Per unit, the time from its first BackupUnit to its PruneUnit's end (or last invocation). */
function unitSpans(
  r: ExecutionOutcome,
): { pool: string; region: string; from: number; to: number }[] {
  const spans = new Map<string, { pool: string; region: string; from: number; to: number }>();
  for (const i of r.invocations) {
    const unit = (i.event as { unit?: { userPoolId: string; region: string } }).unit;
    if (!unit) continue;
    const s = spans.get(unit.userPoolId) ?? {
      pool: unit.userPoolId,
      region: unit.region,
      from: i.start,
      to: i.end,
    };
    s.from = Math.min(s.from, i.start);
    s.to = Math.max(s.to, i.end);
    spans.set(unit.userPoolId, s);
  }
  return [...spans.values()];
}
const overlap = (a: { from: number; to: number }, b: { from: number; to: number }): boolean =>
  a.from < b.to && b.from < a.to;

describe('the definition', () => {
  it('has no Task with a string Parameters, and BackupUnit retries exactly the pinned errors', async () => {
    expect(RETRIED_ERRORS).toEqual(RETRIED);
    for (const t of [
      await published(),
      synthesize({ userPoolIds: [poolA], retention: { keepLast: 1 } }),
      synthesize({ userPoolIds: '*', regions: [REGION, OTHER_REGION], distributedMap: true }),
    ]) {
      const d = await deploy(t, `def${Math.random().toString(36).slice(2, 8)}`);
      expectObjectParameters(d.definition);
      const backup = statesOf(d.definition).BackupUnit as unknown as {
        Retry: { ErrorEquals: string[] }[];
      };
      expect(backup.Retry.map((r) => r.ErrorEquals)).toContainEqual(RETRIED);
    }
  });
});

describe('the bundle the template deploys', () => {
  it('throws errors named by their classes (the names Retry and Catch match)', async () => {
    const bundle = (await import(
      pathToFileURL(path.resolve('dist/lambda-bundle/index.mjs')).href
    )) as Record<string, (event: unknown, context?: unknown) => Promise<unknown>>;
    const saved = { ...process.env };
    const nameOf = async (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'resolved',
        (e: Error) => `${e.name}/${e.constructor.name}`,
      );
    const unit = { userPoolId: poolA, region: REGION };
    try {
      Object.assign(process.env, {
        COGNITO_VAULT_TO: 's3://cv-no-such-bucket/x',
        COGNITO_VAULT_RESUME_MAX_AGE: 'off',
        COGNITO_VAULT_DEADLINE_MARGIN_MS: '0',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      });
      const quiet = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      const quietErr = vi.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        expect(await nameOf(bundle.backupUnit!({ unit: {} }))).toBe('UsageError/UsageError');
        expect(
          await nameOf(bundle.report!({ results: [[{ userPoolId: poolA, ok: false }]] })),
        ).toBe('VaultError/VaultError');
        // Stopped at once by its deadline, before the snapshot had an id.
        process.env.COGNITO_VAULT_ENDPOINT_URL = emu.fixture.moto.endpoint;
        expect(
          await nameOf(bundle.backupUnit!({ unit }, { getRemainingTimeInMillis: () => 0 })),
        ).toBe('InterruptedError/InterruptedError');
        // No such bucket.
        expect(await nameOf(bundle.backupUnit!({ unit }))).toBe('StorageError/StorageError');
        // Nothing listening: the gateway gives up after its retries.
        process.env.COGNITO_VAULT_ENDPOINT_URL = `http://127.0.0.1:${await freePort()}`;
        expect(await nameOf(bundle.backupUnit!({ unit }))).toBe(
          'ServiceUnavailableError/ServiceUnavailableError',
        );
      } finally {
        quiet.mockRestore();
        quietErr.mockRestore();
      }
    } finally {
      process.env = saved;
    }
  });
});

describe('the published template, executed', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await deploy(await published(), 'pub');
  });

  it('a nightly run backs up every pool of the Region, prunes each and reports success', async () => {
    const r = await emu.execute(d, {});
    expect(r.error ?? r.status, r.cause).toBe('SUCCEEDED');
    expect(r.output).toEqual({ units: 2, succeeded: 2, failed: [] });
    // The functions the template names, each with the handler it names.
    expect(ofHandler(r, 'index.plan')).toHaveLength(1);
    expect(ofHandler(r, 'index.prune')).toHaveLength(2);
    const units = outcomes(r);
    expect(units.map((u) => u.userPoolId).sort()).toEqual([poolA, poolB].sort());
    const backups = ofHandler(r, 'index.backupUnit');
    for (const u of units) {
      // UnitSucceeded takes the id the backup returned, and that snapshot is committed.
      const done = backups.find(
        (b) => (b.result as { unit: { userPoolId: string } }).unit.userPoolId === u.userPoolId,
      )?.result as { snapshotId: string; done: boolean };
      expect(done.done).toBe(true);
      expect(u).toEqual({
        userPoolId: u.userPoolId,
        ok: true,
        snapshotId: done.snapshotId,
        pruneErrors: 0,
      });
    }
    expect(await manifests(d)).toEqual(units.map((u) => `${u.userPoolId}/${u.snapshotId}`).sort());
    expect(
      await verify(d, `${poolA}/${units.find((u) => u.userPoolId === poolA)?.snapshotId}`),
    ).toBe(30);
    // Logs: the completion metric per snapshot, never a username or an attribute value.
    const logs = r.invocations.flatMap((i) => i.logs).join('\n');
    expect(logs.match(/"SnapshotsCompleted":1/g)).toHaveLength(2);
    expect(logs).not.toMatch(/@example\.|"Username"|"email"/i);
  });
});

describe('the published template with its parameters, executed', () => {
  it('UserPoolIds and KeepLast reach the functions (RateShare 1 accepted): one pool, pruned to its newest', async () => {
    const d = await deploy(await published(), 'params', {
      parameters: {
        UserPoolIds: poolB,
        KeepLast: '1',
        KeepDaily: '0',
        KeepMonthly: '0',
        RateShare: '1',
      },
    });
    const first = await emu.execute(d, {});
    expect(first.error ?? first.status, first.cause).toBe('SUCCEEDED');
    expect(outcomes(first).map((u) => u.userPoolId)).toEqual([poolB]);
    const second = await emu.execute(d, {});
    expect(second.error ?? second.status, second.cause).toBe('SUCCEEDED');
    const [unit] = outcomes(second);
    // KeepLast 1: the second run's snapshot is all that is left.
    expect(await manifests(d)).toEqual([`${poolB}/${unit?.snapshotId}`]);
    expect(
      ofHandler(second, 'index.prune').map((i) => (i.result as { pruned: string[] }).pruned.length),
    ).toEqual([1]);
  });
});

describe('executions of synthesized stacks', () => {
  it('a second run prunes the first run’s snapshots (keepLast 1), reporting no prune errors', async () => {
    const d = await deploy(
      synthesize({ userPoolIds: [poolA, poolB], retention: { keepLast: 1 } }),
      'prune',
    );
    const first = await emu.execute(d, {});
    expect(first.status, first.cause).toBe('SUCCEEDED');
    const second = await emu.execute(d, {});
    expect(second.status, second.cause).toBe('SUCCEEDED');
    const firstIds = outcomes(first).map((u) => `${u.userPoolId}/${u.snapshotId}`);
    const secondUnits = outcomes(second);
    const secondIds = secondUnits.map((u) => `${u.userPoolId}/${u.snapshotId}`);
    expect(new Set([...firstIds, ...secondIds]).size).toBe(4);
    // Only the second run's snapshots are left; each prune deleted one and failed at nothing.
    expect(await manifests(d)).toEqual([...secondIds].sort());
    const pruned = ofHandler(second, 'index.prune').map(
      (i) => (i.result as { pruned: string[] }).pruned,
    );
    expect(pruned.flat()).toHaveLength(2);
    for (const u of secondUnits) expect(u.pruneErrors).toBe(0);
  });

  it('a failing pool fails its unit only; the report fails the execution naming it', async () => {
    const d = await deploy(synthesize({ userPoolIds: [poolA, MISSING_POOL] }), 'failing');
    const r = await emu.execute(d, {});
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('VaultError');
    expect(r.cause).toContain(`1 of 2 pool backups failed: ${MISSING_POOL}`);
    const units = outcomes(r);
    expect(units.find((u) => u.userPoolId === poolA)).toMatchObject({ ok: true, pruneErrors: 0 });
    const failed = units.find((u) => u.userPoolId === MISSING_POOL);
    // UnitFailed: Step Functions' error name is the class the bundle threw, the cause its
    // error document.
    const thrown = ofHandler(r, 'index.backupUnit').find(
      (i) => (i.event as { unit: { userPoolId: string } }).unit.userPoolId === MISSING_POOL,
    )?.error;
    expect(thrown?.errorType).toBe('UsageError');
    expect(thrown?.errorMessage).toMatch(/does not exist/);
    expect(failed).toMatchObject({ ok: false, error: 'UsageError' });
    expect(JSON.parse(failed?.cause ?? '{}')).toMatchObject({
      errorType: 'UsageError',
      errorMessage: thrown?.errorMessage,
    });
    // Not retried: one invocation for the missing pool.
    expect(
      ofHandler(r, 'index.backupUnit').filter(
        (i) => (i.event as { unit: { userPoolId: string } }).unit.userPoolId === MISSING_POOL,
      ),
    ).toHaveLength(1);
  });

  it('retries StorageError (the pinned list) and then records the unit as failed', async () => {
    const d = await deploy(
      synthesize((stack) => ({
        userPoolIds: [poolB],
        bucket: s3.Bucket.fromBucketName(stack, 'Missing', 'cv-no-such-bucket'),
      })),
      'retry',
      {
        // Only the waits change: 1 s instead of 30 s between the three retries.
        editDefinition: (asl) => {
          const backup = statesOf(asl).BackupUnit as unknown as {
            Retry: { IntervalSeconds: number }[];
          };
          for (const r of backup.Retry) r.IntervalSeconds = 1;
        },
      },
    );
    const r = await emu.execute(d, {});
    expect(r.status).toBe('FAILED');
    const tries = ofHandler(r, 'index.backupUnit');
    expect(tries.map((t) => t.error?.errorType)).toEqual([
      'StorageError',
      'StorageError',
      'StorageError',
      'StorageError',
    ]);
    expect(outcomes(r)).toEqual([
      expect.objectContaining({ userPoolId: poolB, ok: false, error: 'StorageError' }),
    ]);
  });

  it('continues a unit stopped at its deadline on the same snapshot until it is done', async () => {
    const d = await deploy(synthesize({ userPoolIds: [poolBig] }), 'deadline', {
      // Short deadlines: BackupUnit's first two invocations get 8 s instead of 15 minutes, the
      // unit stops 3 s before (ListUsers at 0.8 requests/s cannot list 240 users in the rest,
      // but stores some pages: an invocation that stores nothing fails the unit); the third
      // gets 60 s.
      timeouts: { 'index.backupUnit': [TIMEOUT_S, TIMEOUT_S, 60] },
      environment: {
        COGNITO_VAULT_DEADLINE_MARGIN_MS: '3000',
        COGNITO_VAULT_MAX_RPS: `UserList=${USER_LIST_RPS}`,
      },
    });
    const r = await emu.execute(d, {}, { timeoutMs: 300_000 });
    expect(r.status, r.cause).toBe('SUCCEEDED');
    const runs = ofHandler(r, 'index.backupUnit');
    expect(runs.map((i) => i.error?.errorMessage ?? 'answered')).toEqual([
      'answered',
      'answered',
      'answered',
    ]);
    expect(runs.map((i) => i.timeoutMs)).toEqual([TIMEOUT_S * 1000, TIMEOUT_S * 1000, 60_000]);
    const results = runs.map(
      (i) => i.result as { done: boolean; snapshotId: string; invocations: number },
    );
    expect(results.map((x) => [x.done, x.invocations])).toEqual([
      [false, 1],
      [false, 2],
      [true, 3],
    ]);
    // Each continuation was handed the snapshot and count the previous invocation returned.
    runs.slice(1).forEach((i, n) => {
      expect(i.event).toMatchObject({
        snapshotId: results[n]?.snapshotId,
        invocations: results[n]?.invocations,
      });
    });
    expect(new Set(results.map((x) => x.snapshotId)).size).toBe(1);
    const [only] = await manifests(d);
    expect(only).toBe(`${poolBig}/${results[0]?.snapshotId}`);
    expect(await verify(d, only!)).toBe(240);
  }, 300_000);

  it('a pool that needs many short invocations completes through the state machine and equals an uninterrupted backup', async () => {
    // Every BackupUnit invocation gets the same short deadline — 8 s instead of 15 minutes, the
    // unit stopping 3 s before — and UserList is paced to 0.8 requests/s, so no invocation makes
    // more than about four UserList calls: the pool's 16 ListUsers shards and 3 groups of two
    // ListUsersInGroup pages each (22 calls) need ≥ 5 invocations. Each continues the snapshot
    // from what the previous one stored: page records of the users shards, the resources unit,
    // a memberships segment per group listed (issue 15 item 2). Measured: 7 invocations; before
    // the memberships segments, 17 invocations each stored a little and the 18th stored nothing
    // (the groups' pages interleaved, none ended inside one invocation).
    const d = await deploy(synthesize({ userPoolIds: [poolBig] }), 'many', {
      timeouts: { 'index.backupUnit': TIMEOUT_S },
      environment: {
        COGNITO_VAULT_DEADLINE_MARGIN_MS: '3000',
        COGNITO_VAULT_MAX_RPS: `UserList=${USER_LIST_RPS}`,
      },
    });
    const started = Date.now();
    const r = await emu.execute(d, {}, { timeoutMs: 240_000 });
    const wall = Date.now() - started;
    expect(r.error ?? r.status, r.cause).toBe('SUCCEEDED');
    expect(r.output).toEqual({ units: 1, succeeded: 1, failed: [] });
    const runs = ofHandler(r, 'index.backupUnit');
    // Every invocation answered (none failed, none timed out) with the same short deadline.
    expect(runs.map((i) => i.error?.errorType ?? 'answered')).toEqual(runs.map(() => 'answered'));
    expect(new Set(runs.map((i) => i.timeoutMs))).toEqual(new Set([TIMEOUT_S * 1000]));
    const results = runs.map(
      (i) => i.result as { done: boolean; snapshotId: string; invocations: number },
    );
    expect(runs.length).toBeGreaterThanOrEqual(5);
    // Under the construct's default maxInvocationsPerUnit (24): not ended as UnitTooLong.
    expect(runs.length).toBeLessThan(24);
    expect(results.map((x) => [x.done, x.invocations])).toEqual(
      results.map((_, n) => [n === results.length - 1, n + 1]),
    );
    // Each continuation was handed the snapshot and count the previous invocation returned,
    // and each invocation stored progress: a stopped one logged it made some (an invocation that
    // stored nothing throws NoProgressError, which fails the unit instead of continuing it).
    runs.slice(1).forEach((i, n) => {
      expect(i.event).toMatchObject({
        snapshotId: results[n]?.snapshotId,
        invocations: results[n]?.invocations,
      });
    });
    expect(new Set(results.map((x) => x.snapshotId)).size).toBe(1);
    const snapshotId = results[0]!.snapshotId;
    const [only] = await manifests(d);
    expect(only).toBe(`${poolBig}/${snapshotId}`);
    expect(await verify(d, only!)).toBe(240);
    // Resumed shards: the manifest counts the shards later invocations continued from a page
    // record rather than listing them again.
    const resumed = await SnapshotReader.open(
      new S3Storage({ client: emu.s3, bucket: d.bucket, prefix: `snapshots/${only}` }),
    );
    // The same records as one uninterrupted backup of the pool (no deadline, no pacing).
    const gw = CognitoGateway.create(
      { region: DEADLINE_REGION, endpointUrl: emu.fixture.moto.endpoint },
      { rate: { unlimited: true } },
    );
    let reference: SnapshotReader;
    try {
      const ref = await backupPool(
        gw,
        new S3Storage({ client: emu.s3, bucket: d.bucket, prefix: 'reference' }),
        { userPoolId: poolBig, region: DEADLINE_REGION },
      );
      reference = await SnapshotReader.open(
        new S3Storage({
          client: emu.s3,
          bucket: d.bucket,
          prefix: `reference/${poolBig}/${ref.snapshotId}`,
        }),
      );
    } finally {
      gw.destroy();
    }
    const mine = await contents(resumed);
    expect(mine.users).toHaveLength(240);
    expect(mine).toEqual(await contents(reference));
    console.log(
      `sfn deadline continuation: ${runs.length} invocations of ${TIMEOUT_S} s, ${Math.round(wall / 100) / 10} s wall`,
    );
  }, 300_000);

  it('an invocation that stores nothing before its deadline fails its unit (NoProgressError → UnitFailed)', async () => {
    // Cognito does not answer ListUsers or ListUsersInGroup (a proxy holds them) and
    // UserPoolResourceRead runs at 1 % of its quota (one request per 5 s): the first invocation
    // has its snapshot (DescribeUserPool answers) but cannot list a page or read the pool's
    // settings in the 2 s before its deadline, so it stores nothing.
    const proxy = await startFaultProxy({
      target: emu.fixture.moto.endpoint,
      dropResponses: {},
      hold: ['ListUsers', 'ListUsersInGroup'],
    });
    try {
      const d = await deploy(
        synthesize({ userPoolIds: [poolBig], rateShare: 0.01 }),
        'noprogress',
        {
          timeouts: { 'index.backupUnit': 5 },
          environment: {
            COGNITO_VAULT_DEADLINE_MARGIN_MS: '3000',
            COGNITO_VAULT_ENDPOINT_URL: proxy.endpoint,
          },
        },
      );
      const r = await emu.execute(d, {});
      expect(r.status).toBe('FAILED');
      const runs = ofHandler(r, 'index.backupUnit');
      // Not retried, not continued: one invocation, its error the unit's.
      expect(runs.map((i) => i.error?.errorType)).toEqual(['NoProgressError']);
      expect(outcomes(r)).toEqual([
        expect.objectContaining({ userPoolId: poolBig, ok: false, error: 'NoProgressError' }),
      ]);
      expect(proxy.calls.has('ListUsers')).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('a unit still not done after maxInvocationsPerUnit ends as UnitTooLong', async () => {
    const d = await deploy(
      synthesize({ userPoolIds: [poolBig], maxInvocationsPerUnit: 1 }),
      'toolong',
      {
        // Long enough to store some pages (else NoProgressError), too short to finish.
        timeouts: { 'index.backupUnit': [TIMEOUT_S] },
        environment: {
          COGNITO_VAULT_DEADLINE_MARGIN_MS: '3000',
          COGNITO_VAULT_MAX_RPS: `UserList=${USER_LIST_RPS}`,
        },
      },
    );
    const r = await emu.execute(d, {});
    expect(r.status).toBe('FAILED');
    expect(ofHandler(r, 'index.backupUnit')).toHaveLength(1);
    expect(outcomes(r)).toEqual([
      {
        userPoolId: poolBig,
        ok: false,
        error: 'MaxInvocationsExceeded',
        cause: 'not complete after 1 invocations',
      },
    ]);
  });

  it('two Regions: a group each, run side by side; the units of one group one at a time', async () => {
    const d = await deploy(
      synthesize({ userPoolIds: '*', regions: [REGION, OTHER_REGION] }),
      'regions',
    );
    const r = await emu.execute(d, {});
    expect(r.status, r.cause).toBe('SUCCEEDED');
    const plan = ofHandler(r, 'index.plan')[0]?.result as {
      groups: { group: string; units: { userPoolId: string }[] }[];
    };
    expect(plan.groups.map((g) => g.group).sort()).toEqual(
      [`self/${REGION}`, `self/${OTHER_REGION}`].sort(),
    );
    const units = outcomes(r);
    expect(units.map((u) => [u.userPoolId, u.ok]).sort()).toEqual(
      [
        [poolA, true],
        [poolB, true],
        [poolC, true],
      ].sort(),
    );
    expect((await manifests(d)).map((m) => m.split('/')[0]).sort()).toEqual(
      [poolA, poolB, poolC].sort(),
    );
    expect(
      await verify(d, `${poolC}/${units.find((u) => u.userPoolId === poolC)?.snapshotId}`),
    ).toBe(15);
    // Measured from the invocations' clocks: within a Region never two units at once (one
    // quota), across Regions at the same time.
    const spans = unitSpans(r);
    const east = spans.filter((s) => s.region === REGION);
    const west = spans.filter((s) => s.region === OTHER_REGION);
    expect(east).toHaveLength(2);
    expect(overlap(east[0]!, east[1]!)).toBe(false);
    expect(east.some((e) => west.some((w) => overlap(e, w)))).toBe(true);
  });
});
