import type { Storage } from './storage.js';
import { parseLocation } from './location.js';

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
 * `s3://bucket/prefix` → S3Storage; anything else is a local directory. Each backend is loaded
 * only when its scheme is used: a local backup never loads @aws-sdk/client-s3 or lib-storage
 * (docs/architecture.md, "Start-up"). The CLI uses this; `openStorage` (storage/index.ts) is the
 * synchronous form for library users who import every backend anyway.
 */
export async function loadStorage(
  location: string,
  settings: StorageSettings = {},
  what = 'location',
): Promise<Storage> {
  // A malformed URL (`S3://b`, `s3:/b`, `https://…`) is a UsageError before anything is loaded.
  const s3 = parseLocation(location, what);
  if (s3.kind === 'local') {
    const { LocalDirStorage } = await import('./local.js');
    return new LocalDirStorage(s3.path);
  }
  const [{ S3Client }, { S3Storage }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('./s3.js'),
  ]);
  return new S3Storage({
    client: new S3Client(s3ClientConfig(settings)),
    bucket: s3.bucket,
    prefix: s3.prefix,
    ...(settings.kmsKeyId ? { kmsKeyId: settings.kmsKeyId } : {}),
    ...(settings.expectedBucketOwner ? { expectedBucketOwner: settings.expectedBucketOwner } : {}),
  });
}

export function s3ClientConfig(settings: StorageSettings): {
  region: string | undefined;
  profile?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
} {
  return {
    region: settings.region,
    ...(settings.profile ? { profile: settings.profile } : {}),
    ...(settings.s3EndpointUrl ? { endpoint: settings.s3EndpointUrl, forcePathStyle: true } : {}),
  };
}
