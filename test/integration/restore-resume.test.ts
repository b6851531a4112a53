import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CognitoIdentityProviderClient,
  ListGroupsCommand,
  ListUserPoolsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import { comparePools, type SubMapEntry } from '../../src/compare/index.js';
import type { RestoreResult } from '../../src/restore/types.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import { MOTO_ENV, type MotoServer } from '../support/moto.js';

/**
 * Resume: the restore runs as a CLI child process (`node dist/cli/main.js`, built by `npm test`
 * before vitest), is SIGKILLed at a random point while creating users, again at a random point
 * while adding memberships, and the same command is run once more. The end result must be
 * exact: compared by API, nothing failed, nobody created twice, the sub map complete and each
 * user in it once, and only one pool created.
 */
const CLI = path.resolve('dist/cli/main.js');
const USERS = 400;
const POOL_NAME = 'resumed-target';

let fixture: MotoFixture | undefined;
let moto: MotoServer;
let gw: CognitoGateway;
let raw: CognitoIdentityProviderClient;
let work: string;
let snapshot: string;
let sourceId: string;
let secretsFile: string;

function journalCounts(file: string): { u: number; f: number } {
  if (!existsSync(file)) return { u: 0, f: 0 };
  const text = readFileSync(file, 'utf8');
  return {
    u: text.split('{"t":"u",').length - 1,
    f: text.split('{"t":"f",').length - 1,
  };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  killedAt?: { u: number; f: number };
}

/** Runs the CLI; with `killWhen`, SIGKILLs it as soon as the journal satisfies the predicate. */
function run(
  args: string[],
  journal: string,
  killWhen?: (c: { u: number; f: number }) => boolean,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...MOTO_ENV };
    delete env.AWS_PROFILE;
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killedAt: { u: number; f: number } | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killWhen
      ? setInterval(() => {
          const c = journalCounts(journal);
          if (!killedAt && killWhen(c)) {
            killedAt = c;
            child.kill('SIGKILL');
          }
        }, 5)
      : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearInterval(timer);
      resolve({ code, signal, stdout, stderr, ...(killedAt ? { killedAt } : {}) });
    });
  });
}

async function allUsers(poolId: string): Promise<UserType[]> {
  const out: UserType[] = [];
  let token: string | undefined;
  do {
    const r = await raw.send(
      new ListUsersCommand({ UserPoolId: poolId, Limit: 60, PaginationToken: token }),
    );
    out.push(...(r.Users ?? []));
    token = r.PaginationToken;
  } while (token);
  return out;
}

async function memberships(poolId: string): Promise<string[]> {
  const out: string[] = [];
  const groups = await raw.send(new ListGroupsCommand({ UserPoolId: poolId, Limit: 60 }));
  for (const g of groups.Groups ?? []) {
    let token: string | undefined;
    do {
      const r = await raw.send(
        new ListUsersInGroupCommand({
          UserPoolId: poolId,
          GroupName: g.GroupName,
          Limit: 60,
          NextToken: token,
        }),
      );
      for (const u of r.Users ?? []) out.push(`${g.GroupName}/${u.Username}`);
      token = r.NextToken;
    } while (token);
  }
  return out.sort();
}

const subOf = (u: UserType) => u.Attributes?.find((a) => a.Name === 'sub')?.Value;
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  fixture = await startMotoFixture('cv-restore-resume-');
  ({ moto, gw, raw, work } = fixture);
  secretsFile = path.join(work, 'idp-secrets.json');
  writeFileSync(secretsFile, JSON.stringify({ Google: { client_secret: 'demo-google-secret' } }));
  const seeded = await seedPool(gw, {
    users: USERS,
    groups: 10,
    poolName: 'resume-source',
    concurrency: 16,
  });
  sourceId = seeded.userPoolId;
  const root = new LocalDirStorage(path.join(work, 'snapshots'));
  const b = await backupPool(gw, root, { userPoolId: sourceId });
  snapshot = path.join(root.location, sourceId, b.manifest.snapshotId);
});

afterAll(async () => {
  await fixture?.stop();
});

/** The restore command line both tests run (and run again), paced faster than Cognito. */
function restoreArgs(poolName: string, stateDir: string, extra: string[] = []): string[] {
  return [
    'restore',
    '--from',
    snapshot,
    '--create-pool',
    poolName,
    '--state-dir',
    stateDir,
    ...extra,
    '--idp-secrets',
    secretsFile,
    '--endpoint-url',
    moto.endpoint,
    '--max-rps',
    'UserCreation=150',
    '--max-rps',
    'UserUpdate=100',
    '--json',
  ];
}

describe('restore resume after SIGKILL', () => {
  it('killed mid-users and mid-memberships, the same command finishes with the exact result', async () => {
    const stateDir = path.join(work, 'state');
    const journal = path.join(stateDir, 'journal.jsonl');
    const subMapFile = path.join(work, 'out', 'sub-map.jsonl');
    const args = restoreArgs(POOL_NAME, stateDir, ['--sub-map', subMapFile]);

    const killUsers = rand(40, USERS - 150);
    const first = await run(args, journal, (c) => c.u >= killUsers);
    expect(
      first.signal,
      `first run was not killed (kill at ${killUsers} users)\n${first.stderr}`,
    ).toBe('SIGKILL');
    const afterFirst = journalCounts(journal);
    expect(afterFirst.u).toBeGreaterThan(0);
    expect(afterFirst.u).toBeLessThan(USERS);

    const killFollowUps = afterFirst.f + rand(10, 40);
    const second = await run(args, journal, (c) => c.f >= killFollowUps);
    expect(
      second.signal,
      `second run was not killed (kill at ${killFollowUps} follow-ups)\n${second.stderr}`,
    ).toBe('SIGKILL');

    const t0 = performance.now();
    const third = await run(args, journal);
    console.log(
      `killed at ${first.killedAt?.u} users, then at ${second.killedAt?.f} follow-ups; the last run took ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(third.code, third.stderr).toBe(0);
    const report = JSON.parse(third.stdout) as RestoreResult & { failedOperations: number };
    expect(report.resumed).toBe(true);
    // The console has the count; the per-user lists are only in the 0600 report file.
    expect(report.failedOperations).toBe(0);
    expect(report).not.toHaveProperty('failedUsers');
    expect(report.users).toEqual({
      created: USERS,
      imported: 0,
      existing: 0,
      failed: 0,
      externalProvider: 0,
    });
    expect(JSON.parse(readFileSync(report.report, 'utf8'))).toMatchObject({
      users: report.users,
      failedUsers: [],
    });

    // One pool with that name: the resumed runs continued with the first run's pool.
    const pools = await raw.send(new ListUserPoolsCommand({ MaxResults: 60 }));
    const named = (pools.UserPools ?? []).filter((p) => p.Name === POOL_NAME);
    expect(named.map((p) => p.Id)).toEqual([report.userPoolId]);

    // Nobody twice, nobody missing: the same usernames on both sides.
    const a = await allUsers(sourceId);
    const b = await allUsers(report.userPoolId);
    expect(b.map((u) => u.Username).sort()).toEqual(a.map((u) => u.Username).sort());
    // The documented status mapping, across the kills: no password step skipped.
    const statusOf = new Map(a.map((u) => [u.Username, u.UserStatus]));
    for (const u of b) {
      expect(u.UserStatus).toBe(
        statusOf.get(u.Username) === 'UNCONFIRMED' ? 'FORCE_CHANGE_PASSWORD' : 'CONFIRMED',
      );
    }
    expect(await memberships(report.userPoolId)).toEqual(await memberships(sourceId));

    // The journal recorded each user once; the sub map lists each user exactly once, correctly.
    const userLines = readFileSync(journal, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"t":"u",'))
      .map((l) => (JSON.parse(l) as { u: string }).u);
    expect(new Set(userLines).size).toBe(userLines.length);
    const map = readFileSync(subMapFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as SubMapEntry);
    expect(map).toHaveLength(USERS);
    expect(new Set(map.map((e) => e.username)).size).toBe(USERS);
    const newSubOf = new Map(b.map((u) => [u.Username, subOf(u)]));
    const oldSubOf = new Map(a.map((u) => [u.Username, subOf(u)]));
    for (const e of map) {
      expect(e.oldSub).toBe(oldSubOf.get(e.username ?? ''));
      expect(e.newSub).toBe(newSubOf.get(e.username ?? ''));
    }

    const cmp = await comparePools(gw, sourceId, gw, report.userPoolId, {
      subMap: map,
      userStatus: 'restored',
    });
    expect(cmp.differences).toEqual([]);
  });

  it('Ctrl-C (SIGINT) stops cleanly with exit 130, and the same command resumes', async () => {
    const stateDir = path.join(work, 'state-int');
    const journal = path.join(stateDir, 'journal.jsonl');
    const args = restoreArgs(`${POOL_NAME}-int`, stateDir);
    const at = rand(40, USERS - 150);
    const env: NodeJS.ProcessEnv = { ...process.env, ...MOTO_ENV };
    delete env.AWS_PROFILE;
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setInterval(() => {
      if (journalCounts(journal).u >= at) {
        clearInterval(timer);
        child.kill('SIGINT');
      }
    }, 5);
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    clearInterval(timer);
    expect(code, stderr).toBe(130);
    expect(existsSync(path.join(stateDir, 'lock'))).toBe(false);
    expect(journalCounts(journal).u).toBeLessThan(USERS);

    const again = await run(args, journal);
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as RestoreResult;
    expect(report.users).toEqual({
      created: USERS,
      imported: 0,
      existing: 0,
      failed: 0,
      externalProvider: 0,
    });
    const cmp = await comparePools(gw, sourceId, gw, report.userPoolId, {
      subMap: readFileSync(report.subMap, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as SubMapEntry),
    });
    expect(cmp.differences).toEqual([]);
  });
});
