import { readFileSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import {
  AdminUpdateUserAttributesCommand,
  ListUserPoolsCommand,
  ListUsersCommand,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { TargetIncompatibleError } from '../../src/core/errors.js';
import { seedPool } from '../../testing/seed.js';
import { comparePools, type SubMapEntry } from '../../src/compare/index.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import { cloudWatchLogReader } from '../../src/restore/users/import/jobs.js';
import type { RestoreOptions, RestoreResult } from '../../src/restore/types.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, REGION, startMotoFixture } from '../support/fixture.js';
import { plainDifferences, plainPool, readRawPool, subMapProblems } from '../support/raw-pool.js';

/**
 * The import-job restore path on moto with the CSV import-job double in front of it: a varied
 * pool (groups, disabled users, custom attributes, unverified and phone-only users, UNCONFIRMED /
 * RESET_REQUIRED / CONFIRMED sources) round-trips through `--users auto` (imported where the job
 * can take the user, AdminCreateUser for the rest) and an email-as-username pool through
 * `--users import-job`; pools equal by API, statuses as documented, sub map exact.
 */
const ROLE = 'arn:aws:iam::123456789012:role/CognitoImportLogs';
let fixture: MotoFixture;
let work: string;

async function seedAndBackup(name: string, opts: Parameters<typeof seedPool>[1]) {
  const seeded = await seedPool(fixture.gw, { ...opts, poolName: name, concurrency: 16 });
  return backup(seeded.userPoolId);
}

async function backup(poolId: string) {
  const root = new LocalDirStorage(path.join(work, 'snapshots'));
  const b = await backupPool(fixture.gw, root, { userPoolId: poolId, includeSecrets: false });
  const reader = await SnapshotReader.open(root.child(`${poolId}/${b.manifest.snapshotId}`));
  return { poolId, reader };
}

async function restore(reader: SnapshotReader, over: Partial<RestoreOptions>) {
  return (await restoreSnapshot(fixture.gw, reader, {
    target: { createPool: 'x' },
    stateDir: await mkdtemp(path.join(work, 'state-')),
    idpSecrets: { Google: { client_secret: 'demo-google-secret' } },
    importLogsRoleArn: ROLE,
    importLogs: cloudWatchLogReader({ region: REGION, endpointUrl: fixture.moto.motoEndpoint }),
    importPollMs: { min: 50, max: 200 },
    ...over,
  })) as RestoreResult;
}

/**
 * The restore judged without src/compare: both pools read with the raw SDK straight from moto
 * (past the import-job double), compared as plain data, and the sub map checked from them. The
 * status rule is written here from the documentation: an imported user is RESET_REQUIRED, a
 * created one CONFIRMED, or FORCE_CHANGE_PASSWORD when the source never confirmed it.
 */
async function judgeRestore(
  sourceId: string,
  targetId: string,
  subMap: SubMapEntry[],
  keyBy: 'username' | 'email',
  imported: number,
) {
  const a = await readRawPool(fixture.raw, sourceId);
  const b = await readRawPool(fixture.raw, targetId);
  expect(plainDifferences(plainPool(a, { keyBy }), plainPool(b, { keyBy }))).toEqual([]);
  expect(subMapProblems(a, b, subMap, keyBy)).toEqual([]);
  const key = (u: UserType) =>
    keyBy === 'email' ? u.Attributes?.find((x) => x.Name === 'email')?.Value : u.Username;
  const before = new Map(a.users.map((u) => [key(u), u.UserStatus]));
  let reset = 0;
  for (const u of b.users) {
    const was = before.get(key(u));
    if (u.UserStatus === 'RESET_REQUIRED') reset++;
    else
      expect({ user: key(u), was, now: u.UserStatus }).toEqual({
        user: key(u),
        was,
        now: was === 'UNCONFIRMED' ? 'FORCE_CHANGE_PASSWORD' : 'CONFIRMED',
      });
  }
  expect(reset).toBe(imported);
  expect(b.users).toHaveLength(a.users.length);
}

async function usersOf(poolId: string): Promise<UserType[]> {
  const out: UserType[] = [];
  let token: string | undefined;
  do {
    const page = await fixture.raw.send(
      new ListUsersCommand({ UserPoolId: poolId, PaginationToken: token }),
    );
    out.push(...(page.Users ?? []));
    token = page.PaginationToken;
  } while (token);
  return out;
}

function readSubMap(file: string): SubMapEntry[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SubMapEntry);
}

beforeAll(async () => {
  fixture = await startMotoFixture('cv-restore-import-', { withImportJobs: { jobDelayMs: 20 } });
  work = fixture.work;
});

afterAll(async () => {
  await fixture?.stop();
});

describe('restore through CSV import jobs (moto + import-job double)', () => {
  it('--users auto: eligible users imported (RESET_REQUIRED), the rest created; pools equal', async () => {
    const src = await seedAndBackup('import-source', { users: 90, groups: 8 });

    // --users import-job refuses a pool with users the job cannot take, before writing anything.
    const refusedDir = await mkdtemp(path.join(work, 'refused-'));
    await expect(
      restore(src.reader, {
        target: { createPool: 'import-refused' },
        usersPath: 'import-job',
        stateDir: refusedDir,
      }),
    ).rejects.toBeInstanceOf(TargetIncompatibleError);
    const pools = await fixture.raw.send(new ListUserPoolsCommand({ MaxResults: 60 }));
    expect(pools.UserPools?.some((p) => p.Name === 'import-refused')).toBe(false);
    expect(statSync(path.join(refusedDir, 'import-ineligible.jsonl')).mode & 0o777).toBe(0o600);

    const startedBefore = fixture.importJobs?.jobs().length ?? 0;
    const r = await restore(src.reader, {
      target: { createPool: 'import-auto' },
      usersPath: 'auto',
    });
    expect(r.failedUsers).toEqual([]);
    expect(r.users.imported).toBeGreaterThan(0);
    expect(r.users.created).toBe(r.usersPath.ineligible);
    expect(r.users.imported + r.users.created).toBe(90);
    expect(r.importJobs).toHaveLength(1);
    expect(r.importJobs[0]).toMatchObject({ status: 'Succeeded', failed: 0, skipped: 0 });
    const jobs = (fixture.importJobs?.jobs() ?? []).slice(startedBefore);
    expect(jobs.filter((j) => j.StartDate !== undefined)).toHaveLength(1);

    const b = await usersOf(r.userPoolId);
    const statuses = new Map<string, number>();
    for (const u of b)
      statuses.set(u.UserStatus ?? '', (statuses.get(u.UserStatus ?? '') ?? 0) + 1);
    expect(statuses.get('RESET_REQUIRED')).toBe(r.users.imported);

    const cmp = await comparePools(fixture.gw, src.poolId, fixture.gw, r.userPoolId, {
      subMap: readSubMap(r.subMap),
      userStatus: 'restored',
      restoredStatuses: ['RESET_REQUIRED'],
    });
    expect(cmp.differences).toEqual([]);
    expect(cmp.summary.users.matched).toBe(90);
    expect(cmp.summary.subMap).toMatchObject({ entries: 90, wrong: 0 });
    await judgeRestore(
      src.poolId,
      r.userPoolId,
      readSubMap(r.subMap),
      'username',
      r.users.imported,
    );
    // Per-row detail only in the 0600 report.
    expect(statSync(r.report).mode & 0o777).toBe(0o600);
  });

  it('--users import-job: an email-as-username pool round-trips, every user imported', async () => {
    const seeded = await seedPool(fixture.gw, {
      poolName: 'import-email-source',
      users: 60,
      groups: 6,
      usernameAttributes: ['email'],
      // No UNCONFIRMED users: a job never takes them (--users auto sends them to AdminCreateUser).
      statuses: false,
      concurrency: 16,
    });
    // The job takes only users with a verified auto-verified attribute: verify the rest.
    for (const u of await usersOf(seeded.userPoolId)) {
      const verified = u.Attributes?.find((a) => a.Name === 'email_verified')?.Value;
      if (verified !== 'true') {
        await fixture.raw.send(
          new AdminUpdateUserAttributesCommand({
            UserPoolId: seeded.userPoolId,
            Username: u.Username,
            UserAttributes: [{ Name: 'email_verified', Value: 'true' }],
          }),
        );
      }
    }
    const src = await backup(seeded.userPoolId);
    const r = await restore(src.reader, {
      target: { createPool: 'import-email' },
      usersPath: 'import-job',
    });
    expect(r.failedUsers).toEqual([]);
    expect(r.users).toMatchObject({ imported: 60, created: 0, failed: 0 });
    const b = await usersOf(r.userPoolId);
    expect(b.every((u) => u.UserStatus === 'RESET_REQUIRED')).toBe(true);
    const cmp = await comparePools(fixture.gw, src.poolId, fixture.gw, r.userPoolId, {
      subMap: readSubMap(r.subMap),
      userStatus: 'restored',
      restoredStatuses: ['RESET_REQUIRED'],
    });
    expect(cmp.differences).toEqual([]);
    expect(cmp.summary.subMap).toMatchObject({ entries: 60, wrong: 0 });
    await judgeRestore(src.poolId, r.userPoolId, readSubMap(r.subMap), 'email', 60);
  });
});
