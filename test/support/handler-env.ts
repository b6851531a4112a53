/**
 * What the Lambda and Step Functions handler tests share around a moto fixture: the `vault`
 * bucket, the environment that points a handler at moto, and the S3 storage a handler wrote.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Storage } from '../../src/storage/s3.js';
import { type MotoFixture, REGION } from './fixture.js';

export const VAULT_BUCKET = 'vault';

/** An S3 client on the fixture's moto. */
export function motoS3(fixture: MotoFixture): S3Client {
  return new S3Client({ region: REGION, endpoint: fixture.moto.endpoint, forcePathStyle: true });
}

/** Creates the `vault` bucket; returns the client that did (destroy it after the suite). */
export async function createVaultBucket(fixture: MotoFixture): Promise<S3Client> {
  const s3 = motoS3(fixture);
  await s3.send(new CreateBucketCommand({ Bucket: VAULT_BUCKET }));
  return s3;
}

/** Sets the handler's environment: moto's endpoint and Region, then `vars`. */
export function configureHandler(fixture: MotoFixture, vars: Record<string, string>): void {
  Object.assign(process.env, {
    COGNITO_VAULT_ENDPOINT_URL: fixture.moto.endpoint,
    AWS_REGION: REGION,
    ...vars,
  });
}

/** The snapshots a handler wrote under `prefix` of the `vault` bucket. */
export function vaultStorage(fixture: MotoFixture, prefix: string): S3Storage {
  return new S3Storage({ client: motoS3(fixture), bucket: VAULT_BUCKET, prefix });
}
