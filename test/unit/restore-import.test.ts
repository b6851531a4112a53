import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  type AdminCreateUserCommandInput,
  AdminDisableUserCommand,
  AdminGetUserCommand,
  AdminLinkProviderForUserCommand,
  CreateGroupCommand,
  CreateIdentityProviderCommand,
  CreateResourceServerCommand,
  CreateUserImportJobCommand,
  type CreateUserImportJobCommandInput,
  CreateUserPoolClientCommand,
  type CreateUserPoolClientCommandInput,
  DescribeUserImportJobCommand,
  type DescribeUserImportJobCommandInput,
  DescribeUserPoolCommand,
  GetCSVHeaderCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserImportJobsCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  StartUserImportJobCommand,
  type StartUserImportJobCommandInput,
  StopUserImportJobCommand,
  type StopUserImportJobCommandInput,
  type UserImportJobType,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, InterruptedError, TargetIncompatibleError } from '../../src/core/errors.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { restoreExitCode, restoreSnapshot } from '../../src/restore/engine.js';
import {
  type ImportFileRef,
  type ImportLogReader,
  isAnotherJobActive,
  parseLogMessage,
  runImportJobs,
  UploadRefusedError,
  type Uploader,
} from '../../src/restore/users/import/jobs.js';
import { RestoreJournal } from '../../src/restore/state/journal.js';
import { StateDirLock } from '../../src/restore/state/lock.js';
import type { RestoreOptions, RestoreResult } from '../../src/restore/types.js';
import { ImportRowEncoder, writeImportFiles } from '../../src/snapshot/import-csv.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { poolLike } from '../../src/restore/users/import/phase.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { CognitoError } from '../../src/core/errors.js';
import { awsError } from '../support/aws-errors.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitGateway } from '../support/unit-gateway.js';

const SOURCE = 'us-east-1_Source';
const TARGET = 'us-east-1_Target';
const ROLE = 'arn:aws:iam::123456789012:role/CognitoImportLogs';

interface U {
  Username: string;
  Attributes: { Name: string; Value: string }[];
  Enabled?: boolean;
  UserStatus?: string;
}

function user(name: string, extra: Partial<U> = {}, verified = true): U {
  return {
    Username: name,
    Attributes: [
      { Name: 'sub', Value: `old-sub-${name}` },
      { Name: 'email', Value: `${name}@example.com` },
      { Name: 'email_verified', Value: verified ? 'true' : 'false' },
      { Name: 'custom:tier', Value: 'gold' },
    ],
    Enabled: true,
    UserStatus: 'CONFIRMED',
    ...extra,
  };
}

const SCHEMA = [
  { Name: 'sub', AttributeDataType: 'String', Mutable: false, Required: true },
  { Name: 'email', AttributeDataType: 'String', Mutable: true, Required: false },
  { Name: 'custom:tier', AttributeDataType: 'String', Mutable: true, Required: false },
] as const;

const HEADER = [
  'name',
  'email',
  'email_verified',
  'phone_number',
  'phone_number_verified',
  'cognito:mfa_enabled',
  'cognito:username',
  'custom:tier',
];

async function makeSnapshot(users: U[], memberships: { group: string; username: string }[]) {
  const storage = new MemoryStorage();
  const w = new SnapshotWriter(storage);
  const pool = {
    Id: SOURCE,
    Name: 'source',
    SchemaAttributes: SCHEMA,
    AutoVerifiedAttributes: ['email'],
    MfaConfiguration: 'OFF',
  };
  await w.writeJson('pool.json', 'pool', { userPool: pool, mfaConfig: {} }, 1);
  const groups = [{ GroupName: 'everyone' }];
  await w.writeJson('groups.json', 'groups', groups, 1);
  await w.writeJson('clients.json', 'clients', [], 0);
  await w.writeJson('identity-providers.json', 'identityProviders', [], 0);
  await w.writeJson('resource-servers.json', 'resourceServers', [], 0);
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', users);
  await w.writeJsonLines('memberships/part-00000.jsonl.gz', 'memberships', memberships);
  await w.commit({
    tool: { name: 'cognito-vault', version: 'test' },
    snapshotId: '2026-11-27T17-22-00-123Z',
    userPool: { id: SOURCE, name: 'source', region: 'us-east-1' },
    startedAt: '2026-11-27T17:22:00.123Z',
    finishedAt: '2026-11-27T17:22:01.123Z',
    counts: {
      users: users.length,
      groups: 1,
      memberships: memberships.length,
      clients: 0,
      identityProviders: 0,
      resourceServers: 0,
    },
    options: { includeSecrets: false, sharding: { mode: 'single', shards: 1 } },
    warnings: [],
  });
  return SnapshotReader.open(storage);
}

// ---- a fake Cognito import service ------------------------------------------------------------

interface FakeJob {
  JobId: string;
  JobName: string;
  Status: string;
  CreationDate: Date;
  StartDate?: Date;
  PreSignedUrl: string;
  csv?: string;
  ImportedUsers: number;
  SkippedUsers: number;
  FailedUsers: number;
  CompletionMessage?: string;
  describes: number;
}

let mock: StackMock;
let gw: CognitoGateway;
let stateDir: string;
let targetPool: UserPoolType;
let jobs: Map<string, FakeJob>;
let targetUsers: Map<string, { sub: string; email: string }>;
let starts: string[];
let uploads: string[];
let stops: string[];
let creates: string[];
let adminCreated: string[];
let logs: Map<string, string[]>;
/** Usernames the fake job fails (a row Cognito rejects). */
let failRows: Set<string>;
/** StartUserImportJob calls to answer "another import job is active". */
let busyStarts: number;
/** Describes a started job stays InProgress for. */
let runFor: number;
/** Whole-job failure. */
let jobFails: boolean;
let clock: number;
let startFake: (i: StartUserImportJobCommandInput) => unknown;

function view(j: FakeJob): UserImportJobType {
  const { csv: _csv, describes: _d, ...rest } = j;
  return rest as UserImportJobType;
}

function complete(j: FakeJob): void {
  if (jobFails) {
    j.Status = 'Failed';
    j.CompletionMessage = 'The CloudWatch Logs role could not be assumed.';
    return;
  }
  const rows = (j.csv ?? '').split('\n').filter((l) => l);
  const header = (rows.shift() ?? '').split(',');
  const ui = header.indexOf('cognito:username');
  const ei = header.indexOf('email');
  const log: string[] = [];
  rows.forEach((row, n) => {
    const cells = row.split(',');
    const name = cells[ui] ?? '';
    const line = n + 2;
    if (failRows.has(name)) {
      j.FailedUsers++;
      log.push(
        `[FAILED] Line Number ${line} - The User Record does not set any of the auto verified attributes to true.`,
      );
    } else if (targetUsers.has(name)) {
      j.SkippedUsers++;
      log.push(`[SKIPPED] Line Number ${line} - The user already exists.`);
    } else {
      j.ImportedUsers++;
      targetUsers.set(name, { sub: `new-sub-${name}`, email: cells[ei] ?? '' });
      log.push(`[SUCCEEDED] Line Number ${line} - The import succeeded.`);
    }
  });
  logs.set(`${j.JobId}/${j.JobName}`, log);
  j.Status = 'Succeeded';
}

const uploader: Uploader = async (url, file) => {
  const id = url.split('/').pop() ?? '';
  const j = jobs.get(id);
  if (!j) throw new UploadRefusedError(404);
  if (clock > j.CreationDate.getTime() + 15 * 60_000) throw new UploadRefusedError(403);
  j.csv = readFileSync(file, 'utf8');
  uploads.push(id);
};

const logReader: ImportLogReader = {
  async *messages(group, stream) {
    expect(group).toBe(`/aws/cognito/userpools/${TARGET}/target`);
    for (const m of logs.get(stream) ?? []) yield m;
  },
};

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'cv-import-unit-'));
  ({ mock, gw } = unitGateway());
  targetPool = {
    Id: TARGET,
    Name: 'target',
    SchemaAttributes: [...SCHEMA],
    AutoVerifiedAttributes: ['email'],
    MfaConfiguration: 'OFF',
  };
  jobs = new Map();
  targetUsers = new Map();
  starts = [];
  uploads = [];
  stops = [];
  creates = [];
  adminCreated = [];
  logs = new Map();
  failRows = new Set();
  busyStarts = 0;
  runFor = 2;
  jobFails = false;
  clock = Date.now();
  let next = 1;
  mock.on(DescribeUserPoolCommand).callsFake(() => ({ UserPool: targetPool }));
  mock.on(GetCSVHeaderCommand).resolves({ CSVHeader: HEADER });
  mock.on(CreateUserImportJobCommand).callsFake((i: CreateUserImportJobCommandInput) => {
    expect(i.CloudWatchLogsRoleArn).toBe(ROLE);
    const id = `import-${next++}`;
    const j: FakeJob = {
      JobId: id,
      JobName: i.JobName ?? '',
      Status: 'Created',
      CreationDate: new Date(clock),
      PreSignedUrl: `https://uploads.example/${id}`,
      ImportedUsers: 0,
      SkippedUsers: 0,
      FailedUsers: 0,
      describes: 0,
    };
    jobs.set(id, j);
    creates.push(id);
    return { UserImportJob: view(j) };
  });
  startFake = (i: StartUserImportJobCommandInput) => {
    if (busyStarts > 0) {
      busyStarts--;
      throw Object.assign(awsError('LimitExceededException'), {
        message: 'Another user import job is already in progress in this account.',
      });
    }
    const j = jobs.get(i.JobId ?? '');
    if (!j) throw awsError('ResourceNotFoundException');
    if (j.Status !== 'Created') throw awsError('InvalidParameterException');
    if (j.csv === undefined) throw awsError('PreconditionNotMetException');
    j.Status = 'InProgress';
    j.StartDate = new Date(clock);
    starts.push(j.JobId);
    return { UserImportJob: view(j) };
  };
  mock.on(StartUserImportJobCommand).callsFake(startFake);
  mock.on(DescribeUserImportJobCommand).callsFake((i: DescribeUserImportJobCommandInput) => {
    const j = jobs.get(i.JobId ?? '');
    if (!j) throw awsError('ResourceNotFoundException');
    if (j.Status === 'InProgress' && ++j.describes >= runFor) complete(j);
    return { UserImportJob: view(j) };
  });
  mock.on(StopUserImportJobCommand).callsFake((i: StopUserImportJobCommandInput) => {
    const j = jobs.get(i.JobId ?? '');
    if (!j) throw awsError('ResourceNotFoundException');
    j.Status = 'Stopped';
    stops.push(j.JobId);
    return { UserImportJob: view(j) };
  });
  mock.on(ListUserImportJobsCommand).callsFake(() => ({
    UserImportJobs: [...jobs.values()].map(view),
  }));
  mock.on(ListUsersCommand).callsFake(() => ({
    Users: [...targetUsers].map(([Username, u]) => ({
      Username,
      Attributes: [
        { Name: 'sub', Value: u.sub },
        { Name: 'email', Value: u.email },
      ],
    })),
  }));
  mock.on(ListGroupsCommand).resolves({ Groups: [] });
  mock.on(CreateGroupCommand).resolves({});
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock.on(CreateResourceServerCommand).resolves({});
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
  mock.on(CreateIdentityProviderCommand).resolves({});
  mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
  mock.on(CreateUserPoolClientCommand).callsFake((i: CreateUserPoolClientCommandInput) => ({
    UserPoolClient: { ClientId: `new-${i.ClientName}`, ClientName: i.ClientName },
  }));
  mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => {
    adminCreated.push(i.Username ?? '');
    return {
      User: { Username: i.Username, Attributes: [{ Name: 'sub', Value: `ac-sub-${i.Username}` }] },
    };
  });
  mock.on(AdminGetUserCommand).rejects(awsError('UserNotFoundException'));
  mock.on(AdminAddUserToGroupCommand).resolves({});
  mock.on(AdminDisableUserCommand).resolves({});
  mock.on(AdminLinkProviderForUserCommand).resolves({});
});

afterEach(async () => {
  mock.restore();
  await rm(stateDir, { recursive: true, force: true });
});

const USERS = [user('alice'), user('bob', { Enabled: false }), user('carol'), user('dave')];
const MEMBERSHIPS = [
  { group: 'everyone', username: 'alice' },
  { group: 'everyone', username: 'bob' },
];

function opts(over: Partial<RestoreOptions> = {}): RestoreOptions {
  return {
    target: { userPoolId: TARGET },
    stateDir,
    usersPath: 'import-job',
    importLogsRoleArn: ROLE,
    importUpload: uploader,
    importLogs: logReader,
    importPollMs: { min: 1, max: 2 },
    ...(process.env.TRACE
      ? { onProgress: (e) => process.stderr.write(`${JSON.stringify(e)}\n`) }
      : {}),
    ...over,
  };
}

async function restore(users: U[], over: Partial<RestoreOptions> = {}) {
  const reader = await makeSnapshot(users, MEMBERSHIPS);
  return (await restoreSnapshot(gw, reader, opts(over))) as RestoreResult;
}

function subMap(r: RestoreResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of readFileSync(r.subMap, 'utf8').split('\n').filter(Boolean)) {
    const e = JSON.parse(l) as { username: string; newSub: string };
    out[e.username] = e.newSub;
  }
  return out;
}

function calls(cmd: Parameters<typeof mock.commandCalls>[0]): number {
  return mock.commandCalls(cmd).length;
}

describe('restore --users import-job', () => {
  it('imports every user through one job, maps the new subs and runs the follow-ups', async () => {
    const r = await restore([...USERS, user('Google_1', { UserStatus: 'EXTERNAL_PROVIDER' })]);
    expect(r.users).toMatchObject({ imported: 4, created: 0, failed: 0, externalProvider: 1 });
    expect(adminCreated).toEqual([]);
    expect(creates).toHaveLength(1);
    expect(starts).toEqual(creates);
    expect(r.importJobs).toMatchObject([
      { status: 'Succeeded', imported: 4, skipped: 0, failed: 0, rows: 4, attempts: 1 },
    ]);
    expect(subMap(r)).toEqual({
      alice: 'new-sub-alice',
      bob: 'new-sub-bob',
      carol: 'new-sub-carol',
      dave: 'new-sub-dave',
    });
    expect(r.disabled).toBe(1);
    expect(r.memberships).toBe(2);
    expect(calls(AdminDisableUserCommand)).toBe(1);
    expect(calls(ListUsersCommand)).toBeGreaterThanOrEqual(1);
    expect(restoreExitCode(r)).toBe(ExitCode.Ok);
    // The job's CSV: the live header, one row per user, no sub column.
    const csv = readFileSync(path.join(stateDir, 'import', r.importJobs[0]?.file ?? ''), 'utf8');
    expect(csv.split('\n')[0]).toBe(HEADER.join(','));
    expect(csv).not.toContain('old-sub-');
    expect(statSync(r.report).mode & 0o777).toBe(0o600);
  });

  it('refuses before writing anything when a user cannot go through the job', async () => {
    const reader = await makeSnapshot([...USERS, user('eve', {}, false)], MEMBERSHIPS);
    await expect(restoreSnapshot(gw, reader, opts())).rejects.toBeInstanceOf(
      TargetIncompatibleError,
    );
    expect(calls(CreateUserImportJobCommand)).toBe(0);
    expect(calls(CreateGroupCommand)).toBe(0);
    const list = await readFile(path.join(stateDir, 'import-ineligible.jsonl'), 'utf8');
    expect(
      list
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { username: string }),
    ).toEqual([expect.objectContaining({ username: 'eve', reason: expect.any(String) })]);
    expect(statSync(path.join(stateDir, 'import-ineligible.jsonl')).mode & 0o777).toBe(0o600);
  });

  it('needs --import-logs-role-arn', async () => {
    const reader = await makeSnapshot(USERS, MEMBERSHIPS);
    await expect(
      restoreSnapshot(gw, reader, opts({ importLogsRoleArn: undefined })),
    ).rejects.toMatchObject({ exitCode: ExitCode.Usage });
  });

  it('--dry-run shows the plan per path and writes nothing to Cognito', async () => {
    const reader = await makeSnapshot([...USERS, user('eve', {}, false)], MEMBERSHIPS);
    const plan = await restoreSnapshot(gw, reader, opts({ dryRun: true, usersPath: 'auto' }));
    if (!plan.dryRun) throw new Error('expected a plan');
    expect(plan.usersPath).toMatchObject({ effective: 'mixed', eligible: 4, ineligible: 1 });
    expect(plan.phases.map((p) => p.phase)).toContain('users (import jobs)');
    expect(plan.phases.find((p) => p.phase === 'users (AdminCreateUser)')?.create).toBe(1);
    expect(calls(CreateUserImportJobCommand)).toBe(0);
  });

  it('maps failed rows back to usernames from the job log, in the report only', async () => {
    failRows = new Set(['carol']);
    const r = await restore(USERS);
    expect(r.users).toMatchObject({ imported: 3, failed: 1 });
    expect(r.failedUsers).toEqual([
      expect.objectContaining({ username: 'carol', operation: 'UserImportJob' }),
    ]);
    expect(r.importJobs[0]).toMatchObject({ failed: 1, lineResults: 'read' });
    const report = JSON.parse(readFileSync(r.report, 'utf8')) as {
      importRows: { username: string; row: number; result: string }[];
    };
    expect(report.importRows).toEqual([
      expect.objectContaining({ username: 'carol', row: 3, result: 'FAILED' }),
    ]);
    expect(JSON.stringify(r.importJobs)).not.toContain('carol');
    expect(restoreExitCode(r)).toBe(ExitCode.PartialRestore);
  });

  it('says so when the job log cannot be read', async () => {
    failRows = new Set(['carol']);
    const denied: ImportLogReader = {
      // eslint-disable-next-line require-yield
      async *messages() {
        throw Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' });
      },
    };
    const r = await restore(USERS, { importLogs: denied });
    expect(r.importJobs[0]).toMatchObject({
      lineResults: 'unreadable',
      lineResultsError: expect.stringContaining('AccessDeniedException'),
    });
    expect(r.warnings.map((w) => w.code)).toContain('IMPORT_LOGS_UNREADABLE');
    expect(r.failedUsers).toEqual([expect.objectContaining({ username: 'carol' })]);
  });

  it('a user the live header refuses is failed, not created, under --users import-job', async () => {
    mock.on(GetCSVHeaderCommand).resolves({ CSVHeader: HEADER.filter((h) => h !== 'custom:tier') });
    const r = await restore([
      user('alice'),
      {
        ...user('bob'),
        Attributes: user('bob').Attributes.filter((a) => a.Name !== 'custom:tier'),
      },
    ]);
    expect(adminCreated).toEqual([]);
    expect(r.users).toMatchObject({ imported: 1, created: 0, failed: 1 });
    expect(r.failedUsers).toEqual([
      expect.objectContaining({
        username: 'alice',
        operation: 'UserImportJob',
        error: expect.stringContaining('column-not-in-header'),
      }),
    ]);
  });

  it('a failed job: its users are reported failed, exit code 6', async () => {
    jobFails = true;
    const r = await restore(USERS);
    expect(r.importJobs[0]?.status).toBe('Failed');
    expect(r.users.failed).toBe(4);
    expect(r.warnings.map((w) => w.code)).toContain('IMPORT_JOB_FAILED');
    expect(restoreExitCode(r)).toBe(ExitCode.PartialRestore);
  });
});

describe('restore --users auto', () => {
  it('imports the eligible users and creates the others with AdminCreateUser', async () => {
    const r = await restore([...USERS, user('eve', {}, false)], { usersPath: 'auto' });
    expect(r.users).toMatchObject({ imported: 4, created: 1, failed: 0 });
    expect(adminCreated).toEqual(['eve']);
    expect(r.usersPath).toMatchObject({ effective: 'mixed', eligible: 4, ineligible: 1 });
    expect(subMap(r).eve).toBe('ac-sub-eve');
    expect(r.warnings.map((w) => w.code)).toContain('IMPORT_INELIGIBLE');
  });

  it('never imports a user who never confirmed the sign-up: AdminCreateUser (an administrator decides)', async () => {
    const r = await restore([...USERS, user('uma', { UserStatus: 'UNCONFIRMED' })], {
      usersPath: 'auto',
    });
    expect(adminCreated).toEqual(['uma']);
    expect(r.users).toMatchObject({ imported: 4, created: 1 });
    expect(r.usersPath.ineligibleByReason).toEqual({ unconfirmed: 1 });
    const csv = readFileSync(path.join(stateDir, 'import', r.importJobs[0]?.file ?? ''), 'utf8');
    expect(csv).not.toContain('uma');
  });

  it('a user a killed run created with AdminCreateUser is not taken for imported on the re-run', async () => {
    // eve cannot go through the job (no verified email); an earlier run created her and died
    // before journaling it, so the target listing after the job shows her.
    targetUsers.set('eve', { sub: 'earlier-run-sub', email: 'eve@example.com' });
    const r = await restore([...USERS, user('eve', {}, false)], { usersPath: 'auto', merge: true });
    // Back on the AdminCreateUser path (which recognises its own creation and sets the
    // sign-in state), not counted as imported.
    expect(adminCreated).toEqual(['eve']);
    expect(r.users).toMatchObject({ imported: 4, created: 1, failed: 0 });
  });

  it('without a logs role, creates everyone with AdminCreateUser and warns', async () => {
    const r = await restore(USERS, { usersPath: 'auto', importLogsRoleArn: undefined });
    expect(r.users).toMatchObject({ imported: 0, created: 4 });
    expect(calls(CreateUserImportJobCommand)).toBe(0);
    expect(r.warnings.map((w) => w.code)).toContain('IMPORT_ROLE_MISSING');
  });

  it('admin-create never calls the import API', async () => {
    const r = await restore(USERS, { usersPath: 'admin-create' });
    expect(r.users).toMatchObject({ imported: 0, created: 4 });
    expect(calls(GetCSVHeaderCommand)).toBe(0);
  });
});

// ---- the job runner on its own: resume and waiting --------------------------------------------

async function files(n: number, perFile: number): Promise<ImportFileRef[]> {
  const users = Array.from({ length: n }, (_, i) => user(`u${String(i).padStart(3, '0')}`));
  const enc = new ImportRowEncoder(HEADER, poolLike(targetPool));
  const set = await writeImportFiles(
    (async function* () {
      yield* users;
    })(),
    enc,
    new LocalDirStorage(stateDir),
    { maxRows: perFile },
  );
  return set.files.map((f) => ({
    name: f.name,
    path: path.join(stateDir, f.name),
    indexPath: path.join(stateDir, f.index),
    rows: f.rows,
    bytes: f.bytes,
    sha256: f.sha256,
  }));
}

async function openJournal(): Promise<RestoreJournal> {
  return RestoreJournal.open(StateDirLock.acquire(stateDir), {
    snapshotId: 's',
    sourcePoolId: SOURCE,
    target: { userPoolId: TARGET },
    at: new Date(clock).toISOString(),
  });
}

async function runJobs(
  fs: ImportFileRef[],
  over: { upload?: Uploader; signal?: AbortSignal; events?: string[] } = {},
) {
  const journal = await openJournal();
  try {
    return await runImportJobs({
      poolId: TARGET,
      poolName: 'target',
      roleArn: ROLE,
      files: fs,
      jobNamePrefix: 'cv-test',
      journal,
      gw,
      signal: over.signal ?? new AbortController().signal,
      progress: (e) => {
        if (e.type === 'phase' && e.detail) over.events?.push(e.detail);
      },
      upload: over.upload ?? uploader,
      logs: logReader,
      now: () => clock,
      pollMinMs: 1,
      pollMaxMs: 2,
      activeJobRetryMs: 1,
    });
  } finally {
    journal.close();
  }
}

describe('import job runner', () => {
  it('one job per file, split at the row limit, run one after the other', async () => {
    const fs = await files(5, 2);
    expect(fs.map((f) => f.rows)).toEqual([2, 2, 1]);
    const r = await runJobs(fs);
    expect(r.jobs.map((j) => j.imported)).toEqual([2, 2, 1]);
    expect(creates).toHaveLength(3);
    expect(starts).toEqual(creates);
    expect(targetUsers.size).toBe(5);
  });

  it('waits for another active import job in the account instead of failing', async () => {
    busyStarts = 3;
    const events: string[] = [];
    const r = await runJobs(await files(2, 10), { events });
    expect(r.jobs[0]?.status).toBe('Succeeded');
    expect(events.filter((e) => /another user import job is active/.test(e))).toHaveLength(3);
    expect(starts).toHaveLength(1);
  });

  it('killed during the upload: the re-run uploads to the same job and starts it once', async () => {
    const fs = await files(3, 10);
    const ac = new AbortController();
    await expect(
      runJobs(fs, {
        signal: ac.signal,
        upload: async () => {
          ac.abort();
          throw new InterruptedError();
        },
      }),
    ).rejects.toBeInstanceOf(InterruptedError);
    expect(creates).toHaveLength(1);
    expect(starts).toHaveLength(0);
    const r = await runJobs(fs);
    expect(creates).toHaveLength(1);
    expect(starts).toEqual(creates);
    expect(r.jobs[0]).toMatchObject({ imported: 3, attempts: 1 });
  });

  it('a created job whose upload URL expired is stopped and replaced, never started', async () => {
    const fs = await files(3, 10);
    const ac = new AbortController();
    await expect(
      runJobs(fs, {
        signal: ac.signal,
        upload: async () => {
          ac.abort();
          throw new InterruptedError();
        },
      }),
    ).rejects.toBeInstanceOf(InterruptedError);
    clock += 16 * 60_000;
    const r = await runJobs(fs);
    expect(creates).toHaveLength(2);
    expect(stops).toEqual([creates[0]]);
    expect(starts).toEqual([creates[1]]);
    expect(r.jobs[0]).toMatchObject({ imported: 3, attempts: 2 });
  });

  it('killed after the upload, before the start: the uploaded job is started, even after its URL expired', async () => {
    const fs = await files(3, 10);
    const ac = new AbortController();
    mock.on(StartUserImportJobCommand).callsFakeOnce(() => {
      ac.abort();
      throw new InterruptedError();
    });
    await expect(runJobs(fs, { signal: ac.signal })).rejects.toBeInstanceOf(InterruptedError);
    expect(uploads).toHaveLength(1);
    mock.on(StartUserImportJobCommand).callsFake(startFake);
    clock += 16 * 60_000;
    const r = await runJobs(fs);
    expect(creates).toHaveLength(1);
    expect(uploads).toHaveLength(1);
    expect(starts).toEqual(creates);
    expect(r.jobs[0]).toMatchObject({ imported: 3, attempts: 1 });
  });

  it('killed while polling: the re-run polls the running job, never starts or imports again', async () => {
    const fs = await files(4, 2);
    runFor = 1_000_000;
    const ac = new AbortController();
    const run1 = runJobs(fs, { signal: ac.signal });
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (starts.length === 1) {
          clearInterval(t);
          resolve();
        }
      }, 1);
    });
    ac.abort();
    await expect(run1).rejects.toBeInstanceOf(InterruptedError);
    runFor = 2;
    const r = await runJobs(fs);
    expect(creates).toHaveLength(2);
    expect(starts).toEqual(creates);
    expect(uploads).toEqual(creates);
    expect(r.jobs.map((j) => j.imported)).toEqual([2, 2]);
  });

  it('the start was sent but not journaled: describe finds it running, no second start', async () => {
    const fs = await files(2, 10);
    // StartUserImportJob takes effect, then the answer is lost and the process dies.
    mock.on(StartUserImportJobCommand).callsFakeOnce((i: StartUserImportJobCommandInput) => {
      const j = jobs.get(i.JobId ?? '') as FakeJob;
      j.Status = 'InProgress';
      j.StartDate = new Date(clock);
      starts.push(j.JobId);
      throw new InterruptedError();
    });
    await expect(runJobs(fs)).rejects.toBeInstanceOf(InterruptedError);
    mock.on(StartUserImportJobCommand).rejects(awsError('InvalidParameterException'));
    const r = await runJobs(fs);
    expect(starts).toHaveLength(1);
    expect(r.jobs[0]).toMatchObject({ imported: 2, status: 'Succeeded' });
  });

  it('a create that was sent but not journaled is adopted by name, not made twice', async () => {
    const fs = await files(2, 10);
    mock.on(CreateUserImportJobCommand).callsFakeOnce((i: CreateUserImportJobCommandInput) => {
      const j: FakeJob = {
        JobId: 'import-lost',
        JobName: i.JobName ?? '',
        Status: 'Created',
        CreationDate: new Date(clock),
        PreSignedUrl: 'https://uploads.example/import-lost',
        ImportedUsers: 0,
        SkippedUsers: 0,
        FailedUsers: 0,
        describes: 0,
      };
      jobs.set(j.JobId, j);
      throw new InterruptedError();
    });
    await expect(runJobs(fs)).rejects.toBeInstanceOf(InterruptedError);
    mock.on(CreateUserImportJobCommand).rejects(new Error('must not create again'));
    const r = await runJobs(fs);
    expect(r.jobs[0]).toMatchObject({ jobId: 'import-lost', imported: 2 });
  });
});

describe('import job helpers', () => {
  it('parses the log lines of the import guide', () => {
    expect(parseLogMessage('[FAILED] Line Number 12 - The user record is bad.')).toEqual({
      result: 'FAILED',
      line: 12,
      message: 'The user record is bad.',
    });
    expect(parseLogMessage('[SKIPPED] Line Number 3 - The user already exists.')?.result).toBe(
      'SKIPPED',
    );
    expect(parseLogMessage('something else')).toBeUndefined();
  });

  it('recognizes "another job is active" but not other refusals', () => {
    const err = (name: string, message: string) =>
      new CognitoError(name, message, { operation: 'StartUserImportJob' });
    expect(
      isAnotherJobActive(err('LimitExceededException', 'Another import job is in progress')),
    ).toBe(true);
    expect(
      isAnotherJobActive(err('PreconditionNotMetException', 'no auto verified attribute')),
    ).toBe(false);
    expect(isAnotherJobActive(err('InvalidParameterException', 'bad'))).toBe(false);
  });
});
