import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPool } from '../../testing/seed.js';
import { type MotoFixture, REGION, startMotoFixture } from '../support/fixture.js';
import { MOTO_ENV } from '../support/moto.js';

/** --expected-bucket-owner and --sse-kms-key-id through the CLI, on moto S3. */
const CLI = path.resolve('dist/cli/main.js');
const KEY = 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-0000000000c1';

let fixture: MotoFixture | undefined;
let s3: S3Client;
let poolId: string;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...MOTO_ENV };
    delete env.AWS_PROFILE;
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  fixture = await startMotoFixture('cv-cli-s3-');
  s3 = new S3Client({ region: REGION, endpoint: fixture.moto.endpoint, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'vault' }));
  poolId = (await seedPool(fixture.gw, { users: 10, groups: 2, poolName: 'cli-s3' })).userPoolId;
});

afterAll(async () => {
  s3?.destroy();
  await fixture?.stop();
});

describe('S3 flags on the CLI', () => {
  it('backup writes every object with SSE-KMS under the key; verify and list read them', async () => {
    const f = fixture as MotoFixture;
    const common = ['--endpoint-url', f.moto.endpoint, '--expected-bucket-owner', '123456789012'];
    const b = await cli([
      'backup',
      '--user-pool-id',
      poolId,
      '--to',
      's3://vault/kms',
      '--sse-kms-key-id',
      KEY,
      '--json',
      '--quiet',
      ...common,
    ]);
    expect(b.code, b.stderr).toBe(0);
    const snapshot = (JSON.parse(b.stdout) as { snapshot: string }).snapshot;
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'vault', Prefix: 'kms/' }));
    expect(listed.Contents?.length).toBeGreaterThan(3);
    for (const o of listed.Contents ?? []) {
      const h = await s3.send(new HeadObjectCommand({ Bucket: 'vault', Key: o.Key }));
      expect(h.ServerSideEncryption, o.Key).toBe('aws:kms');
      expect(h.SSEKMSKeyId, o.Key).toBe(KEY);
    }
    const v = await cli(['verify', snapshot, '--json', ...common]);
    expect(v.code, v.stderr).toBe(0);
    const l = await cli(['list', 's3://vault/kms', '--json', ...common]);
    expect(l.code, l.stderr).toBe(0);
    await s3.send(new GetObjectCommand({ Bucket: 'vault', Key: listed.Contents?.[0]?.Key }));
  });

  it('exits 2 for a malformed account id, or the flags on a local directory', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cv-cli-flags-'));
    for (const args of [
      ['verify', 's3://vault/x', '--expected-bucket-owner', '12345'],
      ['verify', dir, '--expected-bucket-owner', '123456789012'],
      ['list', dir, '--sse-kms-key-id', KEY],
    ]) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/12-digit|s3:\/\/ locations only/);
    }
  });
});
