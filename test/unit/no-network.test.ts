import dns from 'node:dns';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { DescribeUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import { describe, expect, it } from 'vitest';
import { createCognitoClient } from '../../src/cognito/gateway.js';

/** The unit project's setup (test/support/no-network.ts) fails every way out to the network. */
describe('unit tests cannot reach the network', () => {
  it('net.connect, tls.connect and http.request throw', () => {
    expect(() => net.connect(443, '198.51.100.7')).toThrow(/unit tests may not use the network/);
    expect(() => net.createConnection({ host: '127.0.0.1', port: 1 })).toThrow(
      /connect to 127\.0\.0\.1:1/,
    );
    expect(() => tls.connect(443, 'cognito-idp.us-east-1.amazonaws.com')).toThrow(
      /unit tests may not use the network/,
    );
    expect(() => http.get('http://127.0.0.1:1/')).toThrow(/unit tests may not use the network/);
  });

  it('DNS lookups throw', async () => {
    expect(() => dns.lookup('example.com', () => undefined)).toThrow(/DNS lookup of example\.com/);
    await expect(async () => dns.promises.lookup('example.com')).rejects.toThrow(/DNS lookup/);
  });

  it('fetch fails', async () => {
    const e = await fetch('http://127.0.0.1:8080/').then(
      () => undefined,
      (err: Error) => err,
    );
    expect(String((e?.cause as Error | undefined)?.message)).toMatch(
      /unit tests may not use the network/,
    );
  });

  it('a real (unmocked) Cognito client fails without sending anything', async () => {
    const client = createCognitoClient({
      region: 'us-east-1',
      endpointUrl: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    try {
      await expect(
        client.send(new DescribeUserPoolCommand({ UserPoolId: 'us-east-1_x' })),
      ).rejects.toThrow(/unit tests may not use the network/);
    } finally {
      client.destroy();
    }
  });
});
