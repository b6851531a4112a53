import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Storage } from '../../src/storage/s3.js';
import { useMotoEnv } from '../support/env.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { getText, storageConformance } from '../support/storage-conformance.js';

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
