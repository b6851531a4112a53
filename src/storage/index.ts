import { S3Client } from '@aws-sdk/client-s3';
import { LocalDirStorage } from './local.js';
import { parseLocation } from './location.js';
import { S3Storage } from './s3.js';
import type { Storage } from './storage.js';

export * from './storage.js';
export { LocalDirStorage, makeDir, assertWritableDir, assertWritableFile } from './local.js';
export { parseLocation, bucketNameProblem, type Location } from './location.js';
export { MemoryStorage } from './memory.js';
export { ACCOUNT_ID, S3Storage, parseS3Url } from './s3.js';

export interface StorageSettings {
  region?: string;
  profile?: string;
  /** S3 endpoint (tests, S3-compatible stores); AWS_ENDPOINT_URL_S3 is honoured by the SDK. */
  s3EndpointUrl?: string;
  /** SSE-KMS key id or ARN for every object written (PutObject and multipart uploads). */
  kmsKeyId?: string;
  /** 12-digit account id that must own the bucket (ExpectedBucketOwner on every request). */
  expectedBucketOwner?: string;
}

/**
 * `s3://bucket/prefix` → S3Storage; a local directory → LocalDirStorage. A malformed URL
 * (`S3://b`, `s3:/b`, `s3://`, `https://…`) is a UsageError before anything is touched.
 */
export function openStorage(
  location: string,
  settings: StorageSettings = {},
  what = 'location',
): Storage {
  const s3 = parseLocation(location, what);
  if (s3.kind === 'local') return new LocalDirStorage(s3.path);
  const client = new S3Client({
    region: settings.region,
    ...(settings.profile ? { profile: settings.profile } : {}),
    ...(settings.s3EndpointUrl ? { endpoint: settings.s3EndpointUrl, forcePathStyle: true } : {}),
  });
  return new S3Storage({
    client,
    bucket: s3.bucket,
    prefix: s3.prefix,
    ...(settings.kmsKeyId ? { kmsKeyId: settings.kmsKeyId } : {}),
    ...(settings.expectedBucketOwner ? { expectedBucketOwner: settings.expectedBucketOwner } : {}),
  });
}
