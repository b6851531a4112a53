import { S3Client } from '@aws-sdk/client-s3';
import { LocalDirStorage } from './local.js';
import { parseLocation } from './location.js';
import { s3ClientConfig, type StorageSettings } from './open.js';
import { S3Storage } from './s3.js';
import type { Storage } from './storage.js';

export * from './storage.js';
export { LocalDirStorage, makeDir, assertWritableDir, assertWritableFile } from './local.js';
export { parseLocation, bucketNameProblem, type Location } from './location.js';
export { MemoryStorage } from './memory.js';
export { ACCOUNT_ID, S3Storage } from './s3.js';
export { loadStorage, type StorageSettings } from './open.js';

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
  return new S3Storage({
    client: new S3Client(s3ClientConfig(settings)),
    bucket: s3.bucket,
    prefix: s3.prefix,
    ...(settings.kmsKeyId ? { kmsKeyId: settings.kmsKeyId } : {}),
    ...(settings.expectedBucketOwner ? { expectedBucketOwner: settings.expectedBucketOwner } : {}),
  });
}
