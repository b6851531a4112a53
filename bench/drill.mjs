// Bench: the drill's RTO estimate against an actual full restore (issue 17).
//
// moto behind the quota proxy (Cognito's default quotas per category, +100 ms round trip, as
// bench/run.mjs runs restores): a pool of --users users (default 2,000) with statuses, 20 groups
// and varied memberships is backed up; then drills of --samples users each (default 200,500)
// estimate how long a full restore of that snapshot takes on this "account"; then the full
// restore runs and is timed. Prints estimate vs measured (target: within ±15 %).
//
//   npm run build && node bench/drill.mjs [--users=2000] [--samples=200,500] [--delay=100]
//
// moto implements no TagResource: the drill's heartbeat fails there (a warning; it does not
// touch the restore or the estimate).

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { backupPool } from '../dist/backup/engine.js';
import { CognitoGateway } from '../dist/cognito/gateway.js';
import { OPERATION_CATEGORY, QUOTA_CATEGORIES } from '../dist/cognito/quotas.js';
import { startEmulator } from '../testing/dist/emulator.js';
import { seedPool } from '../testing/dist/seed.js';
import { runDrill } from '../dist/drill/index.js';
import { restoreSnapshot } from '../dist/restore/index.js';
import { SnapshotReader } from '../dist/snapshot/index.js';
import { LocalDirStorage } from '../dist/storage/local.js';
import { startQuotaProxy } from './quota-proxy.mjs';

const REGION = 'us-east-1';
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
};
const USERS = Number(opt('users', '2000'));
const SAMPLES = opt('samples', '200,500').split(',').map(Number);
const DELAY_MS = Number(opt('delay', '100'));
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

Object.assign(process.env, {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: REGION,
  AWS_EC2_METADATA_DISABLED: 'true',
});
delete process.env.AWS_PROFILE;

const moto = await startEmulator();
const proxy = await startQuotaProxy({
  target: moto.endpoint,
  delayMs: DELAY_MS,
  quotaCategories: QUOTA_CATEGORIES,
  operationCategory: OPERATION_CATEGORY,
});
const direct = CognitoGateway.create(
  { region: REGION, endpointUrl: moto.endpoint },
  { rate: { unlimited: true } },
);
const paced = () => CognitoGateway.create({ region: REGION, endpointUrl: proxy.endpoint });
const scratch = await mkdtemp(path.join(os.tmpdir(), 'cv-bench-drill-'));
const rows = [];
try {
  log(`seeding ${USERS} users, 20 groups, memberships (straight into moto)`);
  const seeded = await seedPool(direct, {
    poolName: 'bench-drill-source',
    users: USERS,
    groups: 20,
    memberships: 'varied',
    statuses: true,
    concurrency: 12,
  });
  const root = new LocalDirStorage(path.join(scratch, 'snapshots'));
  const b = await backupPool(direct, root, { userPoolId: seeded.userPoolId });
  const snapDir = path.join(scratch, 'snapshots', seeded.userPoolId, b.manifest.snapshotId);
  log(`snapshot: ${b.manifest.counts.users} users, ${b.manifest.counts.memberships} memberships`);

  const estimates = [];
  // Drills before and after the full restore: the machine's load (and so moto's latency) drifts,
  // and a bracket shows how much of an error is the estimate's and how much the machine's.
  const drills = async (when) => {
    for (const sample of SAMPLES) {
      const gw = paced();
      try {
        log(`drill (${when}), sample ${sample}`);
        const r = await runDrill(gw, await SnapshotReader.open(new LocalDirStorage(snapDir)), {
          sample,
          usersPath: 'admin-create',
        });
        const p = r.rto.paths.find((x) => x.path === 'admin-create');
        estimates.push({
          when,
          sample,
          passed: r.passed,
          seconds: p.totalSeconds,
          path: p,
          drillS: r.durationMs / 1000,
          rates: r.rto.rates,
        });
        log(
          `  passed=${r.passed} estimate ${p.totalSeconds} s (${p.phases.map((x) => `${x.phase} ${x.seconds}`).join(', ')}; ${p.bottleneck}) in ${(r.durationMs / 1000).toFixed(1)} s`,
        );
      } finally {
        gw.destroy();
      }
    }
  };
  await drills('before');
  log(`full restore of ${USERS} users through the quota proxy`);
  const gw = paced();
  let measured;
  try {
    const r = await restoreSnapshot(gw, await SnapshotReader.open(new LocalDirStorage(snapDir)), {
      target: { createPool: 'bench-drill-full' },
      stateDir: path.join(scratch, 'restore-state'),
      usersPath: 'admin-create',
    });
    measured = r.durationMs / 1000;
    log(
      `  ${r.users.created} users, ${r.memberships} memberships, ${r.disabled} disabled in ${measured.toFixed(1)} s`,
    );
  } finally {
    gw.destroy();
  }
  await drills('after');
  for (const e of estimates) {
    const err = ((e.seconds - measured) / measured) * 100;
    rows.push({
      when: e.when,
      sample: e.sample,
      estimateS: e.seconds,
      measuredS: Math.round(measured * 10) / 10,
      errorPct: Math.round(err * 10) / 10,
      within15: Math.abs(err) <= 15,
      drillS: Math.round(e.drillS * 10) / 10,
      bottleneck: e.path.bottleneck,
    });
  }
  console.log(
    `\nRTO estimate vs a full restore of ${USERS} users (quota proxy, +${DELAY_MS} ms RTT, admin-create path)\n`,
  );
  console.log(
    '| drill | sample | drill took (s) | estimate (s) | measured (s) | error | within ±15 % | bottleneck |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.when} | ${r.sample} | ${r.drillS} | ${r.estimateS} | ${r.measuredS} | ${r.errorPct > 0 ? '+' : ''}${r.errorPct} % | ${r.within15 ? 'yes' : 'NO'} | ${r.bottleneck} |`,
    );
  console.log(`\nRESULT ${JSON.stringify({ users: USERS, delayMs: DELAY_MS, rows, estimates })}`);
} finally {
  direct.destroy();
  await proxy.close();
  await moto.stop();
  await rm(scratch, { recursive: true, force: true });
}
