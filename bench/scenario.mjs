// One benchmark scenario, run in its own process so that its peak RSS is its own:
//   node --expose-gc bench/scenario.mjs '<json>'
// Prints one line `RESULT <json>` on stdout. Imports the compiled tool from ../dist.

import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import { backupPool } from '../dist/backup/engine.js';
import { CognitoGateway } from '../dist/cognito/gateway.js';
import { SnapshotReader } from '../dist/snapshot/reader.js';
import { SnapshotWriter } from '../dist/snapshot/writer.js';
import { PART_DIRS, UserRecord, partPath } from '../dist/snapshot/format.js';
import { LocalDirStorage } from '../dist/storage/local.js';
import { AgeKeyring, AgeRecipients } from '../dist/snapshot/age.js';

const REGION = 'us-east-1';
const args = JSON.parse(process.argv[2] ?? '{}');

globalThis.gc?.();
let sampledPeak = process.memoryUsage.rss();
const sampler = setInterval(() => {
  sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
}, 50);

async function backup() {
  const gw = CognitoGateway.create({ region: REGION, endpointUrl: args.endpoint });
  const root = new LocalDirStorage(args.dir);
  try {
    const t0 = performance.now();
    const r = await backupPool(gw, root, { userPoolId: args.poolId, ...args.backupOptions });
    return {
      wallMs: performance.now() - t0,
      users: r.users,
      groups: r.groups,
      memberships: r.memberships,
      snapshot: r.snapshot,
      rates: r.rates,
    };
  } finally {
    gw.destroy();
  }
}

/** The same users-only backup by cognito-backup-restore 1.3.2 (aws-sdk v2, one ListUsers chain). */
async function cbrBackup() {
  // Installed in bench/peer (its own package.json and lockfile) by bench/run.mjs on demand.
  const require = createRequire(new URL('./peer/package.json', import.meta.url));
  const cbrPath = require.resolve('cognito-backup-restore');
  const { backupUsers } = require(cbrPath);
  const AWS = createRequire(cbrPath)('aws-sdk');
  const cognito = new AWS.CognitoIdentityServiceProvider({
    region: REGION,
    endpoint: args.endpoint,
  });
  const t0 = performance.now();
  await backupUsers(cognito, args.poolId, args.dir, 0);
  const wallMs = performance.now() - t0;
  // Its file is finished asynchronously after the promise resolves: wait for a parseable file.
  const file = path.join(args.dir, `${args.poolId}.json`);
  let users;
  for (let i = 0; i < 100 && users === undefined; i++) {
    try {
      users = JSON.parse(await readFile(file, 'utf8')).length;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { wallMs, users };
}

async function restore() {
  let mod;
  try {
    mod = await import('../dist/restore/index.js');
  } catch (e) {
    return { unavailable: `restore engine not available (${e.message.split('\n')[0]})` };
  }
  if (typeof mod.restoreSnapshot !== 'function') {
    return { unavailable: 'restore engine not available (no restoreSnapshot export)' };
  }
  const gw = CognitoGateway.create({ region: REGION, endpointUrl: args.endpoint });
  try {
    const reader = await SnapshotReader.open(new LocalDirStorage(args.snapshotDir));
    const t0 = performance.now();
    const r = await mod.restoreSnapshot(gw, reader, {
      target: { createPool: args.poolName ?? 'bench-restored' },
      stateDir: args.stateDir,
    });
    return {
      wallMs: performance.now() - t0,
      users: r.users?.created,
      usersResult: r.users,
      memberships: r.memberships,
      disabled: r.disabled,
      groups: r.groups,
      userPoolId: r.userPoolId,
      failed: r.failedUsers?.length,
      rates: r.rates,
    };
  } finally {
    gw.destroy();
  }
}

const DATES = Array.from({ length: 1000 }, (_, k) =>
  new Date(Date.UTC(2024, 0, 1) + k * 86_400_000).toISOString(),
);
const TIERS = ['gold', 'silver', 'bronze'];

function syntheticUser(i) {
  const created = DATES[i % 1000];
  return {
    Username: `user-${i}`,
    Attributes: [
      { Name: 'sub', Value: `${((i * 2654435761) >>> 0).toString(16)}-1111-4222-8333-${i}` },
      { Name: 'email', Value: `user${i}@example.com` },
      { Name: 'email_verified', Value: 'true' },
      { Name: 'given_name', Value: `Given${i % 997}` },
      { Name: 'family_name', Value: `Family${i % 991}` },
      { Name: 'custom:tier', Value: TIERS[i % 3] },
    ],
    UserCreateDate: created,
    UserLastModifiedDate: created,
    Enabled: i % 13 !== 5,
    UserStatus: 'CONFIRMED',
    MFAOptions: [],
  };
}

/** Local overhead: encode + decode a snapshot of N synthetic users, no API. */
async function local() {
  const n = args.users;
  const parts = args.parts ?? 16;
  // The generator alone, to tell its cost from the tool's.
  const tg = performance.now();
  let generated = 0;
  for (let i = 0; i < n; i++) generated += syntheticUser(i).Attributes.length > 0 ? 1 : 0;
  const generateMs = performance.now() - tg;
  const storage = new LocalDirStorage(args.dir);
  // args.identity (an AGE-SECRET-KEY-1…): the same with age encryption to its recipient.
  const keyring = args.identity ? await AgeKeyring.fromKeys([args.identity], 'bench') : undefined;
  const writer = new SnapshotWriter(
    storage,
    undefined,
    keyring ? new AgeRecipients(keyring.recipients) : undefined,
  );
  // CPU time too: on a shared, loaded machine it is steadier than wall time.
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const c0 = cpu();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parts }, (_, p) =>
      writer.writeJsonLines(
        partPath(PART_DIRS.users, p),
        'users',
        (function* () {
          for (let i = p; i < n; i += parts) yield syntheticUser(i);
        })(),
      ),
    ),
  );
  const now = new Date().toISOString();
  await writer.commit({
    tool: { name: 'bench', version: '0' },
    snapshotId: 'bench',
    userPool: { id: 'us-east-1_bench', name: 'bench', region: REGION },
    startedAt: now,
    finishedAt: now,
    counts: {
      users: n,
      groups: 0,
      memberships: 0,
      clients: 0,
      identityProviders: 0,
      resourceServers: 0,
    },
    options: { includeSecrets: false, sharding: { mode: 'sub-prefix', shards: parts } },
    warnings: [],
  });
  const encodeMs = performance.now() - t0;
  const encodeCpuMs = cpu() - c0;
  const c1 = cpu();
  const t1 = performance.now();
  const reader = await SnapshotReader.open(storage, keyring ? { keyring } : {});
  let read = 0;
  for await (const u of reader.records('users', UserRecord)) if (u.Username) read++;
  const decodeMs = performance.now() - t1;
  const decodeCpuMs = cpu() - c1;
  const c2 = cpu();
  const t2 = performance.now();
  const verified = await reader.verify();
  const verifyMs = performance.now() - t2;
  const verifyCpuMs = cpu() - c2;
  let bytes = 0;
  for await (const e of storage.list()) bytes += e.bytes;
  return {
    wallMs: encodeMs + decodeMs,
    users: n,
    encodeMs,
    decodeMs,
    verifyMs,
    encodeCpuMs,
    decodeCpuMs,
    verifyCpuMs,
    generateMs,
    generated,
    read,
    verified: verified.ok,
    ...(verified.encrypted ? { encrypted: verified.encrypted } : {}),
    bytes,
  };
}

/**
 * backup --all-pools --regions as the library runs it: the Regions in parallel, each with its
 * own gateway (its own quota buckets), here each pointed at its own quota proxy
 * (`args.endpoints`: Region → endpoint); the pools of a Region in sequence.
 */
async function regions() {
  const { backupRegions } = await import('../dist/backup/regions.js');
  const root = new LocalDirStorage(args.dir);
  const t0 = performance.now();
  const r = await backupRegions(
    args.plans.map((p) => ({ region: p.region, userPoolIds: p.userPoolIds })),
    root,
    {
      gatewayFor: (region) =>
        CognitoGateway.create({ region, endpointUrl: args.endpoints[region] }),
      ...args.backupOptions,
    },
  );
  const wallMs = performance.now() - t0;
  const failed = r.pools.filter((p) => !p.ok);
  return {
    wallMs,
    users: r.pools.reduce((n, p) => n + (p.ok ? p.result.users : 0), 0),
    pools: r.pools.map((p) =>
      p.ok
        ? {
            region: p.region,
            userPoolId: p.userPoolId,
            users: p.result.users,
            durationMs: p.result.durationMs,
          }
        : { region: p.region, userPoolId: p.userPoolId, error: p.error },
    ),
    regions: r.regions.map((x) => ({
      region: x.region,
      status: x.status,
      durationMs: x.durationMs,
      rates: x.rates,
    })),
    ...(failed.length
      ? { error: `${failed.length} pool(s) failed: ${JSON.stringify(failed.map((p) => p.error))}` }
      : {}),
  };
}

const kinds = { backup, 'cbr-backup': cbrBackup, restore, local, regions };

let result;
let tmp;
try {
  if (!args.dir && args.kind !== 'restore') {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'cv-bench-'));
    args.dir = tmp;
  }
  const fn = kinds[args.kind];
  if (!fn) throw new Error(`unknown scenario kind ${args.kind}`);
  result = await fn();
  if (args.keep !== true && tmp) await rm(tmp, { recursive: true, force: true });
  if (args.keep === true && tmp) result.dir = tmp;
} catch (e) {
  result = { error: String(e?.stack ?? e) };
} finally {
  clearInterval(sampler);
}
sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
result.maxRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
result.sampledPeakRssMB = Math.round(sampledPeak / (1024 * 1024));
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
