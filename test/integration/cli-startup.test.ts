import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool, type SeedResult } from '../../testing/seed.js';
import { MOTO_ENV, startMoto, type MotoServer } from '../support/moto.js';

/**
 * Start-up (issue 11, part 5): the CLI loads a command's engine, the AWS SDK clients, zod and
 * the storage backends only when that command runs, and S3 only for s3:// locations. Checked by
 * tracing every module the built CLI loads (test/support/module-trace.mjs), in a child process.
 */
const CLI = path.resolve('dist/cli/main.js');
const TRACE = path.resolve('test/support/module-trace.mjs');

let work: string;
let moto: MotoServer;
let seed: SeedResult;
let runs = 0;

interface Traced {
  code: number | null;
  stdout: string;
  stderr: string;
  modules: string[];
}

async function traced(args: string[]): Promise<Traced> {
  const file = path.join(work, `trace-${++runs}.txt`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: work,
    ...MOTO_ENV,
    AWS_CONFIG_FILE: path.join(work, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'none'),
    MODULE_TRACE_FILE: file,
  };
  const r = await promisify(execFile)(process.execPath, ['--import', TRACE, CLI, ...args], {
    env,
  }).then(
    (ok) => ({ code: 0, ...ok }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  const modules = (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith('esm ') || l.startsWith('cjs '))
    .map((l) => l.slice(4));
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, modules };
}

const loaded = (t: Traced, re: RegExp): string[] => t.modules.filter((m) => re.test(m));

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  work = await mkdtemp(path.join(tmpdir(), 'cv-startup-'));
});

afterAll(async () => {
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('start-up: what --version and --help load', () => {
  it.each([
    ['--version', ''],
    ['--help', ''],
    ['backup', '--help'],
    ['restore', '--help'],
    ['help', 'verify'],
    ['diff', '--help'],
  ])('%s %s loads no AWS SDK, zod, engine or storage backend', async (...args) => {
    const t = await traced(args.filter((a) => a !== ''));
    expect(t.code, t.stderr).toBe(0);
    expect(t.modules.length).toBeGreaterThan(0); // the trace works
    expect(loaded(t, /commander/).length).toBeGreaterThan(0);
    expect(loaded(t, /@aws-sdk|@smithy/)).toEqual([]);
    expect(loaded(t, /node_modules\/(zod|csv-|cli-progress)/)).toEqual([]);
    // Of restore, only the --users path names (restore/users/path.js has no imports).
    expect(
      loaded(t, /dist\/(backup|restore|compare|snapshot|demo|lambda)\/(?!users\/path\.js)/),
    ).toEqual([]);
    // Of storage, only the interface, its pure helpers (parseS3Url, ACCOUNT_ID) and the location
    // parser: no backend.
    // (policy/iam.js is plain data the policy command's help lists its kinds from.)
    expect(loaded(t, /dist\/storage\/(?!storage\.js|location\.js)/)).toEqual([]);
    expect(loaded(t, /dist\/cognito\/gateway/)).toEqual([]);
  });

  it('--help is still complete: every command, and every flag of a command', async () => {
    const top = await traced(['--help']);
    for (const c of [
      'backup',
      'verify',
      'list',
      'policy',
      'prune',
      'demo',
      'restore',
      'diff',
      'export-csv',
    ])
      expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const backup = await traced(['backup', '--help']);
    for (const f of [
      '--user-pool-id',
      '--all-pools',
      '--to',
      '--include-secrets',
      '--shards',
      '--region',
      '--profile',
      '--endpoint-url',
      '--rate-share',
      '--max-rps',
      '--json',
      '--quiet',
    ])
      expect(backup.stdout).toContain(f);
    expect(backup.stdout).toContain('Exit codes:');
  });

  it('policy prints a document without loading the SDK', async () => {
    const t = await traced(['policy', 'backup']);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout)).toHaveProperty('Statement');
    expect(loaded(t, /@aws-sdk/)).toEqual([]);
  });
});

describe('start-up: storage backends load per scheme (moto)', () => {
  beforeAll(async () => {
    moto = await startMoto();
    const gw = CognitoGateway.create(
      {
        region: 'us-east-1',
        endpointUrl: moto.endpoint,
        credentials: {
          accessKeyId: MOTO_ENV.AWS_ACCESS_KEY_ID,
          secretAccessKey: MOTO_ENV.AWS_SECRET_ACCESS_KEY,
        },
      },
      { rate: { unlimited: true } },
    );
    try {
      seed = await seedPool(gw, { users: 20, groups: 2 });
    } finally {
      gw.destroy();
    }
  }, 120_000);

  it('a backup to a directory never loads the S3 client or lib-storage; verify loads no SDK', async () => {
    const to = path.join(work, 'local');
    const t = await traced([
      'backup',
      '--user-pool-id',
      seed.userPoolId,
      '--endpoint-url',
      moto.endpoint,
      '--to',
      to,
      '--quiet',
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(loaded(t, /client-cognito-identity-provider/).length).toBeGreaterThan(0);
    expect(loaded(t, /client-s3|lib-storage|dist\/storage\/s3\.js/)).toEqual([]);

    const [snap] = await readdir(path.join(to, seed.userPoolId));
    const v = await traced(['verify', path.join(to, seed.userPoolId, snap ?? ''), '--quiet']);
    expect(v.code, v.stderr).toBe(0);
    expect(loaded(v, /@aws-sdk|@smithy/)).toEqual([]);
  });

  it('a backup to s3:// loads the S3 backend (and still works)', async () => {
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      forcePathStyle: true,
      credentials: {
        accessKeyId: MOTO_ENV.AWS_ACCESS_KEY_ID,
        secretAccessKey: MOTO_ENV.AWS_SECRET_ACCESS_KEY,
      },
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'startup' }));
    s3.destroy();
    const t = await traced([
      'backup',
      '--user-pool-id',
      seed.userPoolId,
      '--endpoint-url',
      moto.endpoint,
      '--to',
      's3://startup/b',
      '--json',
      '--quiet',
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout)).toMatchObject({ users: 20 });
    expect(loaded(t, /client-s3/).length).toBeGreaterThan(0);
    expect(loaded(t, /lib-storage/).length).toBeGreaterThan(0);
  });
});
