/**
 * The Cognito client, stack double and gateway a unit test talks to: a client with dummy
 * credentials (the double answers before signing, so nothing leaves the process), the double on
 * its middleware stack (stack-mock.ts), and a gateway on it with no rate limit and fast retries.
 *
 *   let client: CognitoIdentityProviderClient;
 *   let mock: StackMock;
 *   let gw: CognitoGateway;
 *   beforeEach(() => ({ client, mock, gw } = unitGateway()));
 *   afterEach(() => mock.restore());
 *
 * unitStack() is the same without the gateway (a client with the SDK's defaults).
 */
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { CognitoGateway, type GatewayOptions } from '../../src/cognito/gateway.js';
import { type StackMock, stackMock } from './stack-mock.js';

/** Retries of restore tests: fast, and a transient error given up after two attempts. */
export const FAST_RETRY: NonNullable<GatewayOptions['retry']> = {
  baseDelayMs: 1,
  maxDelayMs: 2,
  transientAttempts: 2,
};

/** A client for unit tests (dummy credentials; pair it with stackMock, never a network). */
export function unitClient(region = 'us-east-1'): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({
    region,
    credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
  });
}

export interface UnitStack {
  client: CognitoIdentityProviderClient;
  mock: StackMock;
  /** Takes the double off the client and destroys the client. */
  destroy(): void;
}

/** A unit client (the SDK's defaults, nothing of ours) with a stack double on it. */
export function unitStack(region?: string): UnitStack {
  const client = unitClient(region);
  const mock = stackMock(client);
  return {
    client,
    mock,
    destroy: () => {
      mock.restore();
      client.destroy();
    },
  };
}

export interface UnitGateway extends UnitStack {
  gw: CognitoGateway;
}

/**
 * A unit client with a stack double and an unlimited-rate gateway. `retry` replaces FAST_RETRY
 * as a whole (unset fields take the gateway's defaults).
 */
export function unitGateway(
  opts: { retry?: GatewayOptions['retry']; region?: string } = {},
): UnitGateway {
  const stack = unitStack(opts.region);
  const gw = new CognitoGateway(stack.client, {
    rate: { unlimited: true },
    retry: opts.retry ?? FAST_RETRY,
  });
  return { ...stack, gw };
}
