import { items } from '../../src/cognito/gateway.js';
import {
  CreateUserPoolCommand,
  GetCSVHeaderCommand,
  CreateUserImportJobCommand,
  DescribeUserImportJobCommand,
  StartUserImportJobCommand,
  paginateListUsers,
} from '@aws-sdk/client-cognito-identity-provider';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FILES,
  partPath,
  PART_DIRS,
  SnapshotWriter,
  type UserRecord,
} from '../../src/snapshot/index.js';
import { decodeImportLine } from '../../src/snapshot/import-csv.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { startMotoFixture, type MotoFixture } from '../support/fixture.js';
import { MOTO_ENV } from '../support/moto.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

/** The built CLI's export-csv on a snapshot on local disk (no network). */
const CLI = path.resolve('dist/cli/main.js');
const run = promisify(execFile);

let work: string;
let snapshot: string;

const SECRET_NAME = 'Zoë Secretname';

function user(
  i: number,
  over: Partial<UserRecord> = {},
  attrs: Record<string, string> = {},
): UserRecord {
  return {
    Username: `person-${i}`,
    Attributes: Object.entries({
      sub: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      email: `person-${i}@example.com`,
      email_verified: 'true',
      name: `${SECRET_NAME}, ${i}`,
      ...attrs,
    }).map(([Name, Value]) => ({ Name, Value })),
    Enabled: true,
    UserStatus: 'CONFIRMED',
    ...over,
  };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: work,
        ...MOTO_ENV,
        AWS_CONFIG_FILE: path.join(work, 'none', 'config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'none', 'credentials'),
      },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cv-export-csv-'));
  snapshot = path.join(work, 'snap', 'us-east-1_Src', '2026-11-29T00-00-00-000Z');
  const w = new SnapshotWriter(new LocalDirStorage(snapshot));
  await w.writeJson(
    FILES.pool,
    'pool',
    {
      userPool: {
        Id: 'us-east-1_Src',
        Name: 'src',
        AutoVerifiedAttributes: ['email'],
        SchemaAttributes: [
          { Name: 'sub', Required: true },
          { Name: 'name' },
          { Name: 'email' },
          { Name: 'email_verified' },
          { Name: 'custom:tier' },
        ],
      },
      mfaConfig: { MfaConfiguration: 'OFF' },
    },
    1,
  );
  const users = [
    ...Array.from({ length: 20 }, (_, i) => user(i)),
    user(100, { UserStatus: 'EXTERNAL_PROVIDER', Username: 'Google_100' }),
    user(101, {}, { email_verified: 'false' }),
    user(102, {}, { 'custom:tier': 'a\\b' }),
  ];
  await w.writeJsonLines(partPath(PART_DIRS.users, 0), 'users', users);
  await w.writeJsonLines(partPath(PART_DIRS.memberships, 0), 'memberships', []);
  await w.commit(
    manifestDraft({
      snapshotId: '2026-11-29T00-00-00-000Z',
      userPool: { id: 'us-east-1_Src', name: 'src' },
      startedAt: '2026-11-29T00:00:00.000Z',
      finishedAt: '2026-11-29T00:00:01.000Z',
      counts: { users: users.length },
    }),
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('cognito-vault export-csv', () => {
  it('writes 0600 files in a 0700 directory, prints counts by reason and never a username or value', async () => {
    const to = path.join(work, 'out');
    const r = await cli(['export-csv', snapshot, '--to', to]);
    expect(r.code, r.stderr).toBe(0);
    const printed = r.stdout + r.stderr;
    expect(printed).toContain('wrote 20 users into 1 import file');
    expect(printed).toMatch(/external-provider: 1/);
    expect(printed).toMatch(/no-verified-auto-verified-attribute: 1/);
    expect(printed).toMatch(/backslash-in-value: 1/);
    expect(printed).not.toMatch(/person-|Google_100|Secretname|example\.com/);

    expect((await stat(to)).mode & 0o777).toBe(0o700);
    const names = (await readdir(to)).sort();
    expect(names).toEqual(['users-00001.csv', 'users-00001.index.jsonl', 'users-ineligible.jsonl']);
    for (const n of names) expect((await stat(path.join(to, n))).mode & 0o777).toBe(0o600);

    const csv = (await readFile(path.join(to, 'users-00001.csv'), 'utf8')).split('\n');
    const header = csv[0]!.split(',');
    expect(header.slice(-4)).toEqual([
      'updated_at',
      'cognito:mfa_enabled',
      'cognito:username',
      'custom:tier',
    ]);
    expect(header).not.toContain('sub');
    const first = decodeImportLine(csv[1]!);
    expect(first[header.indexOf('name')]).toBe(`${SECRET_NAME}, 0`);
    const report = (await readFile(path.join(to, 'users-ineligible.jsonl'), 'utf8'))
      .trim()
      .split('\n');
    expect(report.map((l) => (JSON.parse(l) as { username: string }).username).sort()).toEqual([
      'Google_100',
      'person-101',
      'person-102',
    ]);
    for (const l of report) expect(l).not.toContain(SECRET_NAME);
  });

  it('--json prints the file set; a non-empty --to is refused with exit 2', async () => {
    const to = path.join(work, 'out-json');
    const r = await cli(['export-csv', snapshot, '--to', to, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      eligible: number;
      files: { rows: number; sha256: string }[];
      ineligible: { total: number };
    };
    expect(j.eligible).toBe(20);
    expect(j.files[0]?.rows).toBe(20);
    expect(j.files[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(j.ineligible.total).toBe(3);
    expect(r.stdout).not.toMatch(/person-|Secretname/);
    const again = await cli(['export-csv', snapshot, '--to', to]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/not empty/);
  });

  it('an incomplete snapshot exits 3; a missing --to exits 2', async () => {
    const broken = path.join(work, 'broken');
    await mkdir(broken, { recursive: true });
    await writeFile(path.join(broken, 'pool.json'), '{}');
    expect((await cli(['export-csv', broken, '--to', path.join(work, 'o3')])).code).toBe(3);
    expect((await cli(['export-csv', snapshot])).code).toBe(2);
  });
});

describe('export-csv --header-from (GetCSVHeader through the import-job double)', () => {
  let fx: MotoFixture;
  beforeAll(async () => {
    fx = await startMotoFixture('cv-export-csv-live-', { withImportJobs: true });
  });
  afterAll(async () => {
    await fx?.stop();
  });

  it('takes the live header and rules; a user whose attribute the target lacks is ineligible', async () => {
    const { UserPool: created } = await fx.gw.send(
      new CreateUserPoolCommand({
        PoolName: 'target',
        AutoVerifiedAttributes: ['email'],
        MfaConfiguration: 'OFF',
      }),
    );
    const target = created?.Id ?? '';
    const to = path.join(work, 'out-live');
    const r = await cli([
      'export-csv',
      snapshot,
      '--to',
      to,
      '--header-from',
      target,
      '--endpoint-url',
      fx.moto.endpoint,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      headerSource: string;
      header: string[];
      eligible: number;
      ineligible: { byReason: Record<string, number> };
    };
    expect(j.headerSource).toBe('GetCSVHeader');
    expect(j.header).toEqual(
      (await fx.gw.send(new GetCSVHeaderCommand({ UserPoolId: target }))).CSVHeader,
    );
    expect(j.header).not.toContain('custom:tier');
    // custom:tier is empty for most users (skipped), but person-102 has one: no column for it
    expect(j.eligible).toBe(20);
    expect(j.ineligible.byReason['column-not-in-header'] ?? 0).toBe(1);
  });

  it('a pool that does not exist exits 2', async () => {
    const to = path.join(work, 'out-missing');
    const r = await cli([
      'export-csv',
      snapshot,
      '--to',
      to,
      '--header-from',
      'us-east-1_doesnotexist',
      '--endpoint-url',
      fx.moto.endpoint,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not exist/);
  });

  it('round trip: the exported file, run as an import job through the gateway, recreates the users as they were', async () => {
    const target =
      (
        await fx.gw.send(
          new CreateUserPoolCommand({
            PoolName: 'roundtrip',
            AutoVerifiedAttributes: ['email'],
            Schema: [{ Name: 'tier', AttributeDataType: 'String', Mutable: true }],
          }),
        )
      ).UserPool?.Id ?? '';
    const to = path.join(work, 'out-roundtrip');
    const r = await cli([
      'export-csv',
      snapshot,
      '--to',
      to,
      '--header-from',
      target,
      '--endpoint-url',
      fx.moto.endpoint,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { UserImportJob: job } = await fx.gw.send(
      new CreateUserImportJobCommand({
        JobName: 'roundtrip',
        UserPoolId: target,
        CloudWatchLogsRoleArn: 'arn:aws:iam::123456789012:role/CognitoImportLogs',
      }),
    );
    const jobInput = { UserPoolId: target, JobId: job?.JobId ?? '' };
    const describe = async () =>
      (await fx.gw.send(new DescribeUserImportJobCommand(jobInput))).UserImportJob;
    const up = await fetch(job?.PreSignedUrl ?? '', {
      method: 'PUT',
      body: await readFile(path.join(to, 'users-00001.csv')),
      headers: { 'x-amz-server-side-encryption': 'aws:kms' },
    });
    expect(up.status).toBe(200);
    await fx.gw.send(new StartUserImportJobCommand(jobInput));
    let done = await describe();
    for (let i = 0; i < 600 && ['Pending', 'InProgress'].includes(done?.Status ?? ''); i++) {
      await new Promise((res) => setTimeout(res, 50));
      done = await describe();
    }
    expect(done).toMatchObject({
      Status: 'Succeeded',
      ImportedUsers: 20,
      FailedUsers: 0,
      SkippedUsers: 0,
    });
    const users = [];
    for await (const u of items(fx.gw.pages(paginateListUsers, { UserPoolId: target }), 'Users'))
      users.push(u);
    expect(users).toHaveLength(20);
    for (const u of users) {
      expect(u.UserStatus).toBe('RESET_REQUIRED');
      const a = Object.fromEntries((u.Attributes ?? []).map((x) => [x.Name, x.Value]));
      const i = Number(u.Username?.replace('person-', ''));
      expect(a).toMatchObject({
        name: `${SECRET_NAME}, ${i}`,
        email: `person-${i}@example.com`,
        email_verified: 'true',
      });
    }
  });
});
