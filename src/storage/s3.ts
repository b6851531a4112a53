import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
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
  // A 403 is a refusal whatever the body says, and a HEAD answer (stat) has no body to say it:
  // the SDK names it only by its status. S3 never answers a request signed for the wrong Region
  // with 403 (that is 301 or 400), so a Region header on a 403 (HeadObject carries the bucket's
  // own, ExpectedBucketOwner refusals included) is no redirect.
  const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (
    name === 'AccessDenied' ||
    name === 'Forbidden' ||
    name === 'AllAccessDisabled' ||
    status === 403
  ) {
    return new StorageError(
      'UNWRITABLE',
      `access denied to ${location} (${name === 'Unknown' || /^\d+$/.test(name) ? '403 Forbidden' : name})`,
      { location, op },
      { cause: e },
    );
  }
  const region = bucketRegionOf(e);
  if (region) {
    return new StorageError(
      'IO_ERROR',
      `${op} failed for ${location}: the bucket is in ${region} (${name})`,
      { location, op, bucketRegion: region },
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

const REGION_NAME = /^[a-z]{2}(-[a-z0-9]+)+-\d+$/;

/**
 * The bucket's Region named by an S3 answer to a request signed for another Region, or
 * undefined. S3 answers such a request with 301 PermanentRedirect (Regions launched before
 * 20 March 2019) or 400 (later Regions, or a request that reached the bucket's Region signed for
 * another: AuthorizationHeaderMalformed, "the region 'us-east-1' is wrong; expecting
 * 'us-west-2'", the Region in a <Region> element); both name the Region in the
 * `x-amz-bucket-region` header, which HEAD answers (no body) carry alone. HeadBucket names it
 * in that header whether access is authorized or not, so a 403 can name it too.
 * https://docs.aws.amazon.com/AmazonS3/latest/dev/Redirects.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html
 */
export function bucketRegionOf(e: unknown): string | undefined {
  const err = e as {
    name?: string;
    message?: string;
    Region?: unknown;
    $metadata?: { httpStatusCode?: number };
    $response?: { headers?: Record<string, string | undefined> };
  };
  const status = err?.$metadata?.httpStatusCode;
  const header = err?.$response?.headers?.['x-amz-bucket-region'];
  const candidates: unknown[] = [];
  if (status === 301 || status === 400 || status === 403) candidates.push(header);
  if (err?.name === 'AuthorizationHeaderMalformed') {
    candidates.push(err.Region);
    candidates.push(/expecting '([^']+)'/.exec(err.message ?? '')?.[1]);
  }
  return candidates.find((c): c is string => typeof c === 'string' && REGION_NAME.test(c));
}

/**
 * A client like `client` (credentials, endpoint override, path style, HTTP handler, attempts)
 * for another Region. FIPS and dual-stack come from the environment and shared config again
 * (the resolved providers of `client` are bound to its Region); middleware added to `client`
 * after it was made is not copied: S3Storage adds its own (ExpectedBucketOwner) again.
 */
export function clientInRegion(client: S3Client, region: string): S3Client {
  const c = client.config;
  return new S3Client({
    region,
    credentials: c.credentials,
    requestHandler: c.requestHandler,
    forcePathStyle: c.forcePathStyle,
    maxAttempts: c.maxAttempts,
    ...(c.isCustomEndpoint && c.endpoint ? { endpoint: c.endpoint } : {}),
  });
}

/**
 * The Region each bucket was found in, per endpoint: every S3Storage of the process (each
 * command's, each Lambda invocation's in a warm container) asks S3 once per bucket.
 */
const knownRegions = new Map<string, string>();

async function regionKey(client: S3Client, bucket: string): Promise<string> {
  const c = client.config;
  if (!c.isCustomEndpoint || !c.endpoint) return `aws|${bucket}`;
  const e = await c.endpoint();
  return `${e.protocol}//${e.hostname}:${e.port ?? ''}${e.path}|${bucket}`;
}

/**
 * The client for one bucket, in the bucket's Region; shared by an S3Storage and its children.
 * Internal to S3Storage (exported for its constructor's type only).
 */
export class BucketClient {
  private current: Promise<S3Client> | undefined;
  private readonly made = new Map<string, S3Client>();

  constructor(
    private readonly base: S3Client,
    private readonly bucket: string,
    private readonly owner: string | undefined,
  ) {}

  /** The client for the bucket's Region (found with one HeadBucket, then cached). */
  get(): Promise<S3Client> {
    this.current ??= this.resolve();
    return this.current;
  }

  /**
   * After an answer that names another Region (the bucket moved, or the cache was wrong): the
   * client for it, or undefined when the answer names none or the Region already in use.
   */
  async redirected(e: unknown, used: S3Client): Promise<S3Client | undefined> {
    const region = bucketRegionOf(e);
    if (!region || region === (await regionOf(used))) return undefined;
    knownRegions.set(await regionKey(this.base, this.bucket), region);
    const next = this.inRegion(region);
    this.current = Promise.resolve(next);
    return next;
  }

  private inRegion(region: string): S3Client {
    let c = this.made.get(region);
    if (!c) {
      c = clientInRegion(this.base, region);
      if (this.owner) enforceBucketOwner(c, this.owner);
      this.made.set(region, c);
    }
    return c;
  }

  private async resolve(): Promise<S3Client> {
    const key = await regionKey(this.base, this.bucket);
    const own = await regionOf(this.base);
    const known = knownRegions.get(key);
    if (known) return known === own ? this.base : this.inRegion(known);
    // No Region configured at all (no --region, AWS_REGION or profile Region): ask in
    // us-east-1, whose answer names the bucket's.
    const asker = own ? this.base : this.inRegion('us-east-1');
    let found: string | undefined;
    try {
      const r = await asker.send(new HeadBucketCommand({ Bucket: this.bucket }));
      // An S3-compatible store may name no Region: the configured one, not remembered.
      found = r?.BucketRegion && REGION_NAME.test(r.BucketRegion) ? r.BucketRegion : undefined;
    } catch (e) {
      // Denied (the policy `cognito-vault policy` prints grants s3:ListBucket only for the
      // prefix, so HeadBucket is refused): S3's 403 still names the Region. A missing bucket, a
      // denial without a Region, a network failure: the operations themselves report it (as
      // StorageError, exit 8), in the configured Region.
      found = bucketRegionOf(e);
    }
    if (!found) return own ? this.base : this.inRegion('us-east-1');
    knownRegions.set(key, found);
    return found === own ? this.base : this.inRegion(found);
  }

  destroy(): void {
    for (const c of this.made.values()) c.destroy();
    this.made.clear();
  }
}

async function regionOf(client: S3Client): Promise<string | undefined> {
  try {
    return await client.config.region();
  } catch {
    return undefined;
  }
}

/**
 * An S3 bucket and prefix. Uploads stream through @aws-sdk/lib-storage (multipart).
 *
 * The bucket may be in another Region than the client (the usual disaster-recovery layout: the
 * pool in us-east-1, its backups in us-west-2 or another account): before its first request the
 * storage asks S3 for the bucket's Region with one HeadBucket (cached per bucket for the
 * process) and sends everything with a client for that Region; an answer that still names
 * another Region (301 PermanentRedirect, 400 AuthorizationHeaderMalformed) switches the client
 * and the request is sent once more. The SDK's own `followRegionRedirects` is not used: it
 * swaps the Region of the shared client configuration for the duration of one request (a race
 * between concurrent requests, aws-sdk-js-v3 middleware-sdk-s3), follows only answers with the
 * header, and pays one refused request per request.
 */
export class S3Storage implements Storage {
  readonly location: string;
  private readonly prefix: string;
  private readonly clients: BucketClient;

  constructor(
    private readonly opts: S3StorageOptions,
    shared?: BucketClient,
  ) {
    if (opts.expectedBucketOwner) enforceBucketOwner(opts.client, opts.expectedBucketOwner);
    this.prefix = joinKey(opts.prefix ?? '');
    this.location = `s3://${opts.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    this.clients = shared ?? new BucketClient(opts.client, opts.bucket, opts.expectedBucketOwner);
  }

  /**
   * Sends with the bucket's client; an answer naming another Region switches the client and the
   * request is made once more (`make` builds it anew).
   */
  private async send<T>(make: (client: S3Client) => Promise<T>): Promise<T> {
    const client = await this.clients.get();
    try {
      return await make(client);
    } catch (e) {
      const other = await this.clients.redirected(e, client);
      if (!other) throw e;
      return make(other);
    }
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

  put(key: string, body: Readable | Uint8Array | string, signal?: AbortSignal): Promise<void> {
    return this.putOnce(key, body, signal, true);
  }

  private async putOnce(
    key: string,
    body: Readable | Uint8Array | string,
    signal: AbortSignal | undefined,
    mayRedirect: boolean,
  ): Promise<void> {
    const Key = this.keyOf(key);
    if (signal?.aborted) {
      if (body instanceof Readable) body.destroy();
      throw abortReason(signal);
    }
    const client = await this.clients.get();
    const upload = new Upload({
      client,
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
      // Sent to the wrong Region (the bucket moved since it was looked up): a body held in
      // memory is sent again to the Region S3 named; a stream was consumed and cannot be.
      if (mayRedirect && !(body instanceof Readable) && (await this.clients.redirected(e, client)))
        return this.putOnce(key, body, signal, false);
      throw s3Error(e, 'write', `s3://${this.opts.bucket}/${Key}`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(key: string, signal?: AbortSignal): Promise<Readable> {
    const Key = this.keyOf(key);
    if (signal?.aborted) throw abortReason(signal);
    try {
      const r = await this.send((c) =>
        c.send(
          new GetObjectCommand({ Bucket: this.opts.bucket, Key, ...this.owner }),
          signal ? { abortSignal: signal } : {},
        ),
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
      const r = await this.send((c) =>
        c.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key, ...this.owner })),
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
        const input = {
          Bucket: this.opts.bucket,
          Prefix: base ? `${base}/` : undefined,
          ContinuationToken,
          ...this.owner,
        };
        r = await this.send((c) => c.send(new ListObjectsV2Command(input)));
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
      await this.send((c) =>
        c.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key, ...this.owner })),
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
    return new S3Storage({ ...this.opts, prefix: joinKey(this.prefix, prefix) }, this.clients);
  }
}

export { parseS3Url } from './storage.js';
