import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPool } from '../../testing/seed.js';
import { openStorage } from '../../src/storage/index.js';
import { loadStorage } from '../../src/storage/open.js';
import { S3Storage } from '../../src/storage/s3.js';
import { cliEnv, type Run, startCli } from '../support/cli.js';
import { type MotoFixture, REGION, startMotoFixture } from '../support/fixture.js';
import { type S3RegionProxy, startS3RegionProxy } from '../support/s3-region-proxy.js';
import { getText, listAll, storageConformance } from '../support/storage-conformance.js';

/**
 * Snapshot buckets in another Region than the pool (issue 15 item 3): every command, the library
 * and the Lambda's openStorage, through a proxy that refuses a wrong signing Region the way S3
 * does (test/support/s3-region-proxy.ts).
 */
let fixture: MotoFixture | undefined;
let proxy: S3RegionProxy;
let poolId: string;
const regions: Record<string, string> = {
  'vault-west': 'us-west-2',
  'vault-conformance': 'us-west-2',
  'vault-multipart': 'eu-central-1',
  'vault-moved': 'us-west-2',
  'vault-lambda': 'ap-southeast-2',
  // Owned by moto's account; the conformance run's failing delete expects another owner.
  'vault-foreign': 'us-west-2',
};

beforeAll(async () => {
  fixture = await startMotoFixture('cv-s3-region-');
  proxy = await startS3RegionProxy({
    target: fixture.moto.endpoint,
    bucketRegions: regions,
    mode: 'redirect',
    // The backup account owns the disaster-recovery bucket (moto's account id).
    bucketOwners: { 'vault-west': '123456789012', 'vault-foreign': '123456789012' },
  });
  // The buckets are created in their Regions directly on moto.
  for (const [Bucket, region] of Object.entries(regions)) {
    const c = new S3Client({ region, endpoint: fixture.moto.endpoint, forcePathStyle: true });
    await c.send(
      new CreateBucketCommand({
        Bucket,
        CreateBucketConfiguration: {
          LocationConstraint: region as 'us-west-2',
        },
      }),
    );
    c.destroy();
  }
  poolId = (await seedPool(fixture.gw, { users: 12, groups: 2, poolName: 'region-pool' }))
    .userPoolId;
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await fixture?.stop();
});

function runCli(args: string[], opts: { cwd?: string } = {}): Promise<Run> {
  const home = mkdtempSync(path.join(tmpdir(), 'cv-s3-region-home-'));
  return startCli(args, {
    env: cliEnv(home, proxy.endpoint),
    timeoutMs: 120_000,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  }).done.finally(() => rmSync(home, { recursive: true, force: true }));
}

/** A client in the pool's Region through the proxy, as a command builds it. */
function poolRegionClient(): S3Client {
  return new S3Client({ region: REGION, endpoint: proxy.endpoint, forcePathStyle: true });
}

// Every Storage behaviour, on a bucket in us-west-2 reached with a us-east-1 client.
storageConformance('S3Storage, bucket in another Region (301 PermanentRedirect)', async () => ({
  storage: new S3Storage({
    client: poolRegionClient(),
    bucket: 'vault-conformance',
    prefix: `run/${randomUUID()}`,
    expectedBucketOwner: '123456789012',
  }),
  // Found in its Region, then refused: the bucket belongs to another account than the one the
  // storage expects (403 AccessDenied, the proxy's ExpectedBucketOwner rule).
  failingDelete: async () => ({
    storage: new S3Storage({
      client: poolRegionClient(),
      bucket: 'vault-foreign',
      prefix: `run/${randomUUID()}`,
      expectedBucketOwner: '111122223333',
    }),
    key: 'manifest.json',
  }),
}));

describe('S3Storage finds the bucket’s Region', () => {
  it('multipart upload (lib-storage, 9 MiB) after a 400 AuthorizationHeaderMalformed world: one HEAD refused, every part signed for the bucket’s Region', async () => {
    proxy.setMode('malformed');
    try {
      const before = proxy.refused.length;
      const st = new S3Storage({
        client: poolRegionClient(),
        bucket: 'vault-multipart',
        prefix: 'big',
        expectedBucketOwner: '123456789012',
      });
      const big = randomBytes(9 * 1024 * 1024);
      await st.put('part.bin', Readable.from([big]));
      expect((await st.stat('part.bin'))?.bytes).toBe(big.length);
      const refused = proxy.refused.slice(before);
      expect(refused).toEqual([
        { method: 'HEAD', bucket: 'vault-multipart', signedRegion: 'us-east-1', status: 400 },
      ]);
      const sent = proxy.forwarded.filter((f) => f.bucket === 'vault-multipart');
      expect(sent.map((f) => f.method)).toEqual(
        expect.arrayContaining(['HEAD', 'POST', 'PUT', 'PUT', 'POST']),
      );
      expect(sent.every((f) => f.signedRegion === 'eu-central-1')).toBe(true);
    } finally {
      proxy.setMode('redirect');
    }
  });

  it('a bucket that moved after its Region was cached: the refused request is sent again to the Region S3 names (both answers)', async () => {
    const a = new S3Storage({ client: poolRegionClient(), bucket: 'vault-moved', prefix: 'p' });
    await a.put('x.json', '{"a":1}');
    for (const [mode, region] of [
      ['malformed', 'eu-west-1'],
      ['redirect', 'ap-northeast-1'],
    ] as const) {
      proxy.setMode(mode);
      regions['vault-moved'] = region;
      const before = proxy.refused.length;
      // A new storage (the next command of the process) trusts the cached Region first.
      const b = new S3Storage({ client: poolRegionClient(), bucket: 'vault-moved', prefix: 'p' });
      expect(await getText(b, 'x.json')).toBe('{"a":1}');
      await b.put('y.json', '{}');
      expect([...(await listAll(b)).keys()].sort()).toEqual(['x.json', 'y.json']);
      await b.delete('y.json');
      expect(proxy.refused.length - before).toBe(1);
    }
    proxy.setMode('redirect');
  });

  it('openStorage (the Lambda’s) and loadStorage (the CLI’s) with no Region at all ask us-east-1 and follow', async () => {
    const saved = process.env.AWS_REGION;
    delete process.env.AWS_REGION;
    try {
      const w = openStorage('s3://vault-lambda/cv', { s3EndpointUrl: proxy.endpoint });
      await w.put('a.json', '{"ok":true}');
      const r = await loadStorage('s3://vault-lambda/cv', {
        region: 'us-west-1',
        s3EndpointUrl: proxy.endpoint,
      });
      expect(await getText(r, 'a.json')).toBe('{"ok":true}');
      const sent = proxy.forwarded.filter((f) => f.bucket === 'vault-lambda');
      expect(sent.every((f) => f.signedRegion === 'ap-southeast-2')).toBe(true);
    } finally {
      if (saved !== undefined) process.env.AWS_REGION = saved;
    }
  });
});

describe('every command with the bucket in another Region than the pool', () => {
  it('backup, list, verify, diff, restore --dry-run and prune (pool us-east-1, bucket us-west-2)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cv-s3-region-cli-'));
    try {
      const root = 's3://vault-west/nightly';
      const s3Flags = ['--endpoint-url', proxy.endpoint, '--expected-bucket-owner', '123456789012'];
      const backups: string[] = [];
      for (let i = 0; i < 2; i += 1) {
        const b = await runCli(
          ['backup', '--user-pool-id', poolId, '--to', root, '--json', ...s3Flags],
          { cwd: dir },
        );
        expect(b.code, b.stderr).toBe(0);
        backups.push(JSON.parse(b.stdout).snapshotId as string);
      }
      const snap = `${root}/${poolId}/${backups[1]}`;

      const l = await runCli(['list', root, '--json', ...s3Flags]);
      expect(l.code, l.stderr).toBe(0);
      expect(JSON.stringify(JSON.parse(l.stdout))).toContain(backups[1]);

      const v = await runCli(['verify', snap, '--json', ...s3Flags]);
      expect(v.code, v.stderr).toBe(0);

      const d = await runCli(['diff', snap, '--user-pool-id', poolId, '--json', ...s3Flags]);
      expect(d.code, d.stderr).toBe(0);

      const r = await runCli(
        [
          'restore',
          '--from',
          snap,
          '--create-pool',
          'region-restored',
          '--dry-run',
          '--region',
          REGION,
          '--state-dir',
          path.join(dir, 'state'),
          '--json',
          ...s3Flags,
        ],
        { cwd: dir },
      );
      expect(r.code, r.stderr).toBe(0);

      const p = await runCli(['prune', root, '--keep-last', '1', '--json', ...s3Flags]);
      expect(p.code, p.stderr).toBe(0);
      const after = await runCli(['list', root, '--json', ...s3Flags]);
      expect(after.stdout).not.toContain(backups[0]);
      expect(after.stdout).toContain(backups[1]);

      // Another account's bucket (or a wrong owner id): S3 refuses, exit 8, never read.
      for (const cmd of [
        ['list', root],
        ['verify', snap],
      ]) {
        const denied = await runCli([
          ...cmd,
          '--endpoint-url',
          proxy.endpoint,
          '--expected-bucket-owner',
          '999999999999',
        ]);
        expect(denied.code, denied.stderr).toBe(8);
        expect(denied.stderr).toMatch(/access denied/);
      }

      // Every S3 request that reached the bucket was signed for its Region; each command paid
      // at most one refused request (its HeadBucket) for finding it.
      const west = proxy.forwarded.filter((f) => f.bucket === 'vault-west');
      expect(west.length).toBeGreaterThan(10);
      expect(west.every((f) => f.signedRegion === 'us-west-2')).toBe(true);
      const refused = proxy.refused.filter((f) => f.bucket === 'vault-west' && f.status !== 403);
      expect(refused.every((f) => f.method === 'HEAD')).toBe(true);
      // 10 commands: backup ×2, list ×2, verify, diff, restore, prune, and the two refused.
      expect(refused.length).toBeLessThanOrEqual(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
