import {
  AddCustomAttributesCommand,
  AdminCreateUserCommand,
  AdminGetUserCommand,
  CognitoIdentityProviderClient,
  CreateUserImportJobCommand,
  CreateUserPoolCommand,
  DeleteUserPoolCommand,
  DescribeUserImportJobCommand,
  GetCSVHeaderCommand,
  ListUserImportJobsCommand,
  ListUserPoolsCommand,
  StartUserImportJobCommand,
  StopUserImportJobCommand,
  UpdateUserPoolCommand,
  type UserImportJobType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImportJobDouble, type ImportJobDouble } from '../../testing/import-job-double.js';
import { ImportRowEncoder, type ImportableUser } from '../../src/snapshot/import-csv.js';
import { useMotoEnv } from '../support/env.js';
import { startMoto, type MotoServer } from '../support/moto.js';

const ROLE = 'arn:aws:iam::123456789012:role/CognitoImportLogs';
let moto: MotoServer;
let dbl: ImportJobDouble;
let cog: CognitoIdentityProviderClient;
let clock = Date.now();

async function newPool(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await cog.send(
    new CreateUserPoolCommand({
      PoolName: name,
      AutoVerifiedAttributes: ['email'],
      Schema: [{ Name: 'tier', AttributeDataType: 'String', Mutable: true }],
      ...extra,
    }),
  );
  return r.UserPool?.Id ?? '';
}

async function header(poolId: string): Promise<string[]> {
  return (await cog.send(new GetCSVHeaderCommand({ UserPoolId: poolId }))).CSVHeader ?? [];
}

async function csvFor(poolId: string, users: ImportableUser[]): Promise<string> {
  const h = await header(poolId);
  const enc = new ImportRowEncoder(h, {
    userPool: { Id: poolId, AutoVerifiedAttributes: ['email'] },
  });
  const lines = users.map((u) => {
    const r = enc.encode(u);
    if (!r.ok) throw new Error(r.reason);
    return r.line;
  });
  return `${enc.headerLine()}\n${lines.join('\n')}\n`;
}

function user(name: string, attrs: Record<string, string> = {}): ImportableUser {
  return {
    Username: name,
    Attributes: Object.entries({
      email: `${name}@example.com`,
      email_verified: 'true',
      ...attrs,
    }).map(([Name, Value]) => ({ Name, Value })),
    UserStatus: 'CONFIRMED',
  };
}

async function createJob(poolId: string): Promise<UserImportJobType> {
  const r = await cog.send(
    new CreateUserImportJobCommand({
      JobName: 'restore',
      UserPoolId: poolId,
      CloudWatchLogsRoleArn: ROLE,
    }),
  );
  return r.UserImportJob ?? {};
}

function put(
  url: string,
  body: string | Buffer,
  sse: string | null = 'aws:kms',
): Promise<Response> {
  return fetch(url, {
    method: 'PUT',
    body,
    headers: sse ? { 'x-amz-server-side-encryption': sse } : {},
  });
}

async function waitDone(poolId: string, jobId: string): Promise<UserImportJobType> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const j =
      (await cog.send(new DescribeUserImportJobCommand({ UserPoolId: poolId, JobId: jobId })))
        .UserImportJob ?? {};
    if (!['Created', 'Pending', 'InProgress', 'Stopping'].includes(j.Status ?? '')) return j;
    if (Date.now() > deadline) throw new Error(`job still ${j.Status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run(poolId: string, csv: string | Buffer): Promise<UserImportJobType> {
  const job = await createJob(poolId);
  expect((await put(job.PreSignedUrl ?? '', csv)).status).toBe(200);
  await cog.send(new StartUserImportJobCommand({ UserPoolId: poolId, JobId: job.JobId }));
  return waitDone(poolId, job.JobId ?? '');
}

function errorName(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: unknown) =>
      `${(e as { name: string }).name} ${(e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? ''}`.trim(),
  );
}

beforeAll(async () => {
  useMotoEnv();
  moto = await startMoto();
  dbl = await startImportJobDouble({
    upstream: moto.endpoint,
    logs: { endpoint: moto.endpoint },
    now: () => clock,
    jobDelayMs: 20,
  });
  cog = new CognitoIdentityProviderClient({ region: 'us-east-1', endpoint: dbl.endpoint });
});

afterAll(async () => {
  cog?.destroy();
  await dbl?.stop();
  await moto?.stop();
});

describe('import-job double', () => {
  it('forwards everything else to moto unchanged', async () => {
    const id = await newPool('forwarded');
    const pools = await cog.send(new ListUserPoolsCommand({ MaxResults: 60 }));
    expect(pools.UserPools?.some((p) => p.Id === id)).toBe(true);
    expect(dbl.stats.forwarded).toBeGreaterThan(0);
  });

  it('GetCSVHeader: standard columns, mfa, username, then custom; no sub', async () => {
    const id = await newPool('header');
    const h = await header(id);
    expect(h.slice(0, 3)).toEqual(['name', 'given_name', 'family_name']);
    expect(h).not.toContain('sub');
    expect(h.indexOf('cognito:username')).toBeGreaterThan(h.indexOf('cognito:mfa_enabled'));
    expect(h[h.length - 1]).toBe('custom:tier');
  });

  it('happy path: users created in RESET_REQUIRED with their attributes, existing one SKIPPED, per-line logs', async () => {
    const id = await newPool('happy');
    await cog.send(
      new AdminCreateUserCommand({
        UserPoolId: id,
        Username: 'already',
        MessageAction: 'SUPPRESS',
      }),
    );
    const csv = await csvFor(id, [
      user('ann', { name: 'Ann, Jr.', 'custom:tier': 'gold', birthdate: '1985-02-01' }),
      user('already'),
      user('ben'),
    ]);
    const job = await run(id, csv);
    expect(job).toMatchObject({
      Status: 'Succeeded',
      ImportedUsers: 2,
      SkippedUsers: 1,
      FailedUsers: 0,
    });
    expect(job.StartDate).toBeInstanceOf(Date);
    expect(job.CompletionDate).toBeInstanceOf(Date);
    const ann = await cog.send(new AdminGetUserCommand({ UserPoolId: id, Username: 'ann' }));
    expect(ann.UserStatus).toBe('RESET_REQUIRED');
    const attrs = Object.fromEntries((ann.UserAttributes ?? []).map((a) => [a.Name, a.Value]));
    expect(attrs).toMatchObject({
      name: 'Ann, Jr.',
      'custom:tier': 'gold',
      email_verified: 'true',
      birthdate: '1985-02-01',
    });
    const info = dbl.jobs().find((j) => j.JobId === job.JobId);
    expect(info?.results.map((r) => `${r.outcome} ${r.line}`)).toEqual([
      'SUCCEEDED 2',
      'SKIPPED 3',
      'SUCCEEDED 4',
    ]);

    // CloudWatch Logs in moto: documented group/stream names and message format
    const logs = await fetch(moto.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Logs_20140328.GetLogEvents',
        authorization:
          'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify({
        logGroupName: `/aws/cognito/userpools/${id}/happy`,
        logStreamName: `${job.JobId}/restore`,
      }),
    });
    const events = ((await logs.json()) as { events: { message: string }[] }).events.map(
      (e) => e.message,
    );
    expect(events).toEqual([
      '[SUCCEEDED] Line Number 2 - The import succeeded.',
      '[SKIPPED] Line Number 3 - The user already exists.',
      '[SUCCEEDED] Line Number 4 - The import succeeded.',
    ]);
  });

  it('rows: quoted value, no true auto-verified attribute, row too long, stray backslash FAIL; the job continues', async () => {
    const id = await newPool('rows');
    const h = await header(id);
    const good = (
      await csvFor(id, [user('ok1'), user('ok2'), user('ok3'), user('ok4'), user('ok5')])
    )
      .trim()
      .split('\n');
    const col = (n: string): number => h.indexOf(n);
    const row = (name: string, set: Record<string, string>): string => {
      const f = h.map(() => '');
      f[col('cognito:username')] = name;
      f[col('cognito:mfa_enabled')] = 'false';
      f[col('email')] = `${name}@example.com`;
      f[col('email_verified')] = 'true';
      for (const [k, v] of Object.entries(set)) f[col(k)] = v;
      return f.join(',');
    };
    const csv = [
      ...good,
      row('quoted', { name: '"Quoted Name"' }),
      row('unverified', { email_verified: 'false' }),
      row('long', { 'custom:tier': 'x'.repeat(16_001) }),
      row('slash', { name: 'a\\b' }),
    ].join('\n');
    const job = await run(id, csv);
    expect(job).toMatchObject({ Status: 'Succeeded', ImportedUsers: 5, FailedUsers: 4 });
    const results = dbl.jobs().find((j) => j.JobId === job.JobId)?.results ?? [];
    expect(results.filter((r) => r.outcome === 'FAILED').map((r) => r.line)).toEqual([7, 8, 9, 10]);
    expect(results.find((r) => r.line === 8)?.message).toMatch(
      /does not set any of the auto verified attributes to true/,
    );
    await expect(
      cog.send(new AdminGetUserCommand({ UserPoolId: id, Username: 'quoted' })),
    ).rejects.toMatchObject({ name: 'UserNotFoundException' });
  });

  it('too many failed rows fail the job (never a faked success)', async () => {
    const id = await newPool('mostly-bad');
    const h = await header(id);
    const bad = h
      .map((c) => (c === 'cognito:username' ? 'x' : c === 'cognito:mfa_enabled' ? 'false' : ''))
      .join(',');
    const job = await run(id, `${h.join(',')}\n${bad}\n`);
    expect(job).toMatchObject({ Status: 'Failed', ImportedUsers: 0, FailedUsers: 1 });
    expect(job.CompletionMessage).toMatch(/Too many users have failed or been skipped/);
  });

  it.each([
    [
      'missing header column',
      (h: string[]) => h.filter((c) => c !== 'email').join(','),
      /missing column email/,
    ],
    [
      'extra unknown column',
      (h: string[]) => [...h, 'custom:nope'].join(','),
      /unknown column custom:nope/,
    ],
  ])('%s fails the job', async (_name, make, message) => {
    const id = await newPool(`hdr-${String(_name).length}`);
    const job = await run(id, `${make(await header(id))}\n`);
    expect(job.Status).toBe('Failed');
    expect(job.CompletionMessage).toMatch(message);
  });

  it('a BOM fails the job', async () => {
    const id = await newPool('bom');
    const csv = await csvFor(id, [user('bomuser')]);
    const job = await run(id, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv)]));
    expect(job.Status).toBe('Failed');
    expect(job.ImportedUsers).toBe(0);
  });

  it('CreateUserImportJob: CloudWatchLogsRoleArn missing or malformed, bad job name, unknown pool', async () => {
    const id = await newPool('create-validation');
    const send = (input: Record<string, unknown>): Promise<string> =>
      errorName(
        cog.send(
          new CreateUserImportJobCommand({
            JobName: 'j',
            UserPoolId: id,
            CloudWatchLogsRoleArn: ROLE,
            ...input,
          }),
        ),
      );
    expect(await send({ CloudWatchLogsRoleArn: undefined })).toBe('InvalidParameterException 400');
    expect(await send({ CloudWatchLogsRoleArn: 'not-an-arn-at-all-but-long' })).toBe(
      'InvalidParameterException 400',
    );
    expect(await send({ JobName: 'bad/name' })).toBe('InvalidParameterException 400');
    expect(await send({ UserPoolId: 'us-east-1_doesnotexist' })).toBe(
      'ResourceNotFoundException 400',
    );
  });

  it('upload: without aws:kms → 403, expired URL (15 min, injected clock) → 403, too large → 400', async () => {
    const id = await newPool('upload');
    const csv = await csvFor(id, [user('u1')]);
    const job = await createJob(id);
    const url = job.PreSignedUrl ?? '';
    expect((await put(url, csv, null)).status).toBe(403);
    expect((await put(url, csv, 'AES256')).status).toBe(403);
    expect(
      (await put(`${url.split('X-Amz-Signature=')[0]}X-Amz-Signature=forged`, csv)).status,
    ).toBe(403);
    // start before any accepted upload
    expect(
      await errorName(
        cog.send(new StartUserImportJobCommand({ UserPoolId: id, JobId: job.JobId })),
      ),
    ).toBe('PreconditionNotMetException 400');
    clock += 15 * 60 * 1000 + 1;
    const late = await put(url, csv);
    expect(late.status).toBe(403);
    expect(await late.text()).toMatch(/Request has expired/);

    const small = await startImportJobDouble({
      upstream: moto.endpoint,
      limits: { maxBytes: 100 },
      now: () => clock,
    });
    try {
      const c = new CognitoIdentityProviderClient({
        region: 'us-east-1',
        endpoint: small.endpoint,
      });
      const j = (
        await c.send(
          new CreateUserImportJobCommand({
            JobName: 'big',
            UserPoolId: id,
            CloudWatchLogsRoleArn: ROLE,
          }),
        )
      ).UserImportJob;
      const r = await put(j?.PreSignedUrl ?? '', 'x'.repeat(101));
      expect(r.status).toBe(400);
      expect(await r.text()).toMatch(/EntityTooLarge/);
      c.destroy();
    } finally {
      await small.stop();
    }
  });

  it('more rows than the limit fail the job before anyone is created', async () => {
    const small = await startImportJobDouble({
      upstream: moto.endpoint,
      limits: { maxRows: 2 },
      jobDelayMs: 5,
    });
    const c = new CognitoIdentityProviderClient({ region: 'us-east-1', endpoint: small.endpoint });
    try {
      const id = await newPool('rows-limit');
      const csv = await csvFor(id, [user('r1'), user('r2'), user('r3')]);
      const j =
        (
          await c.send(
            new CreateUserImportJobCommand({
              JobName: 'big',
              UserPoolId: id,
              CloudWatchLogsRoleArn: ROLE,
            }),
          )
        ).UserImportJob ?? {};
      expect((await put(j.PreSignedUrl ?? '', csv)).status).toBe(200);
      await c.send(new StartUserImportJobCommand({ UserPoolId: id, JobId: j.JobId }));
      let d: UserImportJobType = {};
      for (let i = 0; i < 400; i++) {
        d =
          (await c.send(new DescribeUserImportJobCommand({ UserPoolId: id, JobId: j.JobId })))
            .UserImportJob ?? {};
        if (d.Status === 'Failed' || d.Status === 'Succeeded') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(d.Status).toBe('Failed');
      await expect(
        cog.send(new AdminGetUserCommand({ UserPoolId: id, Username: 'r1' })),
      ).rejects.toMatchObject({ name: 'UserNotFoundException' });
    } finally {
      c.destroy();
      await small.stop();
    }
  });

  it('one active job per account; started twice refused; pool changes refused while it runs; stop', async () => {
    const slow = await startImportJobDouble({ upstream: moto.endpoint, jobDelayMs: 60_000 });
    const c = new CognitoIdentityProviderClient({ region: 'us-east-1', endpoint: slow.endpoint });
    try {
      const a = await newPool('busy-a');
      const b = await newPool('busy-b');
      const mk = async (pool: string): Promise<UserImportJobType> => {
        const j =
          (
            await c.send(
              new CreateUserImportJobCommand({
                JobName: 'j',
                UserPoolId: pool,
                CloudWatchLogsRoleArn: ROLE,
              }),
            )
          ).UserImportJob ?? {};
        expect(
          (await put(j.PreSignedUrl ?? '', await csvFor(pool, [user(`x${pool.slice(-4)}`)])))
            .status,
        ).toBe(200);
        return j;
      };
      const ja = await mk(a);
      const jb = await mk(b);
      const started = await c.send(
        new StartUserImportJobCommand({ UserPoolId: a, JobId: ja.JobId }),
      );
      expect(started.UserImportJob?.Status).toBe('Pending');
      expect(
        await errorName(c.send(new StartUserImportJobCommand({ UserPoolId: a, JobId: ja.JobId }))),
      ).toBe('PreconditionNotMetException 400');
      expect(
        await errorName(c.send(new StartUserImportJobCommand({ UserPoolId: b, JobId: jb.JobId }))),
      ).toBe('PreconditionNotMetException 400');
      expect(
        await errorName(
          c.send(
            new AddCustomAttributesCommand({
              UserPoolId: a,
              CustomAttributes: [{ Name: 'x', AttributeDataType: 'String' }],
            }),
          ),
        ),
      ).toBe('UserImportInProgressException 400');
      expect(await errorName(c.send(new UpdateUserPoolCommand({ UserPoolId: a })))).toBe(
        'UserImportInProgressException 400',
      );
      expect(await errorName(c.send(new DeleteUserPoolCommand({ UserPoolId: a })))).toBe(
        'UserImportInProgressException 400',
      );
      // the other pool is not blocked
      expect(
        await errorName(
          c.send(new UpdateUserPoolCommand({ UserPoolId: b, AutoVerifiedAttributes: ['email'] })),
        ),
      ).toBe('no error');
      const stopped = await c.send(
        new StopUserImportJobCommand({ UserPoolId: a, JobId: ja.JobId }),
      );
      expect(stopped.UserImportJob).toMatchObject({
        Status: 'Stopped',
        CompletionMessage: 'The Import Job was stopped by the developer.',
      });
      expect(
        await errorName(c.send(new StartUserImportJobCommand({ UserPoolId: a, JobId: ja.JobId }))),
      ).toBe('PreconditionNotMetException 400');
      // now b may start
      expect(
        (await c.send(new StartUserImportJobCommand({ UserPoolId: b, JobId: jb.JobId })))
          .UserImportJob?.Status,
      ).toBe('Pending');
      const list = await c.send(new ListUserImportJobsCommand({ UserPoolId: a, MaxResults: 10 }));
      expect(list.UserImportJobs?.map((j) => j.JobId)).toEqual([ja.JobId]);
    } finally {
      c.destroy();
      await slow.stop();
    }
  });

  it('a job never started expires after 24 hours', async () => {
    const id = await newPool('expiry');
    const job = await createJob(id);
    clock += 24 * 3600 * 1000 + 1;
    const d = await cog.send(
      new DescribeUserImportJobCommand({ UserPoolId: id, JobId: job.JobId }),
    );
    expect(d.UserImportJob?.Status).toBe('Expired');
  });

  it('sign-in-by-email pools: cognito:username is the email, the user is found by it', async () => {
    const id = await newPool('by-email', { UsernameAttributes: ['email'] });
    const h = await header(id);
    const enc = new ImportRowEncoder(h, {
      userPool: { Id: id, AutoVerifiedAttributes: ['email'], UsernameAttributes: ['email'] },
    });
    const r = enc.encode(user('7f3c2a10-uuid', { email: 'mail.user@example.com' }));
    if (!r.ok) throw new Error(r.reason);
    const job = await run(id, `${enc.headerLine()}\n${r.line}\n`);
    expect(job).toMatchObject({ Status: 'Succeeded', ImportedUsers: 1 });
    const got = await cog.send(
      new AdminGetUserCommand({ UserPoolId: id, Username: 'mail.user@example.com' }),
    );
    expect(got.UserStatus).toBe('RESET_REQUIRED');
  });

  it('stop while InProgress: Stopping, then Stopped with the remaining lines left alone', async () => {
    const d = await startImportJobDouble({
      upstream: moto.endpoint,
      jobDelayMs: 10,
      concurrency: 1,
    });
    const c = new CognitoIdentityProviderClient({ region: 'us-east-1', endpoint: d.endpoint });
    try {
      const id = await newPool('stop-running');
      const csv = await csvFor(
        id,
        Array.from({ length: 300 }, (_, i) => user(`s${i}`)),
      );
      const j =
        (
          await c.send(
            new CreateUserImportJobCommand({
              JobName: 'j',
              UserPoolId: id,
              CloudWatchLogsRoleArn: ROLE,
            }),
          )
        ).UserImportJob ?? {};
      expect((await put(j.PreSignedUrl ?? '', csv)).status).toBe(200);
      await c.send(new StartUserImportJobCommand({ UserPoolId: id, JobId: j.JobId }));
      for (let i = 0; i < 2000; i++) {
        const s = (
          await c.send(new DescribeUserImportJobCommand({ UserPoolId: id, JobId: j.JobId }))
        ).UserImportJob;
        if (s?.Status === 'InProgress' && (s.ImportedUsers ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const stopping = await c.send(
        new StopUserImportJobCommand({ UserPoolId: id, JobId: j.JobId }),
      );
      expect(stopping.UserImportJob?.Status).toBe('Stopping');
      let end: UserImportJobType = {};
      for (let i = 0; i < 2000; i++) {
        end =
          (await c.send(new DescribeUserImportJobCommand({ UserPoolId: id, JobId: j.JobId })))
            .UserImportJob ?? {};
        if (end.Status !== 'Stopping') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(end.Status).toBe('Stopped');
      expect(end.ImportedUsers).toBeGreaterThan(0);
      expect(end.ImportedUsers).toBeLessThan(300);
      expect(end.FailedUsers).toBe(0);
    } finally {
      c.destroy();
      await d.stop();
    }
  });
});
