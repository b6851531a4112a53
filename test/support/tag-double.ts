import http from 'node:http';

/**
 * moto 5.2.1 keeps a user pool's tags given to CreateUserPool (UserPoolTags, returned by
 * DescribeUserPool) but implements neither TagResource nor ListTagsForResource nor
 * UntagResource (NotImplemented). The drill refreshes its heartbeat tag with TagResource, so
 * this loopback front (client → guard → this → moto) answers those three from memory, written
 * from the Cognito API reference:
 *
 * - TagResource {ResourceArn, Tags}: adds or overwrites the tags (empty response); at most 50
 *   tags a resource (InvalidParameterException beyond); ResourceNotFoundException for a pool that
 *   does not exist.
 * - UntagResource {ResourceArn, TagKeys}: removes them.
 * - ListTagsForResource {ResourceArn}: {Tags}.
 * - DescribeUserPool: UserPoolTags = moto's (from CreateUserPool) overlaid with this store's,
 *   less the keys untagged here, as Cognito shows one set of tags.
 * - DeleteUserPool forgets the pool's tags.
 *
 * Where it differs from AWS: tag key/value syntax is not checked here (the request guard in
 * front checks the request shape against botocore's model); ListUserPools is passed through
 * (Cognito's ListUserPools returns no tags either).
 */
export interface TagDouble {
  endpoint: string;
  /** TagResource calls answered. */
  tagCalls(): number;
  stop(): Promise<void>;
}

const PREFIX = 'AWSCognitoIdentityProviderService.';
const ARN = /^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool\/([\w-]+_[0-9a-zA-Z]+)$/;

const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export async function startTagDouble(
  upstream: string,
  opts: {
    /** Rewrites a forwarded request's input (fault injection: a write that lands wrong). */
    mutate?: (
      operation: string,
      input: Record<string, unknown>,
    ) => Record<string, unknown> | undefined;
  } = {},
): Promise<TagDouble> {
  const target = new URL(upstream);
  const added = new Map<string, Map<string, string>>();
  const removed = new Map<string, Set<string>>();
  let tagCalls = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const send = (
    req: http.IncomingMessage,
    body: Buffer,
    headers: http.IncomingHttpHeaders = req.headers,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const h = { ...headers, host: target.host, 'content-length': String(body.length) };
      delete h.connection;
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: h,
          agent,
        },
        (r) => {
          readBody(r).then(
            (b) => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: b }),
            reject,
          );
        },
      );
      up.on('error', reject);
      up.end(body);
    });

  const answer = (res: http.ServerResponse, status: number, obj: unknown): void => {
    const text = JSON.stringify(obj);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  const error = (res: http.ServerResponse, type: string, message: string): void =>
    answer(res, 400, { __type: type, message });

  /** Does the pool exist in moto? (DescribeUserPool sent upstream with the caller's headers.) */
  const exists = async (req: http.IncomingMessage, poolId: string): Promise<boolean> => {
    const r = await send(req, Buffer.from(JSON.stringify({ UserPoolId: poolId })), {
      ...req.headers,
      'x-amz-target': `${PREFIX}DescribeUserPool`,
    });
    return r.status === 200;
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const t = String(req.headers['x-amz-target'] ?? '');
      const op = t.startsWith(PREFIX) ? t.slice(PREFIX.length) : '';
      let input: Record<string, unknown> = {};
      if (op) {
        try {
          input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
        } catch {
          input = {};
        }
      }
      if (op === 'TagResource' || op === 'UntagResource' || op === 'ListTagsForResource') {
        const arn = String(input.ResourceArn ?? '');
        const m = ARN.exec(arn);
        if (!m?.[1] || !(await exists(req, m[1])))
          return error(res, 'ResourceNotFoundException', `Resource ${arn} not found`);
        const tags = added.get(arn) ?? new Map<string, string>();
        const gone = removed.get(arn) ?? new Set<string>();
        if (op === 'TagResource') {
          tagCalls++;
          const t2 = (input.Tags ?? {}) as Record<string, string>;
          if (tags.size + Object.keys(t2).length > 50)
            return error(res, 'InvalidParameterException', 'A resource can have at most 50 tags');
          for (const [k, v] of Object.entries(t2)) {
            tags.set(k, v);
            gone.delete(k);
          }
        } else if (op === 'UntagResource') {
          for (const k of (input.TagKeys ?? []) as string[]) {
            tags.delete(k);
            gone.add(k);
          }
        }
        added.set(arn, tags);
        removed.set(arn, gone);
        if (op === 'ListTagsForResource') {
          const d = await send(req, Buffer.from(JSON.stringify({ UserPoolId: m[1] })), {
            ...req.headers,
            'x-amz-target': `${PREFIX}DescribeUserPool`,
          });
          const pool = (
            JSON.parse(d.body.toString('utf8')) as {
              UserPool?: { UserPoolTags?: Record<string, string> };
            }
          ).UserPool;
          return answer(res, 200, { Tags: merged(pool?.UserPoolTags, tags, gone) });
        }
        return answer(res, 200, {});
      }
      const changed = op && opts.mutate ? opts.mutate(op, input) : undefined;
      const r = await send(req, changed ? Buffer.from(JSON.stringify(changed)) : body);
      let out = r.body;
      if (op === 'DescribeUserPool' && r.status === 200) {
        const doc = JSON.parse(r.body.toString('utf8')) as {
          UserPool?: { Arn?: string; UserPoolTags?: Record<string, string> };
        };
        const arn = doc.UserPool?.Arn;
        if (doc.UserPool && arn && (added.has(arn) || removed.has(arn))) {
          doc.UserPool.UserPoolTags = merged(
            doc.UserPool.UserPoolTags,
            added.get(arn),
            removed.get(arn),
          );
          out = Buffer.from(JSON.stringify(doc));
        }
      }
      if (op === 'DeleteUserPool' && r.status === 200) {
        for (const arn of [...added.keys()])
          if (arn.endsWith(`/${String(input.UserPoolId)}`)) added.delete(arn);
      }
      // Headers as moto sent them (a HEAD's content-length describes the object, not this
      // empty body); only a rewritten body gets its own length.
      const headers = { ...r.headers };
      if (out !== r.body) {
        headers['content-length'] = String(out.length);
        delete headers['transfer-encoding'];
      }
      res.writeHead(r.status, headers);
      res.end(out);
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    tagCalls: () => tagCalls,
    async stop() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function merged(
  base: Record<string, string> | undefined,
  added: Map<string, string> | undefined,
  removed: Set<string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = { ...(base ?? {}) };
  for (const k of removed ?? []) delete out[k];
  for (const [k, v] of added ?? []) out[k] = v;
  return out;
}
