import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback proxy in front of moto's S3 that answers a request signed for the wrong Region the
 * way Amazon S3 does. moto accepts any signing Region, so without this a client built with the
 * pool's Region "works" against a bucket in another Region — on AWS it fails.
 *
 * Each bucket named in `bucketRegions` lives in that Region. An S3 request (SigV4 credential
 * scope `…/REGION/s3/aws4_request`, in the Authorization header or a pre-signed URL's
 * X-Amz-Credential) for such a bucket signed for another Region is refused, not forwarded:
 *
 * - `mode: 'redirect'` (a bucket in a Region launched before 20 March 2019, reached at another
 *   Region's endpoint): 301 Moved Permanently with the `x-amz-bucket-region` header and an XML
 *   error body, code PermanentRedirect, with the Endpoint to use. S3's REST redirect rules:
 *   https://docs.aws.amazon.com/AmazonS3/latest/dev/Redirects.html ("If a request is incorrectly
 *   formed, Amazon S3 uses permanent redirects"); the body's elements as S3 sends them
 *   (Code, Message, Bucket, Endpoint, RequestId, HostId), e.g. in
 *   https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html.
 * - `mode: 'malformed'` (a Region launched after 20 March 2019 — "Amazon S3 returns an HTTP 400
 *   Bad Request error", same page — or a request that reached the bucket's Region signed for
 *   another): 400 Bad Request, code AuthorizationHeaderMalformed, message "The authorization
 *   header is malformed; the region 'us-east-1' is wrong; expecting 'us-west-2'" and the expected
 *   Region in a <Region> element — the answer quoted in CloudFront's guide for an S3 origin,
 *   https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-400-bad-request.html.
 *   This answer carries no `x-amz-bucket-region` header here: a client must read the body.
 * - HEAD requests (HeadBucket, HeadObject) never have a body: "A message body is not included"
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html). They get the status
 *   of the mode (301, or 400) with the `x-amz-bucket-region` header only — HeadBucket returns
 *   the bucket's Region in that header "whether access to the bucket is authorized or not"
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html, which
 *   recommends HeadBucket for Region discovery).
 *
 * Cross-account: each bucket of `bucketOwners` belongs to that account. A request carrying
 * `x-amz-expected-bucket-owner` with another account is refused with 403 AccessDenied ("If the
 * bucket is owned by a different account, the request fails with the HTTP status code 403
 * Forbidden (access denied)",
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html), after the
 * Region check; moto does not check the header at all.
 *
 * Correctly signed requests, requests for other buckets and non-S3 requests (Cognito's
 * X-Amz-Target calls) are forwarded unchanged. A refused request's body is read to its end
 * first (S3 answers after the headers; a client that sent the body sees the answer).
 *
 * Where it differs from S3: the redirect's Endpoint is the virtual-hosted AWS name (a client
 * must not follow it to leave loopback; the SDK does not follow it either); a 200 HeadBucket is
 * moto's own (the proxy adds `x-amz-bucket-region` to it, as S3 does); temporary redirects
 * (307) are not produced.
 */
export interface S3RegionProxyOptions {
  target: string;
  /** Bucket → the Region it lives in. */
  bucketRegions: Record<string, string>;
  mode: 'redirect' | 'malformed';
  /** Bucket → the 12-digit account that owns it. */
  bucketOwners?: Record<string, string>;
}

export interface RefusedRequest {
  method: string;
  bucket: string;
  signedRegion: string;
  status: number;
}

export interface S3RegionProxy {
  endpoint: string;
  /** Requests refused for their signing Region, in order. */
  refused: RefusedRequest[];
  /** Requests forwarded to moto for a bucket of `bucketRegions` (method + signed Region). */
  forwarded: { method: string; bucket: string; signedRegion: string }[];
  setMode(mode: 'redirect' | 'malformed'): void;
  close(): Promise<void>;
}

const SCOPE = /Credential=[^/,\s]+\/\d{8}\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/;

/** The SigV4 scope's Region and service, from the Authorization header or a pre-signed URL. */
function signingScope(req: http.IncomingMessage): { region: string; service: string } | undefined {
  const auth = req.headers.authorization;
  const m = auth ? SCOPE.exec(auth) : undefined;
  if (m) return { region: m[1] as string, service: m[2] as string };
  const cred = new URL(req.url ?? '/', 'http://x').searchParams.get('X-Amz-Credential');
  const parts = cred?.split('/');
  if (parts && parts.length === 5)
    return { region: parts[2] as string, service: parts[3] as string };
  return undefined;
}

function xmlError(fields: Record<string, string>): string {
  const inner = Object.entries(fields)
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${inner}</Error>`;
}

export async function startS3RegionProxy(opts: S3RegionProxyOptions): Promise<S3RegionProxy> {
  const target = new URL(opts.target);
  let mode = opts.mode;
  const refused: RefusedRequest[] = [];
  const forwarded: S3RegionProxy['forwarded'] = [];
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    // Path-style addressing (forcePathStyle, as every client of an endpoint override uses).
    const bucket = decodeURIComponent(url.pathname.split('/')[1] ?? '');
    const scope = signingScope(req);
    const home = opts.bucketRegions[bucket];
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (scope?.service === 's3' && home !== undefined && scope.region !== home) {
        const requestId = randomBytes(8).toString('hex').toUpperCase();
        const hostId = randomBytes(24).toString('base64');
        const status = mode === 'redirect' ? 301 : 400;
        refused.push({ method: req.method ?? '', bucket, signedRegion: scope.region, status });
        const headers: Record<string, string> = {
          'x-amz-request-id': requestId,
          'x-amz-id-2': hostId,
          server: 'AmazonS3',
        };
        if (req.method === 'HEAD' || mode === 'redirect') headers['x-amz-bucket-region'] = home;
        if (req.method === 'HEAD') {
          res.writeHead(status, headers);
          res.end();
          return;
        }
        const body =
          mode === 'redirect'
            ? xmlError({
                Code: 'PermanentRedirect',
                Message:
                  'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
                Bucket: bucket,
                Endpoint: `${bucket}.s3.${home}.amazonaws.com`,
                RequestId: requestId,
                HostId: hostId,
              })
            : xmlError({
                Code: 'AuthorizationHeaderMalformed',
                Message: `The authorization header is malformed; the region '${scope.region}' is wrong; expecting '${home}'`,
                Region: home,
                RequestId: requestId,
                HostId: hostId,
              });
        res.writeHead(status, {
          ...headers,
          'content-type': 'application/xml',
          'content-length': String(Buffer.byteLength(body)),
        });
        res.end(body);
        return;
      }
      const owner = opts.bucketOwners?.[bucket];
      const expected = req.headers['x-amz-expected-bucket-owner'];
      if (scope?.service === 's3' && owner !== undefined && expected && expected !== owner) {
        refused.push({ method: req.method ?? '', bucket, signedRegion: scope.region, status: 403 });
        if (req.method === 'HEAD') {
          // HeadBucket names the Region "whether access to the bucket is authorized or not".
          res.writeHead(403, {
            server: 'AmazonS3',
            ...(home ? { 'x-amz-bucket-region': home } : {}),
          });
          res.end();
          return;
        }
        const body = xmlError({
          Code: 'AccessDenied',
          Message: 'Access Denied',
          RequestId: randomBytes(8).toString('hex').toUpperCase(),
          HostId: randomBytes(24).toString('base64'),
        });
        res.writeHead(403, {
          'content-type': 'application/xml',
          'content-length': String(Buffer.byteLength(body)),
          server: 'AmazonS3',
        });
        res.end(body);
        return;
      }
      if (scope?.service === 's3' && home !== undefined)
        forwarded.push({ method: req.method ?? '', bucket, signedRegion: scope.region });
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
          agent,
        },
        (upRes) => {
          const headers = { ...upRes.headers };
          // S3 names the bucket's Region on every HeadBucket answer.
          if (
            req.method === 'HEAD' &&
            home !== undefined &&
            url.pathname.split('/').slice(2).join('') === ''
          )
            headers['x-amz-bucket-region'] = home;
          res.writeHead(upRes.statusCode ?? 502, headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => {
        res.destroy();
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    refused,
    forwarded,
    setMode(m) {
      mode = m;
    },
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
