import { items } from '../../src/cognito/gateway.js';
import { paginateListUsers } from '@aws-sdk/client-cognito-identity-provider';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { seedPool } from '../../testing/seed.js';
import { comparePools, type SubMapEntry } from '../../src/compare/index.js';
import type { RestoreResult } from '../../src/restore/types.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import { MOTO_ENV } from '../support/moto.js';

/**
 * kill -9 of the restore CLI during the import job's upload and while it polls a running job,
 * then the same command again: the result is exact (pools equal by API, sub map complete), and
 * no file was imported twice (the double's job list: one started job per file).
 */
const CLI = path.resolve('dist/cli/main.js');
const USERS = 60;
const ROLE = 'arn:aws:iam::123456789012:role/CognitoImportLogs';

let fixture: MotoFixture;
let snapshot: string;
let sourceId: string;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  killed: boolean;
}

function run(args: string[], journal: string, killWhen?: (text: string) => boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...MOTO_ENV,
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: fixture.moto.motoEndpoint,
    };
    delete env.AWS_PROFILE;
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killWhen
      ? setInterval(() => {
          if (killed || !existsSync(journal)) return;
          if (killWhen(readFileSync(journal, 'utf8'))) {
            killed = true;
            child.kill('SIGKILL');
          }
        }, 2)
      : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearInterval(timer);
      resolve({ code, signal, stdout, stderr, killed });
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  fixture = await startMotoFixture('cv-import-resume-', { withImportJobs: { jobDelayMs: 400 } });
  const seeded = await seedPool(fixture.gw, {
    poolName: 'import-resume-source',
    users: USERS,
    groups: 6,
    concurrency: 16,
  });
  sourceId = seeded.userPoolId;
  const root = new LocalDirStorage(path.join(fixture.work, 'snapshots'));
  const b = await backupPool(fixture.gw, root, { userPoolId: sourceId, includeSecrets: false });
  snapshot = path.join(fixture.work, 'snapshots', sourceId, b.manifest.snapshotId);
});

afterAll(async () => {
  await fixture?.stop();
});

async function killAndResume(poolName: string, killWhen: (journal: string) => boolean) {
  const stateDir = await mkdtemp(path.join(fixture.work, 'state-'));
  const journal = path.join(stateDir, 'journal.jsonl');
  const secrets = path.join(stateDir, '..', 'idp-secrets.json');
  writeFileSync(secrets, JSON.stringify({ Google: { client_secret: 'demo-google-secret' } }));
  const args = [
    'restore',
    '--idp-secrets',
    secrets,
    '--from',
    snapshot,
    '--create-pool',
    poolName,
    '--users',
    'auto',
    '--import-logs-role-arn',
    ROLE,
    '--state-dir',
    stateDir,
    '--endpoint-url',
    fixture.moto.endpoint,
    '--region',
    'us-east-1',
    '--json',
    '--quiet',
  ];
  const first = await run(args, journal, killWhen);
  expect(first.signal, first.stderr).toBe('SIGKILL');
  const again = await run(args, journal);
  expect(again.code, again.stderr).toBe(0);
  const r = JSON.parse(again.stdout) as RestoreResult & { failedOperations: number };
  // The console carries the count; per-user detail is only in the 0600 report.
  expect(r.failedOperations).toBe(0);
  expect(r).not.toHaveProperty('failedUsers');
  expect(r.users.imported + r.users.created).toBe(USERS);
  expect(r.users.imported).toBeGreaterThan(0);

  // No file imported twice: one started job for the one file, its users imported once.
  const jobs = (fixture.importJobs?.jobs() ?? []).filter((j) => j.UserPoolId === r.userPoolId);
  const started = jobs.filter((j) => j.StartDate !== undefined);
  expect(started).toHaveLength(1);
  expect(started[0]?.ImportedUsers).toBe(r.users.imported);
  expect(started[0]?.SkippedUsers).toBe(0);

  const subMap = readFileSync(r.subMap, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SubMapEntry);
  expect(new Set(subMap.map((e) => e.username)).size).toBe(USERS);
  const cmp = await comparePools(fixture.gw, sourceId, fixture.gw, r.userPoolId, {
    subMap,
    userStatus: 'restored',
    restoredStatuses: ['RESET_REQUIRED'],
  });
  expect(cmp.differences).toEqual([]);
  expect(cmp.summary.subMap).toMatchObject({ entries: USERS, wrong: 0 });
  // Imported users keep RESET_REQUIRED: no password was set on them, on either run.
  let reset = 0;
  const listed = fixture.gw.pages(paginateListUsers, { UserPoolId: r.userPoolId });
  for await (const u of items(listed, 'Users')) if (u.UserStatus === 'RESET_REQUIRED') reset++;
  expect(reset).toBe(r.users.imported);
  return { jobs, journal: readFileSync(journal, 'utf8') };
}

describe('import-job restore: kill -9 and run again', () => {
  it('killed once the job exists (during the upload): resumed exactly, imported once', async () => {
    const { journal } = await killAndResume(
      'import-killed-upload',
      (j) => j.includes('"t":"ij"') && j.includes('"s":"created"'),
    );
    // The re-run found the job the killed run created and carried on with it.
    expect(journal.split('"s":"create"').length - 1).toBe(1);
  });

  it('killed while polling a running job: the re-run polls it, never starts another', async () => {
    const { journal } = await killAndResume('import-killed-polling', (j) =>
      j.includes('"s":"started"'),
    );
    expect(journal.split('"s":"started"').length - 1).toBe(1);
    expect(journal.split('"s":"done"').length - 1).toBe(1);
  });

  it('killed while imported users are journaled: the re-run sets no password on them', async () => {
    await killAndResume('import-killed-mapping', (j) => j.includes('"s":"i"'));
  });
});
