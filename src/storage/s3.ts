import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { CredentialsError, StorageError, VaultError } from '../core/errors.js';
import { mapStreamErrors } from './local.js';
import {
  abortReason,
  assertSafeKey,
  destroyOnAbort,
  joinKey,
  type Storage,
  type StorageEntry,
  type StorageStat,
} from './storage.js';
import { opt } from '../core/options.js';

export interface S3StorageOptions {
  client: S3Client;
  bucket: string;
  prefix?: string;
  /** Server-side encryption with this KMS key (default: the bucket's default encryption). */
  kmsKeyId?: string;
  /**
   * The account that must own the bucket: every request carries ExpectedBucketOwner, so S3
   * refuses (403) instead of reading from or writing snapshots to a bucket someone else owns.
   */
  expectedBucketOwner?: string;
}

/** A 12-digit AWS account id. */
export { ACCOUNT_ID } from './storage.js';

const OWNER_MIDDLEWARE = 'cognitoVaultExpectedBucketOwner';

/**
 * Adds ExpectedBucketOwner to every command the client sends — also the ones @aws-sdk/lib-storage
 * builds itself (UploadPart, CompleteMultipartUpload, AbortMultipartUpload), which would
 * otherwise go without it. Every S3 object and bucket operation accepts the parameter.
 */
export function enforceBucketOwner(client: S3Client, owner: string): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { ExpectedBucketOwner?: string };
      input.ExpectedBucketOwner ??= owner;
      return next(args);
    },
    { step: 'initialize', name: OWNER_MIDDLEWARE, override: true },
  );
}

const CREDENTIAL_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
]);

/**
 * Every S3 failure as the tool's error: missing credentials or rejected keys are exit 5, anything
 * else about the bucket (missing, access denied, KMS refusals, 503 after the SDK's retries,
 * network failures) a StorageError, exit 8. Never an unmapped error (exit 1).
 */
export function s3Error(e: unknown, op: string, location: string): VaultError {
  if (e instanceof VaultError) return e;
  const name = (e as { name?: string })?.name ?? 'Error';
  const message = (e as { message?: string })?.message ?? '';
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new CredentialsError(
      'NO_CREDENTIALS',
      `no AWS credentials found for ${location} (set AWS_PROFILE/${opt('profile')}, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`,
      { location, op },
      { cause: e },
    );
  }
  if (CREDENTIAL_NAMES.has(name)) {
    return new CredentialsError(
      'ACCESS_DENIED',
      `the AWS credentials were rejected for ${location} (${name})`,
      { location, op },
      { cause: e },
    );
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket') {
    return new StorageError(
      'NOT_FOUND',
      `${location} does not exist`,
      { location, op },
      { cause: e },
    );
  }
  if (name === 'AccessDenied' || name === 'Forbidden' || name === 'AllAccessDisabled') {
    return new StorageError(
      'UNWRITABLE',
      `access denied to ${location} (${name})`,
      { location, op },
      { cause: e },
    );
  }
  return new StorageError(
    'IO_ERROR',
    `${op} failed for ${location} (${name})`,
    { location, op },
    { cause: e },
  );
}

/** An S3 bucket and prefix. Uploads stream through @aws-sdk/lib-storage (multipart). */
export class S3Storage implements Storage {
  readonly location: string;
  private readonly prefix: string;

  constructor(private readonly opts: S3StorageOptions) {
    if (opts.expectedBucketOwner) enforceBucketOwner(opts.client, opts.expectedBucketOwner);
    this.prefix = joinKey(opts.prefix ?? '');
    this.location = `s3://${opts.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  /** ExpectedBucketOwner for a command's input (the middleware adds it too; explicit is clearer). */
  private get owner(): { ExpectedBucketOwner?: string } {
    return this.opts.expectedBucketOwner
      ? { ExpectedBucketOwner: this.opts.expectedBucketOwner }
      : {};
  }

  private keyOf(key: string): string {
    assertSafeKey(key);
    return joinKey(this.prefix, key);
  }

  async put(
    key: string,
    body: Readable | Uint8Array | string,
    signal?: AbortSignal,
  ): Promise<void> {
    const Key = this.keyOf(key);
    if (signal?.aborted) {
      if (body instanceof Readable) body.destroy();
      throw abortReason(signal);
    }
    const upload = new Upload({
      client: this.opts.client,
      params: {
        Bucket: this.opts.bucket,
        Key,
        Body: body,
        ...this.owner,
        ...(this.opts.kmsKeyId
          ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.opts.kmsKeyId }
          : {}),
      },
      queueSize: 4,
      partSize: 8 * 1024 * 1024,
    });
    // Aborting stops the upload (a multipart upload is aborted, so no parts are left behind) and
    // the body: a stream that waits for more data would otherwise keep its producer running.
    const onAbort = (): void => {
      void upload.abort().catch(() => undefined);
      if (body instanceof Readable) body.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (e) {
      if (signal?.aborted) throw abortReason(signal);
      // The body's own failure (a Cognito error, an interruption) is not a storage problem.
      if (e instanceof VaultError) throw e;
      throw s3Error(e, 'write', `s3://${this.opts.bucket}/${Key}`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(key: string, signal?: AbortSignal): Promise<Readable> {
    const Key = this.keyOf(key);
    if (signal?.aborted) throw abortReason(signal);
    try {
      const r = await this.opts.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key, ...this.owner }),
        signal ? { abortSignal: signal } : {},
      );
      // A connection reset half-way through the body is a storage error too.
      return destroyOnAbort(
        mapStreamErrors(r.Body as Readable, (e) =>
          s3Error(e, 'read', `s3://${this.opts.bucket}/${Key}`),
        ),
        signal,
      );
    } catch (e) {
      if (signal?.aborted) throw abortReason(signal);
      throw s3Error(e, 'read', `s3://${this.opts.bucket}/${Key}`);
    }
  }

  async stat(key: string): Promise<StorageStat | undefined> {
    const Key = this.keyOf(key);
    try {
      const r = await this.opts.client.send(
        new HeadObjectCommand({ Bucket: this.opts.bucket, Key, ...this.owner }),
      );
      return {
        bytes: r.ContentLength ?? 0,
        ...(r.LastModified ? { modified: r.LastModified } : {}),
      };
    } catch (e) {
      const err = s3Error(e, 'stat', `s3://${this.opts.bucket}/${Key}`);
      // HEAD on a missing key is 404 NotFound; on a missing bucket the listing fails instead.
      if (err.code === 'NOT_FOUND' && (e as { name?: string })?.name !== 'NoSuchBucket')
        return undefined;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async *list(prefix = ''): AsyncIterable<StorageEntry> {
    const base = joinKey(this.prefix, prefix);
    let ContinuationToken: string | undefined;
    do {
      let r;
      try {
        r = await this.opts.client.send(
          new ListObjectsV2Command({
            Bucket: this.opts.bucket,
            Prefix: base ? `${base}/` : undefined,
            ContinuationToken,
            ...this.owner,
          }),
        );
      } catch (e) {
        throw s3Error(e, 'list', `s3://${this.opts.bucket}/${base}`);
      }
      for (const o of r.Contents ?? []) {
        if (!o.Key) continue;
        yield {
          key: this.prefix ? o.Key.slice(this.prefix.length + 1) : o.Key,
          bytes: o.Size ?? 0,
          ...(o.LastModified ? { modified: o.LastModified } : {}),
        };
      }
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async delete(key: string): Promise<void> {
    const Key = this.keyOf(key);
    try {
      await this.opts.client.send(
        new DeleteObjectCommand({ Bucket: this.opts.bucket, Key, ...this.owner }),
      );
    } catch (e) {
      throw s3Error(e, 'delete', `s3://${this.opts.bucket}/${Key}`);
    }
  }

  /** S3 has no directories: a deleted object leaves nothing behind. */
  async removeEmptyDirs(): Promise<void> {
    // nothing to remove
  }

  child(prefix: string): Storage {
    assertSafeKey(prefix);
    return new S3Storage({ ...this.opts, prefix: joinKey(this.prefix, prefix) });
  }
}

export { parseS3Url } from './storage.js';
