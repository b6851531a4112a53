import { describe, expect, it } from 'vitest';
import { bucketRegionOf, s3Error } from '../../src/storage/s3.js';

/** An SDK error as @aws-sdk/client-s3 throws it: name, status, raw response headers, body fields. */
function sdkError(
  name: string,
  status: number,
  headers: Record<string, string> = {},
  fields: Record<string, unknown> = {},
  message = '',
): Error {
  return Object.assign(new Error(message), {
    name,
    $metadata: { httpStatusCode: status },
    $response: { statusCode: status, headers },
    ...fields,
  });
}

describe('bucketRegionOf: the Region an S3 answer names', () => {
  it('301 PermanentRedirect and HEAD 301/400/403 name it in x-amz-bucket-region', () => {
    expect(
      bucketRegionOf(sdkError('PermanentRedirect', 301, { 'x-amz-bucket-region': 'us-west-2' })),
    ).toBe('us-west-2');
    expect(bucketRegionOf(sdkError('301', 301, { 'x-amz-bucket-region': 'eu-central-1' }))).toBe(
      'eu-central-1',
    );
    expect(bucketRegionOf(sdkError('400', 400, { 'x-amz-bucket-region': 'ap-southeast-2' }))).toBe(
      'ap-southeast-2',
    );
    expect(bucketRegionOf(sdkError('403', 403, { 'x-amz-bucket-region': 'us-gov-west-1' }))).toBe(
      'us-gov-west-1',
    );
  });

  it('400 AuthorizationHeaderMalformed names it in <Region>, or only in its message', () => {
    expect(
      bucketRegionOf(sdkError('AuthorizationHeaderMalformed', 400, {}, { Region: 'eu-west-1' })),
    ).toBe('eu-west-1');
    expect(
      bucketRegionOf(
        sdkError(
          'AuthorizationHeaderMalformed',
          400,
          {},
          {},
          "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'sa-east-1'",
        ),
      ),
    ).toBe('sa-east-1');
  });

  it('names nothing for other answers, or for a header that is not a Region name', () => {
    expect(
      bucketRegionOf(sdkError('InternalError', 500, { 'x-amz-bucket-region': 'us-west-2' })),
    ).toBeUndefined();
    expect(bucketRegionOf(sdkError('NoSuchKey', 404))).toBeUndefined();
    expect(
      bucketRegionOf(
        sdkError('PermanentRedirect', 301, { 'x-amz-bucket-region': 'evil.example.com' }),
      ),
    ).toBeUndefined();
    expect(
      bucketRegionOf(sdkError('AuthorizationHeaderMalformed', 400, {}, { Region: '../x' })),
    ).toBeUndefined();
    expect(bucketRegionOf(new Error('boom'))).toBeUndefined();
    expect(bucketRegionOf(undefined)).toBeUndefined();
  });

  it('a redirect that cannot be followed is a StorageError naming the bucket’s Region (exit 8)', () => {
    const e = s3Error(
      sdkError('PermanentRedirect', 301, { 'x-amz-bucket-region': 'us-west-2' }),
      'write',
      's3://b/k',
    );
    expect(e).toMatchObject({
      exitCode: 8,
      code: 'IO_ERROR',
      context: { bucketRegion: 'us-west-2' },
    });
    expect(e.message).toContain('the bucket is in us-west-2');
  });
});
