// `cognito-vault diff` at scale: snapshot vs live pool for 10,000 and 100,000 users (and more
// with --users=N,M), the pool being an in-memory fake (testing/fake-cognito.mjs: no moto, no
// quotas — this measures the comparison's own cost and memory, not Cognito's pace). Each diff
// runs in its own process, so its peak RSS is its own; the pool has a few changes of each class.
//   npm run build && node bench/diff.mjs [--users=10000,100000]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { fakeCognitoClient } from '../testing/fake-cognito.mjs';

const arg = (name, dflt) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const POOL = 'us-east-1_DiffBench';
const HEAP_CAP_MB = 64;

function hex(i, gen) {
  // A deterministic uuid-shaped sub.
  let h = (i * 2654435761 + gen * 40503) >>> 0;
  let s = '';
  for (let k = 0; k < 32; k++) {
    h = (h * 1103515245 + 12345) >>> 0;
    s += (h >>> 28).toString(16);
  }
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** A pool of n users; `changed` makes a few changes of every class (the diff must find them). */
function fakePool(n, changed) {
  const gone = new Set(changed ? [10, Math.floor(n / 2), n - 1] : []);
  return {
    id: POOL,
    describe: { Name: 'diff-bench', MfaConfiguration: 'OFF' },
    groups: [{ GroupName: 'everyone' }, { GroupName: 'admins', Precedence: 1 }],
    clients: [{ ClientId: 'c1', ClientName: 'web' }],
    identityProviders: [],
    resourceServers: [],
    userCount: n + (changed ? 2 : 0),
    userAt(i) {
      if (gone.has(i)) return undefined;
      const id = i >= n ? n + 1_000_000 + i : i;
      const attrs = [
        { Name: 'sub', Value: hex(id, 0) },
        { Name: 'email', Value: `user-${id}@example.com` },
        { Name: 'given_name', Value: `Given ${id}` },
        { Name: 'family_name', Value: `Family ${id}` },
        { Name: 'custom:tier', Value: changed && i % 10_007 === 1 ? 'changed' : 'gold' },
      ];
      return {
        Username: `user-${id}`,
        Attributes: attrs,
        Enabled: !(changed && i === 8),
        UserStatus: changed && i % 20_011 === 5 ? 'RESET_REQUIRED' : 'CONFIRMED',
      };
    },
    members(group) {
      if (group === 'admins') return { count: 50, at: (j) => `user-${j * 3}` };
      const count = Math.floor(n / 2) - (changed ? 1 : 0);
      return { count, at: (j) => `user-${(changed && j >= 50 ? j + 1 : j) * 2}` };
    },
  };
}

async function child(mode, n, dir) {
  const { CognitoGateway } = await import('../dist/cognito/gateway.js');
  const pool = fakePool(n, mode === 'diff');
  const gw = new CognitoGateway(fakeCognitoClient(pool), { rate: { unlimited: true } });
  try {
    if (mode === 'backup') {
      const { backupPool } = await import('../dist/backup/engine.js');
      const { LocalDirStorage } = await import('../dist/storage/local.js');
      const r = await backupPool(gw, new LocalDirStorage(dir), { userPoolId: POOL, shards: 1 });
      console.log(`RESULT ${JSON.stringify({ snapshot: r.snapshot })}`);
      return;
    }
    const { diffSnapshot } = await import('../dist/compare/index.js');
    const { SnapshotReader } = await import('../dist/snapshot/reader.js');
    const { LocalDirStorage } = await import('../dist/storage/local.js');
    const reader = await SnapshotReader.open(new LocalDirStorage(dir));
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 25);
    const t0 = performance.now();
    const r = await diffSnapshot(reader, gw, POOL, {});
    const ms = performance.now() - t0;
    clearInterval(sampler);
    console.log(
      `RESULT ${JSON.stringify({
        ms,
        startRss: before,
        sampledPeak: peak,
        maxRss: process.resourceUsage().maxRSS * 1024,
        partitions: r.partitions,
        onlyInSnapshot: r.onlyInSnapshot,
        onlyInPool: r.onlyInPool,
        changed: r.changed,
      })}`,
    );
  } finally {
    gw.destroy();
  }
}

function run(args, nodeFlags = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...nodeFlags, fileURLToPath(import.meta.url), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) reject(new Error(`bench/diff.mjs ${args.join(' ')} exited ${code}`));
      else resolve(JSON.parse(line.slice(7)));
    });
  });
}

const mode = arg('child', undefined);
if (mode) {
  await child(mode, Number(arg('users', '0')), arg('dir', ''));
} else {
  const sizes = arg('users', '10000,100000').split(',').map(Number);
  const MB = (b) => (b / 2 ** 20).toFixed(0);
  const rows = [];
  for (const n of sizes) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cv-diff-bench-'));
    try {
      const t0 = performance.now();
      const b = await run([`--child=backup`, `--users=${n}`, `--dir=${dir}`]);
      const backupS = (performance.now() - t0) / 1000;
      const d = await run([`--child=diff`, `--users=${n}`, `--dir=${b.snapshot}`]);
      // The same diff with the V8 heap capped: it completes at every size, so what the
      // comparison keeps alive is bounded; the uncapped peak RSS is mostly V8 letting garbage
      // accumulate while it allocates fast.
      const capped = await run(
        [`--child=diff`, `--users=${n}`, `--dir=${b.snapshot}`],
        [`--max-old-space-size=${HEAP_CAP_MB}`],
      );
      rows.push({ n, backupS, ...d, capped });
      console.error(
        `[diff bench] ${n} users: diff ${(d.ms / 1000).toFixed(1)} s, peak RSS ${MB(d.maxRss)} MB`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log(`\nDiff, snapshot vs pool (in-memory fake pool: no network, no quota)`);
  console.log(
    `| Users | Partitions | Diff wall (s) | Users/s | Peak RSS (MB) | RSS at start (MB) | With a ${HEAP_CAP_MB} MB heap: wall (s) / peak RSS (MB) | Found (only snapshot / only pool / changed) |`,
  );
  console.log('|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const r of rows) {
    console.log(
      `| ${r.n.toLocaleString('en')} | ${r.partitions} | ${(r.ms / 1000).toFixed(1)} | ${Math.round(r.n / (r.ms / 1000)).toLocaleString('en')} | ${MB(r.maxRss)} | ${MB(r.startRss)} | ${(r.capped.ms / 1000).toFixed(1)} / ${MB(r.capped.maxRss)} | ${r.onlyInSnapshot} / ${r.onlyInPool} / ${r.changed.total} |`,
    );
  }
  console.log(
    `Load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}; ${os.cpus().length} CPUs; node ${process.version}.`,
  );
}
