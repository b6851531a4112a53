/**
 * Unit tests make no network calls (HELPER_RULES, issue 11 part 6): this setup file (vitest
 * `setupFiles` of the unit project) makes every way out fail loudly — a TCP or TLS connection
 * (node:net, node:tls, node:http(s), the AWS SDK's handlers and fetch all end in
 * `net.Socket.prototype.connect`), and DNS lookups. Integration tests (moto on loopback) are a
 * separate vitest project without it.
 */
import dns from 'node:dns';
import net from 'node:net';

export class NetworkInUnitTestError extends Error {
  constructor(what: string) {
    super(
      `unit tests may not use the network (${what}); mock the client, or move the test to test/integration`,
    );
    this.name = 'NetworkInUnitTestError';
  }
}

function describeTarget(args: unknown[]): string {
  // net.connect() passes its normalised arguments as one array.
  if (Array.isArray(args[0])) return describeTarget(args[0] as unknown[]);
  const [first, second] = args;
  if (first && typeof first === 'object') {
    const o = first as { host?: string; port?: number; path?: string };
    return o.path ? `connect to ${o.path}` : `connect to ${o.host ?? 'localhost'}:${o.port}`;
  }
  if (typeof first === 'string' && second === undefined) return `connect to ${first}`;
  return `connect to ${typeof second === 'string' ? second : 'localhost'}:${String(first)}`;
}

// Socket.connect covers net.connect/createConnection, tls.connect, http(s) agents, undici/fetch.
net.Socket.prototype.connect = function blockedConnect(...args: unknown[]): never {
  throw new NetworkInUnitTestError(describeTarget(args));
} as typeof net.Socket.prototype.connect;

const blockedLookup = (host: unknown): never => {
  throw new NetworkInUnitTestError(`DNS lookup of ${String(host)}`);
};
for (const fn of ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'resolveAny']) {
  Object.defineProperty(dns, fn, { value: blockedLookup, configurable: true, writable: true });
  Object.defineProperty(dns.promises, fn, {
    value: blockedLookup,
    configurable: true,
    writable: true,
  });
}
