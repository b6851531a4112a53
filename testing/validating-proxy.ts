import http from 'node:http';
import { formatViolation, RequestGuard, type Violation } from './request-guard.js';

/**
 * A loopback HTTP front for the emulator (or any other front, so fronts chain:
 * client → this → another double → moto) that checks every Cognito request against Cognito's
 * API model (see request-guard.ts) and forwards it unchanged. Other services' requests (S3, the
 * emulator's own /moto-api/) pass through unchecked.
 *
 * By default a violation is recorded and the request still forwarded (the caller asserts
 * `violations()` is empty at the end); `reject: true` answers it as AWS does instead, with
 * a 400 InvalidParameterException naming the member and rule (never the value).
 */
export interface ValidatingProxy {
  endpoint: string;
  port: number;
  /** Cognito requests checked so far. */
  checked(): number;
  /** Every violation so far, in arrival order. */
  violations(): Violation[];
  stop(): Promise<void>;
}

export interface ValidatingProxyOptions {
  /** Where requests go, e.g. moto's `http://127.0.0.1:PORT`. */
  upstream: string;
  /** Defaults to botocore's Cognito model (throws when it cannot be found). */
  guard?: RequestGuard;
  reject?: boolean;
  /** Keeps at most this many violations (the count keeps growing). Default 1000. */
  maxKept?: number;
}

const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export async function startValidatingProxy(opts: ValidatingProxyOptions): Promise<ValidatingProxy> {
  const guard = opts.guard ?? RequestGuard.fromBotocore();
  const target = new URL(opts.upstream);
  const prefix = `${guard.targetPrefix}.`;
  const maxKept = opts.maxKept ?? 1000;
  const kept: Violation[] = [];
  let checked = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<import('node:net').Socket>();

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer | undefined,
  ): void => {
    const headers = { ...req.headers, host: target.host };
    delete headers.connection;
    const up = http.request(
      {
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
      },
      (upRes) => {
        const h = { ...upRes.headers };
        delete h.connection;
        res.writeHead(upRes.statusCode ?? 502, h);
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
      },
    );
    up.on('error', (e) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `validating proxy: upstream error ${e.message}` }));
      } else res.destroy();
    });
    if (body) up.end(body);
    else req.pipe(up);
  };

  const server = http.createServer((req, res) => {
    const targetHeader = req.headers['x-amz-target'];
    const op =
      typeof targetHeader === 'string' && targetHeader.startsWith(prefix)
        ? targetHeader.slice(prefix.length)
        : undefined;
    if (!op) {
      forward(req, res, undefined);
      return;
    }
    readBody(req).then(
      (body) => {
        checked++;
        let input: unknown;
        try {
          input = body.length ? JSON.parse(body.toString('utf8')) : {};
        } catch {
          input = undefined;
        }
        const found: Violation[] =
          input === undefined
            ? [{ operation: op, path: '', rule: 'body is not JSON' }]
            : guard.validate(op, input);
        for (const v of found) if (kept.length < maxKept) kept.push(v);
        if (found.length > 0 && opts.reject) {
          const first = found[0] as Violation;
          const text = JSON.stringify({
            __type: 'InvalidParameterException',
            message: `${found.length} validation error${found.length > 1 ? 's' : ''} detected: ${formatViolation(first)}`,
          });
          res.writeHead(400, {
            'content-type': 'application/x-amz-json-1.1',
            'x-amzn-errortype': 'InvalidParameterException',
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
          return;
        }
        forward(req, res, body);
      },
      () => res.destroy(),
    );
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    checked: () => checked,
    violations: () => [...kept],
    async stop() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      agent.destroy();
      await closed;
    },
  };
}
