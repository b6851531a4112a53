import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { HttpRequest } from '@smithy/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Storage } from '../../src/storage/s3.js';
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
    const st = new S3Storage({
      client: wire,
      bucket,
      prefix: `wire/${randomUUID()}`,
      expectedBucketOwner: MOTO_ACCOUNT,
      kmsKeyId: KEY,
    });
    await st.put('small.json', '{}');
    const big = randomBytes(9 * 1024 * 1024);
    await st.put('big.bin', Readable.from([big]));
    await expect(
      st.put('broken.bin', failingBody(9 * 1024 * 1024, new Error('boom'))),
    ).rejects.toThrow();
    expect(await getText(st, 'small.json')).toBe('{}');
    expect(await st.exists('big.bin')).toBe(true);
    expect([...(await listAll(st)).keys()].sort()).toEqual(['big.bin', 'small.json']);
    await st.delete('small.json');
    wire.destroy();

    const ops = new Set(seen.map((r) => r.op));
    for (const op of [
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
        Bucket: bucket,
        Key: `${st.location.replace(`s3://${bucket}/`, '')}/big.bin`,
      }),
    );
    expect(head.ServerSideEncryption).toBe('aws:kms');
  });
});
