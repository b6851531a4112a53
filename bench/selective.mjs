// Selective restore on the emulator (moto), run as an operator runs it: the built CLI as a
// child process, wall time including start-up, the Cognito requests it sent (the result's
// `requests`), and its peak RSS (VmHWM from /proc, polled).
//
//   npm run build && node bench/selective.mjs [--members=10000] [--pool=12000] [--max-rps=...]
//
// 1. one-user restore: a pool of --pool users; one deleted; `restore --user NAME`.
//    Must not scan the pool: the request count stays in the tens whatever the pool size.
// 2. group restore: a group of --members users deleted; `restore --group NAME` adds every member
//    back. Reported: memberships per second and peak RSS. --max-rps (default
//    UserUpdate=1000,UserList=1000) lifts the pacing so the tool's own rate is measured; with
//    Cognito's default quotas the rate is bound by UserUpdate (25/s): 10,000 members ≈ 400 s.
// Results: a Markdown table on stdout and bench/results/selective-<time>.json.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';
import {
  AdminAddUserToGroupCommand,
  AdminDeleteUserCommand,
  CreateGroupCommand,
  DeleteGroupCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { backupPool } from '../dist/backup/engine.js';
import { CognitoGateway } from '../dist/cognito/gateway.js';
import { startEmulator } from '../testing/dist/emulator.js';
import { LocalDirStorage } from '../dist/storage/local.js';
import { addUsers, createPlainPool, directClient } from './seed-users.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(HERE, '..', 'dist', 'cli', 'main.js');
const arg = (name, dflt) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const POOL_USERS = Number(arg('pool', '12000'));
const MEMBERS = Math.min(Number(arg('members', '10000')), POOL_USERS);
const MAX_RPS = arg('max-rps', 'UserUpdate=1000,UserList=1000').split(',').filter(Boolean);
const ENV = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
};
delete ENV.AWS_PROFILE;
// The seeding client and the backup in this process talk to the emulator with the same keys.
Object.assign(process.env, {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
});
delete process.env.AWS_PROFILE;

const name = (i) => `user-${String(i).padStart(7, '0')}`;

/** Runs the CLI; resolves with exit code, stdout, wall ms and peak RSS (MiB). */
function run(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      env: ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // exited
      }
    }, 50);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, stdout, stderr, ms: performance.now() - t0, peakMiB: peak });
    });
  });
}

const emu = await startEmulator();
const work = await mkdtemp(path.join(os.tmpdir(), 'cv-bench-selective-'));
const rows = [];
try {
  const client = directClient(emu.endpoint);
  const poolId = await createPlainPool(client, 'selective-bench');
  const t0 = performance.now();
  await addUsers(client, poolId, 0, POOL_USERS, {
    concurrency: 16,
    onProgress: (n) => process.stderr.write(`\rseeded ${n}/${POOL_USERS}`),
  });
  await client.send(
    new CreateGroupCommand({ UserPoolId: poolId, GroupName: 'big', Precedence: 1 }),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < MEMBERS; i = next++)
        await client.send(
          new AdminAddUserToGroupCommand({
            UserPoolId: poolId,
            Username: name(i),
            GroupName: 'big',
          }),
        );
    }),
  );
  process.stderr.write(`\nseeded in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  const gw = CognitoGateway.create(
    { region: 'us-east-1', endpointUrl: emu.endpoint },
    { rate: { unlimited: true } },
  );
  const root = new LocalDirStorage(path.join(work, 'backups'));
  const b = await backupPool(gw, root, { userPoolId: poolId });
  gw.destroy();
  const snapshot = path.join(root.location, poolId, b.manifest.snapshotId);
  const base = (stateDir) => [
    'restore',
    '--from',
    snapshot,
    '--to-user-pool-id',
    poolId,
    '--endpoint-url',
    emu.endpoint,
    '--state-dir',
    path.join(work, stateDir),
    '--json',
  ];

  // 1. one deleted user, Cognito's default pacing.
  await client.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: name(4242) }));
  const one = await run([...base('one'), '--user', name(4242)]);
  if (one.code !== 0) throw new Error(`one-user restore failed (${one.code}): ${one.stderr}`);
  const r1 = JSON.parse(one.stdout);
  rows.push({
    scenario: `one deleted user (pool of ${POOL_USERS})`,
    wallS: +(one.ms / 1000).toFixed(2),
    requests: r1.requests,
    usersWritten: r1.usersWritten,
    peakMiB: +one.peakMiB.toFixed(0),
  });

  // 2. a deleted group of MEMBERS members.
  await client.send(new DeleteGroupCommand({ UserPoolId: poolId, GroupName: 'big' }));
  const group = await run([
    ...base('group'),
    '--group',
    'big',
    ...MAX_RPS.flatMap((x) => ['--max-rps', x]),
  ]);
  if (group.code !== 0) throw new Error(`group restore failed (${group.code}): ${group.stderr}`);
  const r2 = JSON.parse(group.stdout);
  rows.push({
    scenario: `deleted group of ${MEMBERS} members (--max-rps ${MAX_RPS.join(' ')})`,
    wallS: +(group.ms / 1000).toFixed(2),
    requests: r2.requests,
    usersWritten: r2.usersWritten,
    membershipsPerS: +(r2.counts.memberships.add / (group.ms / 1000)).toFixed(0),
    peakMiB: +group.peakMiB.toFixed(0),
  });
  client.destroy();
} finally {
  await emu.stop();
  await rm(work, { recursive: true, force: true });
}

console.log('| scenario | wall (s) | requests | users written | memberships/s | peak RSS (MiB) |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.scenario} | ${r.wallS} | ${r.requests} | ${r.usersWritten} | ${r.membershipsPerS ?? ''} | ${r.peakMiB} |`,
  );
await mkdir(path.join(HERE, 'results'), { recursive: true });
await writeFile(
  path.join(HERE, 'results', `selective-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
  `${JSON.stringify({ poolUsers: POOL_USERS, members: MEMBERS, rows }, null, 2)}\n`,
);
