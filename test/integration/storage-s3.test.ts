import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { HttpRequest } from '@smithy/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSnapshots } from '../../src/snapshot/catalog.js';
import { acquireLease } from '../../src/snapshot/lease.js';
import { prune } from '../../src/snapshot/retention.js';
import { S3Storage } from '../../src/storage/s3.js';
import { tinySnapshot } from '../support/tiny-snapshot.js';
import { useMotoEnv } from '../support/env.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import {
  failingBody,
  getText,
  listAll,
  storageConformance,
} from '../support/storage-conformance.js';

let moto: MotoServer;
let client: S3Client;
const bucket = 'cognito-vault-conformance';

beforeAll(async () => {
  useMotoEnv();
  moto = await startMoto();
  client = new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

// Each test gets its own prefix in the shared bucket, so it starts empty.
storageConformance('S3Storage (moto S3)', async () => ({
  storage: new S3Storage({ client, bucket, prefix: `run/${randomUUID()}` }),
  // A delete in a bucket that does not exist (deleted, or a typo in the location) fails.
  failingDelete: async () => ({
    storage: new S3Storage({ client, bucket: `gone-${randomUUID().slice(0, 8)}`, prefix: 'x' }),
    key: 'manifest.json',
  }),
}));

describe('S3Storage specifics', () => {
  it('a missing bucket is StorageError NOT_FOUND on get', async () => {
    const s = new S3Storage({ client, bucket: 'no-such-bucket-here', prefix: 'x' });
    await expect(s.get('a.json')).rejects.toMatchObject({ code: 'NOT_FOUND', exitCode: 8 });
  });

  it('works at the bucket root (no prefix)', async () => {
    const b = `root-${randomUUID().slice(0, 8)}`;
    await client.send(new CreateBucketCommand({ Bucket: b }));
    const s = new S3Storage({ client, bucket: b });
    expect(s.location).toBe(`s3://${b}`);
    await s.child('pool/snap').put('manifest.json', '{}');
    expect(await getText(s, 'pool/snap/manifest.json')).toBe('{}');
    const keys: string[] = [];
    for await (const e of s.list()) keys.push(e.key);
    expect(keys).toEqual(['pool/snap/manifest.json']);
  });
});

describe('S3Storage errors and retention on S3', () => {
  it('delete, stat and list on a missing bucket are StorageErrors (exit 8), never unmapped', async () => {
    const s = new S3Storage({ client, bucket: 'no-such-bucket-for-delete', prefix: 'x' });
    await expect(s.delete('a.json')).rejects.toMatchObject({ exitCode: 8 });
    await expect(s.list()[Symbol.asyncIterator]().next()).rejects.toMatchObject({ exitCode: 8 });
    await expect(s.put('a.json', '{}')).rejects.toMatchObject({ exitCode: 8 });
  });

  it('prune on S3 keeps leased and fresh incomplete snapshots, deletes the rest with their leases', async () => {
    const root = new S3Storage({ client, bucket, prefix: `prune/${randomUUID()}` });
    const pool = 'us-east-1_S3Prune';
    const write = (iso: string, complete: boolean): Promise<string> =>
      tinySnapshot(root, pool, iso, complete);
    const s1 = await write('2026-11-01T00:00:00Z', true);
    const s2 = await write('2026-11-02T00:00:00Z', true);
    const s3 = await write('2026-11-03T00:00:00Z', true);
    // Started long ago by its id, but its objects were written just now: still running.
    const s4 = await write('2026-10-01T00:00:00Z', false);
    const lease = await acquireLease(root.child(s1), 'restore');
    const listed = await listSnapshots(root);
    expect(listed.find((s) => s.path === s4)?.lastActivity).toBeInstanceOf(Date);
    const r = await prune(root, { keepLast: 1 });
    const byPath = new Map(r.decisions.map((d) => [d.path, d]));
    expect(byPath.get(s1)).toMatchObject({ keep: true, reasons: ['in-use'] });
    expect(byPath.get(s2)).toMatchObject({ keep: false, reasons: ['expired'] });
    expect(byPath.get(s3)).toMatchObject({ keep: true, reasons: ['last'] });
    expect(byPath.get(s4)).toMatchObject({ keep: true, reasons: ['maybe-running'] });
    const left = new Set<string>();
    for await (const e of root.list()) left.add(e.key.split('/').slice(0, 2).join('/'));
    expect([...left].sort()).toEqual([s1, s3, s4].sort());
    await lease.release();
    await prune(root, { keepLast: 1 });
    expect((await listSnapshots(root)).map((s) => s.path).sort()).toEqual([s3, s4].sort());
  });
});

/** moto's account: the owner of every bucket it creates. */
const MOTO_ACCOUNT = '123456789012';
const KEY = 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000001';

// The whole conformance suite again, with ExpectedBucketOwner and SSE-KMS on every request.
storageConformance(
  'S3Storage (moto S3) with --expected-bucket-owner and --sse-kms-key-id',
  async () => ({
    storage: new S3Storage({
      client,
      bucket,
      prefix: `owned/${randomUUID()}`,
      expectedBucketOwner: MOTO_ACCOUNT,
      kmsKeyId: KEY,
    }),
    // The same options against a bucket that does not exist: the delete fails.
    failingDelete: async () => ({
      storage: new S3Storage({
        client,
        bucket: `gone-${randomUUID().slice(0, 8)}`,
        prefix: 'x',
        expectedBucketOwner: MOTO_ACCOUNT,
        kmsKeyId: KEY,
      }),
      key: 'manifest.json',
    }),
  }),
);

describe('ExpectedBucketOwner and SSE-KMS on the wire', () => {
  it('every request of every operation type carries them (multipart and its abort included)', async () => {
    const wire = new S3Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      forcePathStyle: true,
    });
    const seen: { op: string; owner?: string; sse?: string; key?: string }[] = [];
    wire.middlewareStack.add(
      (next, context) => async (args) => {
        const h = (args.request as HttpRequest).headers;
        seen.push({
          op: String(context.commandName),
          owner: h['x-amz-expected-bucket-owner'],
          sse: h['x-amz-server-side-encryption'],
          key: h['x-amz-server-side-encryption-aws-kms-key-id'],
        });
        return next(args);
      },
      { step: 'build', name: 'recordWire' },
    );
    // moto does not check ExpectedBucketOwner (a foreign owner is accepted), so what is
    // asserted is that S3 is asked to check it: the header on every request.
    // A bucket of its own: its Region is not known yet, so the storage's HeadBucket is seen.
    const wireBucket = `wire-${randomUUID().slice(0, 8)}`;
    await client.send(new CreateBucketCommand({ Bucket: wireBucket }));
    const st = new S3Storage({
      client: wire,
      bucket: wireBucket,
      prefix: `wire/${randomUUID()}`,
      expectedBucketOwner: MOTO_ACCOUNT,
      kmsKeyId: KEY,
    });
    await st.put('small.json', '{}');
    const big = randomBytes(9 * 1024 * 1024);
    await st.put('big.bin', Readable.from([big]));
    const boom = new Error('boom');
    const err = await st.put('broken.bin', failingBody(9 * 1024 * 1024, boom)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(
      err === boom || (err as { cause?: unknown } | undefined)?.cause === boom,
      String(err),
    ).toBe(true);
    expect(await getText(st, 'small.json')).toBe('{}');
    expect(await st.exists('big.bin')).toBe(true);
    expect([...(await listAll(st)).keys()].sort()).toEqual(['big.bin', 'small.json']);
    await st.delete('small.json');
    wire.destroy();

    const ops = new Set(seen.map((r) => r.op));
    for (const op of [
      // The bucket's Region is looked up first, with the expected owner too.
      'HeadBucketCommand',
      'PutObjectCommand',
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'CompleteMultipartUploadCommand',
      'AbortMultipartUploadCommand',
      'GetObjectCommand',
      'HeadObjectCommand',
      'ListObjectsV2Command',
      'DeleteObjectCommand',
    ]) {
      expect(ops, op).toContain(op);
    }
    expect(seen.filter((r) => r.owner !== MOTO_ACCOUNT)).toEqual([]);
    for (const r of seen.filter((x) => /^(PutObject|CreateMultipartUpload)Command$/.test(x.op))) {
      expect(r).toMatchObject({ sse: 'aws:kms', key: KEY });
    }
    const head = await client.send(
      new HeadObjectCommand({
        Bucket: wireBucket,
        Key: `${st.location.replace(`s3://${wireBucket}/`, '')}/big.bin`,
      }),
    );
    expect(head.ServerSideEncryption).toBe('aws:kms');
  });
});
