// cognito-vault benchmark: moto behind the quota proxy (Cognito's default quotas, 100 ms round
// trip), each scenario in its own process for a clean peak RSS.
//
//   npm run bench          users-only backup of 12,000 users, the same by cognito-backup-restore,
//                          full backup with groups and memberships, restore of 2,000 users,
//                          local encode/decode of 100,000 synthetic users
//   npm run bench:large    users-only backup of 10,000 then 100,000 users (RSS flat?)
//   npm run bench:regions  backup --regions: two Regions, each behind its own quota proxy, backed
//                          up in parallel, against one Region alone (--users=N per Region)
//   --only=a-cli           scenario a as the CLI, timed from spawn to exit (whole process)
//   --only=resume          the users-only backup killed (kill -9) at --kill-at of its full time
//                          (default 0.55), then `backup --resume`: the resumed run's ListUsers
//                          calls against a full backup's (issue 15.2)
//
// Options: --only=a,a-cli,b,c,d,local,local-age,regions,resume   --delay=MS (default 100)
//          --users=N (scenarios a and regions, default 12000)
// BENCH_MEMBERSHIP_WORKERS=2,8,16 repeats scenario b with those membershipWorkers.
// BENCH_TRACE=<preload.mjs …> runs scenario a-cli's CLI with NODE_OPTIONS=--import=<value> (timing traces).
// Results: a Markdown table on stdout and bench/results/<time>.json.

import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { backupPool } from '../dist/backup/engine.js';
import { CognitoGateway } from '../dist/cognito/gateway.js';
import { OPERATION_CATEGORY, QUOTA_CATEGORIES } from '../dist/cognito/quotas.js';
import { LocalDirStorage } from '../dist/storage/local.js';
import { startEmulator } from '../testing/dist/emulator.js';
import { startQuotaProxy } from './quota-proxy.mjs';
import { addUsers, createPlainPool, directClient } from './seed-users.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REGION = 'us-east-1';
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
};
const LARGE = argv.includes('--large');
const DELAY_MS = Number(opt('delay', '100'));
const USERS_A = Number(opt('users', '12000'));
const ONLY = opt('only', LARGE ? 'large' : 'a,a-cli,d,resume,b,c,local,local-age').split(',');
const KILL_AT = Number(opt('kill-at', '0.55'));

const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const secs = (ms) => Math.round(ms / 100) / 10;

/**
 * Runs bench/scenario.mjs in a child process; resolves with its RESULT object. `killAfterMs`:
 * kill -9 it then (resolves with `{ killed: true }` if it had not finished).
 */
function runScenario(args, killAfterMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', path.join(HERE, 'scenario.mjs'), JSON.stringify(args)],
      { stdio: ['ignore', 'pipe', 'inherit'], env: process.env },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
    });
    child.on('error', reject);
    const timer =
      killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), killAfterMs) : undefined;
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal === 'SIGKILL') return resolve({ killed: true });
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) return reject(new Error(`scenario ${args.kind} exited ${code} without a result`));
      resolve(JSON.parse(line.slice(7)));
    });
  });
}

const rows = [];
const results = { seeding: {}, scenarios: {} };

/** Runs one API scenario through the proxy and records its row. */
/**
 * Scenario d's peer, cognito-backup-restore (aws-sdk v2), lives in bench/peer with its own
 * lockfile, so that a developer's `npm ci` does not install it (nor its install-script warnings).
 * Installed here, once, without install scripts (the peer needs none to run).
 */
async function installPeer() {
  const dir = path.join(HERE, 'peer');
  const marker = path.join(dir, 'node_modules', 'cognito-backup-restore', 'package.json');
  try {
    await access(marker);
    return;
  } catch {
    // not installed yet
  }
  log('installing the peer tool into bench/peer (npm ci --ignore-scripts)…');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  await new Promise((resolve, reject) => {
    const child = spawn(
      npm,
      ['ci', '--prefix', dir, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`npm ci --prefix bench/peer exited ${code}`)),
    );
  });
}

async function measure(proxy, id, label, args) {
  // Start every scenario with full buckets, as after any idle second.
  await sleep(1100);
  proxy.resetStats();
  log(`scenario ${id}: ${label} …`);
  const r = await runScenario({ ...args, endpoint: proxy.endpoint });
  const stats = proxy.stats();
  results.scenarios[id] = { label, ...r, proxy: stats };
  if (r.error || r.unavailable) {
    log(`scenario ${id}: ${r.error ?? r.unavailable}`);
    rows.push({ id, label, note: r.unavailable ?? 'FAILED (see JSON)' });
    return r;
  }
  const cats = Object.entries(stats.categories)
    .filter(([, c]) => c.allowed >= 20)
    .sort((x, y) => y[1].allowed - x[1].allowed);
  const throttles = Object.values(stats.categories).reduce((n, c) => n + c.throttled, 0);
  rows.push({
    id,
    label,
    users: r.users,
    wallS: secs(r.wallMs),
    usersPerS: Math.round(r.users / (r.wallMs / 1000)),
    busy: cats.map(
      ([k, c]) => `${k} ${c.achievedRps}/${c.quotaRps} = ${c.shareOfQuota.toFixed(2)}`,
    ),
    throttles,
    rssMB: r.maxRssMB,
  });
  log(`scenario ${id}: ${r.users} users in ${secs(r.wallMs)} s, peak RSS ${r.maxRssMB} MB`);
  return r;
}

function table() {
  const lines = [
    '| Scenario | Users | Wall time (s) | Users/s | Calls/s ÷ quota (category: achieved/quota) | Throttles | Peak RSS (MB) |',
    '|---|--:|--:|--:|---|--:|--:|',
  ];
  for (const r of rows) {
    if (r.note) {
      lines.push(`| ${r.id}. ${r.label} | | | | ${r.note} | | |`);
      continue;
    }
    lines.push(
      `| ${r.id}. ${r.label} | ${r.users.toLocaleString('en-US')} | ${r.wallS} | ${r.usersPerS.toLocaleString('en-US')} | ${r.busy.join('<br>') || '—'} | ${r.throttles ?? '—'} | ${r.rssMB} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Two Regions, each behind its own quota proxy at Cognito's default quotas (quotas are per
 * account and Region): one Region backed up alone, then both at once through backupRegions.
 * Parallel Regions should take about the time of one.
 */
async function regionsScenario(moto, proxyUs) {
  const proxyEu = await startQuotaProxy({
    target: moto.endpoint,
    delayMs: DELAY_MS,
    quotaCategories: QUOTA_CATEGORIES,
    operationCategory: OPERATION_CATEGORY,
  });
  const proxies = { 'us-east-1': proxyUs, 'eu-west-1': proxyEu };
  const endpoints = { 'us-east-1': proxyUs.endpoint, 'eu-west-1': proxyEu.endpoint };
  try {
    const pools = {};
    for (const region of Object.keys(proxies)) {
      const client = directClient(moto.endpoint, region);
      try {
        pools[region] = await seedTimed(`${region}: ${USERS_A} users, no groups`, async () => {
          const id = await createPlainPool(client, 'bench-regions');
          await addUsers(client, id, 0, USERS_A, {
            onProgress: (n) => n % 4000 === 0 && log(`  … ${region} ${n} users`),
          });
          return id;
        });
      } finally {
        client.destroy();
      }
      await proxies[region].freezeListUsers(pools[region]);
    }
    const plan = (regions) => regions.map((region) => ({ region, userPoolIds: [pools[region]] }));
    const run = async (id, label, regions) => {
      await sleep(1100); // full buckets, as after any idle second
      for (const p of Object.values(proxies)) p.resetStats();
      log(`scenario ${id}: ${label} …`);
      const r = await runScenario({ kind: 'regions', endpoints, plans: plan(regions) });
      const stats = Object.fromEntries(regions.map((x) => [x, proxies[x].stats()]));
      results.scenarios[id] = { label, ...r, proxies: stats };
      if (r.error) {
        log(`scenario ${id}: ${r.error}`);
        rows.push({ id, label, note: 'FAILED (see JSON)' });
        return undefined;
      }
      const busy = regions.map((x) => {
        const c = stats[x].categories.UserList;
        return `${x}: UserList ${c.achievedRps}/${c.quotaRps} = ${c.shareOfQuota.toFixed(2)}`;
      });
      const throttles = regions.reduce(
        (n, x) => n + Object.values(stats[x].categories).reduce((m, c) => m + c.throttled, 0),
        0,
      );
      rows.push({
        id,
        label,
        users: r.users,
        wallS: secs(r.wallMs),
        usersPerS: Math.round(r.users / (r.wallMs / 1000)),
        busy,
        throttles,
        rssMB: r.maxRssMB,
      });
      log(`scenario ${id}: ${r.users} users in ${secs(r.wallMs)} s`);
      return { ...r, busy };
    };
    const one = await run('R1', 'one Region alone (us-east-1)', ['us-east-1']);
    const two = await run('R2', 'two Regions in parallel (us-east-1 ‖ eu-west-1)', [
      'us-east-1',
      'eu-west-1',
    ]);
    if (one && two) {
      results.regions = {
        oneRegionS: secs(one.wallMs),
        twoRegionsS: secs(two.wallMs),
        ratio: Math.round((two.wallMs / one.wallMs) * 100) / 100,
        oneRegionUsersPerS: Math.round(one.users / (one.wallMs / 1000)),
        twoRegionsUsersPerS: Math.round(two.users / (two.wallMs / 1000)),
        quotaShare: two.busy,
      };
      regionsSummary.push(
        `Regions: one Region ${secs(one.wallMs)} s (${one.users} users, ${results.regions.oneRegionUsersPerS} users/s); ` +
          `two Regions in parallel ${secs(two.wallMs)} s (${two.users} users, ${results.regions.twoRegionsUsersPerS} users/s); ` +
          `ratio ${results.regions.ratio} (1.00 = no slower than one Region). Quota share: ${two.busy.join('; ')}.`,
      );
    }
  } finally {
    await proxyEu.close();
  }
}

const wholeSummary = [];

/**
 * Issue 19 item 6: the same users-only backup as scenario a, as an operator runs it — the CLI in
 * its own process, timed from spawn to exit (start-up, pool reads, listing, manifest). The
 * ceiling is the pool's pages at UserList's quota (⌈users / 60⌉ ListUsers calls at 30/s); the
 * whole-process share is that time over the wall time. Also: spawn → first ListUsers, and the
 * ListUsers calls beyond one per page (shards ending on a partial page).
 */
async function wholeProcessScenario(proxy, poolId) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cv-bench-cli-'));
  try {
    await sleep(1100);
    proxy.resetStats();
    log('scenario a-cli: users-only backup, the CLI process timed from spawn to exit …');
    const t0 = performance.now();
    const code = await new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          process.env.BENCH_CLI ?? path.join(HERE, '..', 'dist', 'cli', 'main.js'),
          'backup',
          '--user-pool-id',
          poolId,
          '--endpoint-url',
          proxy.endpoint,
          '--to',
          dir,
          '--quiet',
        ],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: {
            ...process.env,
            AWS_REGION: REGION,
            ...(process.env.BENCH_TRACE
              ? { NODE_OPTIONS: `--import=${process.env.BENCH_TRACE}` }
              : {}),
          },
        },
      );
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    const wallMs = performance.now() - t0;
    if (code !== 0) throw new Error(`the CLI backup exited ${code}`);
    const stats = proxy.stats();
    const list = stats.categories.UserList;
    const pages = Math.ceil(USERS_A / 60);
    const quota = list?.quotaRps ?? 30;
    const ceilingMs = (pages / quota) * 1000;
    const firstListMs = list?.firstAllowedAt !== undefined ? list.firstAllowedAt - t0 : undefined;
    const lastListMs = list?.lastAllowedAt !== undefined ? list.lastAllowedAt - t0 : undefined;
    const share = Math.round((ceilingMs / wallMs) * 1000) / 1000;
    results.scenarios['a-cli'] = {
      label: 'users-only backup, whole process (CLI spawn to exit)',
      users: USERS_A,
      wallMs,
      ceilingMs,
      wholeProcessShare: share,
      firstListUsersMs: firstListMs,
      lastListUsersMs: lastListMs,
      listUsersCalls: list?.allowed ?? 0,
      pages,
      proxy: stats,
    };
    wholeSummary.push(
      `Whole process (CLI, ${USERS_A.toLocaleString('en-US')} users): ${secs(wallMs)} s spawn to exit against ${secs(ceilingMs)} s of ` +
        `${pages} pages at UserList's ${quota}/s = ${share.toFixed(3)} of the ceiling; first ListUsers at ${Math.round(firstListMs ?? NaN)} ms, ` +
        `last at ${Math.round(lastListMs ?? NaN)} ms; ${list?.allowed ?? 0} ListUsers calls for ${pages} pages, ${list?.throttled ?? 0} throttled.`,
    );
    log(`scenario a-cli: ${secs(wallMs)} s, share ${share}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const regionsSummary = [];
const resumeSummary = [];

/**
 * Issue 15.2: a users-only backup killed (kill -9) part-way, then resumed. The resumed run lists
 * only what the killed one had not stored (about one page per open shard again); before page
 * records it listed the whole pool again. Compared with a full backup's ListUsers calls.
 */
async function resumeScenario(proxy, poolId) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cv-bench-resume-'));
  const calls = () => proxy.stats().categories.UserList?.allowed ?? 0;
  try {
    await sleep(1100);
    proxy.resetStats();
    log('scenario resume: full users-only backup …');
    const full = await runScenario({ kind: 'backup', poolId, endpoint: proxy.endpoint });
    if (full.error) throw new Error(full.error);
    const fullCalls = calls();
    const killAt = Math.round(full.wallMs * KILL_AT);
    await sleep(1100);
    proxy.resetStats();
    log(`scenario resume: the same, killed (kill -9) after ${secs(killAt)} s …`);
    const killed = await runScenario(
      { kind: 'backup', poolId, endpoint: proxy.endpoint, dir },
      killAt + 400, // the child's own start-up, before its wall clock starts
    );
    const killedCalls = calls();
    const [id] = await readdir(path.join(dir, poolId)).catch(() => []);
    if (!killed.killed || !id) throw new Error('the backup finished before its kill');
    await sleep(1100);
    proxy.resetStats();
    log(`scenario resume: backup --resume ${id} …`);
    const resumed = await runScenario({
      kind: 'backup',
      poolId,
      endpoint: proxy.endpoint,
      dir,
      backupOptions: { resume: id },
    });
    if (resumed.error) throw new Error(resumed.error);
    const resumedCalls = calls();
    const relisted = killedCalls + resumedCalls - fullCalls;
    results.scenarios.resume = {
      label: 'users-only backup killed part-way, then resumed',
      users: resumed.users,
      fullCalls,
      fullWallMs: full.wallMs,
      killAtMs: killAt,
      killedCalls,
      resumedCalls,
      resumedWallMs: resumed.wallMs,
      relisted,
    };
    rows.push({
      id: 'resume',
      label: `resumed backup after kill -9 at ${secs(killAt)} s: ListUsers ${resumedCalls} resumed + ${killedCalls} killed vs ${fullCalls} full (${relisted} listed again)`,
      users: resumed.users,
      wallS: secs(resumed.wallMs),
      usersPerS: Math.round(resumed.users / (resumed.wallMs / 1000)),
      busy: [`ListUsers resumed/full = ${(resumedCalls / fullCalls).toFixed(2)}`],
      throttles: undefined,
      rssMB: resumed.maxRssMB,
    });
    resumeSummary.push(
      `Resume (${USERS_A} users, killed at ${secs(killAt)} s of ${secs(full.wallMs)} s): the resumed run made ${resumedCalls} ListUsers calls against ${fullCalls} for a full backup; with the killed run's ${killedCalls}, ${relisted} pages were listed twice.`,
    );
    log(resumeSummary[resumeSummary.length - 1]);
  } catch (e) {
    log(`scenario resume: ${e.message}`);
    rows.push({ id: 'resume', label: 'resumed backup', note: 'FAILED (see log)' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function seedTimed(name, fn) {
  const t0 = performance.now();
  const r = await fn();
  results.seeding[name] = { seconds: secs(performance.now() - t0) };
  log(`seeded ${name} in ${results.seeding[name].seconds} s`);
  return r;
}

/** moto's fake credentials for this process and the scenario children it starts. */
function useMotoEnv() {
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  delete process.env.AWS_PROFILE;
}

async function main() {
  useMotoEnv();
  const t0 = performance.now();
  const loadAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const moto = await startEmulator();
  const proxy = await startQuotaProxy({
    target: moto.endpoint,
    delayMs: DELAY_MS,
    quotaCategories: QUOTA_CATEGORIES,
    operationCategory: OPERATION_CATEGORY,
  });
  const client = directClient(moto.endpoint);
  const direct = CognitoGateway.create(
    { region: REGION, endpointUrl: moto.endpoint },
    { rate: { unlimited: true } },
  );
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'cv-bench-run-'));
  try {
    log(`moto ${moto.endpoint}, quota proxy ${proxy.endpoint} (+${DELAY_MS} ms round trip)`);

    if (['a', 'a-cli', 'd', 'resume'].some((x) => ONLY.includes(x))) {
      const poolA = await seedTimed(`${USERS_A} users, no groups`, async () => {
        const id = await createPlainPool(client, 'bench-users-only');
        await addUsers(client, id, 0, USERS_A, {
          onProgress: (n) => n % 4000 === 0 && log(`  … ${n} users`),
        });
        return id;
      });
      await seedTimed(`freeze ListUsers copy of ${USERS_A} users`, () =>
        proxy.freezeListUsers(poolA),
      );
      if (ONLY.includes('a')) {
        await measure(proxy, 'a', 'users-only backup (cognito-vault)', {
          kind: 'backup',
          poolId: poolA,
        });
      }
      if (ONLY.includes('a-cli')) await wholeProcessScenario(proxy, poolA);
      if (ONLY.includes('resume')) await resumeScenario(proxy, poolA);
      if (ONLY.includes('d')) {
        await installPeer();
        await measure(proxy, 'd', 'users-only backup (cognito-backup-restore 1.3.2)', {
          kind: 'cbr-backup',
          poolId: poolA,
        });
      }
    }

    if (ONLY.includes('b') || ONLY.includes('c')) {
      const { seedPool } = await import('../testing/dist/seed.js');
      if (ONLY.includes('b')) {
        const poolB = await seedTimed('6000 users, 30 groups, memberships', () =>
          seedPool(direct, {
            poolName: 'bench-full',
            users: 6000,
            groups: 30,
            memberships: 'varied',
            statuses: false,
            concurrency: 12,
          }),
        );
        results.seeding.poolB = poolB;
        await proxy.freezeListUsers(poolB.userPoolId);
        await measure(proxy, 'b', 'full backup: groups + memberships', {
          kind: 'backup',
          poolId: poolB.userPoolId,
        });
        for (const w of (process.env.BENCH_MEMBERSHIP_WORKERS ?? '').split(',').filter(Boolean)) {
          await measure(proxy, `b${w}`, `full backup, ${w} membership workers`, {
            kind: 'backup',
            poolId: poolB.userPoolId,
            backupOptions: { membershipWorkers: Number(w) },
          });
        }
      }
      if (ONLY.includes('c')) {
        const poolC = await seedTimed('2000 users with statuses, 20 groups, memberships', () =>
          seedPool(direct, {
            poolName: 'bench-restore-source',
            users: 2000,
            groups: 20,
            memberships: 'varied',
            statuses: true,
            concurrency: 12,
          }),
        );
        results.seeding.poolC = poolC;
        // The snapshot to restore, taken straight from moto (not measured).
        const snapRoot = path.join(scratch, 'snapshots');
        const snap = await backupPool(direct, new LocalDirStorage(snapRoot), {
          userPoolId: poolC.userPoolId,
        });
        await measure(proxy, 'c', 'restore: users + memberships + disabled', {
          kind: 'restore',
          snapshotDir: path.join(snapRoot, poolC.userPoolId, snap.manifest.snapshotId),
          stateDir: path.join(scratch, 'restore-state'),
          poolName: 'bench-restored',
        });
      }
    }

    if (ONLY.includes('large')) {
      const poolL = await createPlainPool(client, 'bench-large');
      let have = 0;
      for (const size of [10_000, 100_000]) {
        await seedTimed(`large pool to ${size} users`, async () => {
          await addUsers(client, poolL, have, size, {
            onProgress: (n) => n % 10000 === 0 && log(`  … ${have + n} users`),
          });
        });
        have = size;
        await seedTimed(`freeze ListUsers copy of ${size} users`, () =>
          proxy.freezeListUsers(poolL),
        );
        await measure(proxy, `L${size / 1000}k`, `users-only backup, ${size / 1000}k-user pool`, {
          kind: 'backup',
          poolId: poolL,
        });
      }
    }

    if (ONLY.includes('regions')) await regionsScenario(moto, proxy);

    for (const id of ['local', 'local-age'].filter((x) => ONLY.includes(x))) {
      // local-age: the same snapshot encrypted with age (backup --encrypt-to), read with the key.
      const age = id === 'local-age';
      log(`scenario ${id}: encode + decode 100,000 synthetic users${age ? ' (age)' : ''} …`);
      const identity = age
        ? await (await import('age-encryption')).generateX25519Identity()
        : undefined;
      const r = await runScenario({
        kind: 'local',
        users: 100_000,
        ...(identity ? { identity } : {}),
      });
      results.scenarios[id] = r;
      const what = `local encode + decode${age ? ', age-encrypted' : ''}`;
      if (r.error) {
        rows.push({ id, label: what, note: 'FAILED (see JSON)' });
      } else {
        const rate = (ms) => Math.round(r.users / (ms / 1000)).toLocaleString('en-US');
        rows.push({
          id,
          label: `${what} (encode ${rate(r.encodeMs)} users/s, decode ${rate(r.decodeMs)} users/s, verify ${rate(r.verifyMs)} users/s)`,
          users: r.users,
          wallS: secs(r.wallMs),
          usersPerS: Math.round(r.users / (r.wallMs / 1000)),
          busy: ['no API'],
          throttles: undefined,
          rssMB: r.maxRssMB,
        });
      }
    }
  } finally {
    direct.destroy();
    client.destroy();
    await proxy.close();
    await moto.stop();
    await rm(scratch, { recursive: true, force: true });
  }

  const a = results.scenarios.a;
  const d = results.scenarios.d;
  const summary = [];
  if (a?.wallMs && d?.wallMs) {
    summary.push(
      `cognito-vault vs cognito-backup-restore (users-only backup): ${(d.wallMs / a.wallMs).toFixed(2)}× faster (wall time).`,
    );
  }
  summary.push(...wholeSummary, ...regionsSummary, ...resumeSummary);
  results.totalSeconds = secs(performance.now() - t0);
  results.loadAverage = {
    atStart: loadAtStart,
    atEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
  results.node = process.version;
  results.delayMs = DELAY_MS;
  console.log(table());
  for (const s of summary) console.log(`\n${s}`);
  console.log(`\nTotal benchmark time: ${results.totalSeconds} s (seeding included).`);
  console.log(
    `Load average (1/5/15 min) at start ${loadAtStart.join(' ')}, at end ${results.loadAverage.atEnd.join(' ')}; ${os.cpus().length} CPUs; node ${process.version}.`,
  );
  await mkdir(path.join(HERE, 'results'), { recursive: true });
  const file = path.join(HERE, 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`results: ${path.relative(process.cwd(), file)}`);
}

await main();
