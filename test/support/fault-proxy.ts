import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback proxy in front of moto that loses answers: for the first N calls of an operation it
 * forwards the request (which takes effect), waits for moto's answer, and then cuts the
 * connection instead of answering — "succeeded, but the response was lost". It can also make
 * the List operations lag: what a lost-answer create made stays out of ListUserPools /
 * ListUserPoolClients for `listLagMs` (Cognito's lists are eventually consistent), and hold
 * the requests of some operations unanswered (`hold`).
 */
export interface FaultProxyOptions {
  target: string;
  /** Operation → how many of its answers to lose. */
  dropResponses: Record<string, number>;
  listLagMs?: number;
  /** Runs after a request took effect and before its answer is dropped. */
  onDrop?: (operation: string, responseBody: unknown) => Promise<void>;
  /**
   * Operations never forwarded nor answered: each request is held until the client gives up or
   * the proxy closes (a Cognito that does not answer them before a deadline).
   */
  hold?: readonly string[];
}

/**
 * The operation a request names: Cognito's from X-Amz-Target; S3's (path-style) as the Storage
 * operation it serves — put, get, exists, list, delete; anything on a lease object
 * (`…/locks/…`, or a listing of `locks/`) is `lease`.
 */
export function operationOf(req: http.IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  if (target) return String(target).split('.').pop() ?? '';
  const url = new URL(req.url ?? '/', 'http://x');
  const objectKey = url.pathname.split('/').filter(Boolean).length > 1;
  const locks = /(^|\/)locks(\/|$)/;
  if (locks.test(url.pathname) || locks.test(url.searchParams.get('prefix') ?? '')) {
    return 's3:lease';
  }
  switch (req.method) {
    case 'PUT':
    case 'POST':
      return 's3:put';
    case 'HEAD':
      // HeadBucket (the storage's look-up of the bucket's Region) is authorized by
      // s3:ListBucket, like a listing; HeadObject by s3:GetObject (exists).
      return objectKey ? 's3:exists' : 's3:list';
    case 'DELETE':
      return 's3:delete';
    default:
      return objectKey ? 's3:get' : 's3:list';
  }
}

export interface FaultProxy {
  endpoint: string;
  /** Operations whose answers were lost, in order. */
  dropped: string[];
  /** Every operation forwarded (see operationOf). */
  calls: Set<string>;
  close(): Promise<void>;
}

const LISTS: Record<string, { key: string; id: string }> = {
  ListUserPools: { key: 'UserPools', id: 'Id' },
  ListUserPoolClients: { key: 'UserPoolClients', id: 'ClientId' },
};

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const remaining = new Map(Object.entries(opts.dropResponses));
  const hidden = new Map<string, number>();
  const dropped: string[] = [];
  const calls = new Set<string>();
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = operationOf(req);
      calls.add(op);
      if (opts.hold?.includes(op)) return;
      const headers = { ...req.headers, host: target.host };
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers,
          agent,
        },
        (upRes) => {
          const out: Buffer[] = [];
          upRes.on('data', (c: Buffer) => out.push(c));
          upRes.on('end', () => {
            void (async () => {
              let payload = Buffer.concat(out);
              const left = remaining.get(op) ?? 0;
              if (left > 0 && (upRes.statusCode ?? 500) < 300) {
                remaining.set(op, left - 1);
                dropped.push(op);
                let parsed: unknown;
                try {
                  parsed = JSON.parse(payload.toString('utf8'));
                } catch {
                  parsed = undefined;
                }
                const p = parsed as {
                  UserPool?: { Id?: string };
                  UserPoolClient?: { ClientId?: string };
                };
                const id = p?.UserPool?.Id ?? p?.UserPoolClient?.ClientId;
                if (id && opts.listLagMs) hidden.set(id, Date.now() + opts.listLagMs);
                await opts.onDrop?.(op, parsed);
                req.socket.destroy();
                return;
              }
              const list = LISTS[op];
              if (list && hidden.size > 0 && (upRes.statusCode ?? 500) < 300) {
                const now = Date.now();
                const doc = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
                const items = (doc[list.key] as Record<string, unknown>[] | undefined) ?? [];
                doc[list.key] = items.filter((it) => {
                  const until = hidden.get(String(it[list.id]));
                  return until === undefined || until <= now;
                });
                payload = Buffer.from(JSON.stringify(doc));
              }
              const h = { ...upRes.headers, 'content-length': String(payload.length) };
              res.writeHead(upRes.statusCode ?? 500, h);
              res.end(payload);
            })();
          });
        },
      );
      up.on('error', () => req.socket.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dropped,
    calls,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      agent.destroy();
    },
  };
}
