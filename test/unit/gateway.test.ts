import {
  AdminCreateUserCommand,
  CognitoIdentityProviderClient,
  DescribeUserPoolCommand,
  InternalErrorException,
  InvalidParameterException,
  ListGroupsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  NotAuthorizedException,
  ResourceNotFoundException,
  TooManyRequestsException,
  paginateListGroups,
  paginateListUsers,
  paginateListUsersInGroup,
  type ListUsersCommandInput,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CognitoError,
  CredentialsError,
  InterruptedError,
  ServiceUnavailableError,
  UsageError,
  type VaultError,
} from '../../src/core/errors.js';
import { classifyFailure, toVaultError } from '../../src/cognito/errors.js';
import {
  CognitoGateway,
  items,
  regionOfPoolId,
  resolveRegion,
  type RetryPolicy,
} from '../../src/cognito/gateway.js';
import { RateController } from '../../src/cognito/rate.js';
import { awsError, htmlServerError, netError } from '../support/aws-errors.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitStack } from '../support/unit-gateway.js';

const POOL = 'us-east-1_TestPool1';
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

const throttle = () =>
  new TooManyRequestsException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });

const FAST: Partial<RetryPolicy> = { baseDelayMs: 1, maxDelayMs: 4 };

function users(from: number, n: number): UserType[] {
  return Array.from({ length: n }, (_, i) => ({ Username: `u${from + i}`, Enabled: true }));
}

let client: CognitoIdentityProviderClient;
let mock: StackMock;
let destroy: () => void;

beforeEach(() => ({ client, mock, destroy } = unitStack()));
afterEach(() => destroy());

function gateway(retry: Partial<RetryPolicy> = {}, rate = new RateController({ unlimited: true })) {
  return new CognitoGateway(client, { rate, retry: { ...FAST, ...retry } });
}

const describePool = (gw: CognitoGateway) =>
  gw.send(new DescribeUserPoolCommand({ UserPoolId: POOL })).then((r) => r.UserPool);

async function failure(p: Promise<unknown>): Promise<VaultError> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as VaultError,
  );
}

describe('throttling', () => {
  it('retries TooManyRequestsException and feeds every throttle to the rate controller', async () => {
    const rate = new RateController({ maxRps: { UserList: 1000 } });
    const gw = gateway({}, rate);
    mock
      .on(ListUsersCommand)
      .rejectsOnce(throttle())
      .rejectsOnce(throttle())
      .rejectsOnce(throttle())
      .resolves({ Users: users(0, 2) });

    const got: UserType[] = [];
    for await (const u of items(gw.pages(paginateListUsers, { UserPoolId: POOL }), 'Users'))
      got.push(u);

    expect(got.map((u) => u.Username)).toEqual(['u0', 'u1']);
    expect(mock.commandCalls(ListUsersCommand)).toHaveLength(4);
    const report = rate.report().find((r) => r.category === 'UserList');
    expect(report).toMatchObject({ calls: 4, retries: 3, throttles: 3 });
    // The shared limiter for the category slowed down (multiplicative decrease).
    expect(rate.limiter('UserList').currentRate).toBeLessThanOrEqual(500);
  });

  it('a throttle slows every caller of the category, not only the one throttled', async () => {
    const rate = new RateController({ maxRps: { UserList: 1000 } });
    const gw = gateway({}, rate);
    mock.on(ListUsersInGroupCommand).rejectsOnce(throttle()).resolves({ Users: [] });
    const members = gw.pages(paginateListUsersInGroup, { UserPoolId: POOL, GroupName: 'g' });
    for await (const _ of members) void _;
    // ListUsers shares the UserList bucket with ListUsersInGroup.
    expect(rate.limiter('UserList').currentRate).toBeLessThanOrEqual(500);
  });

  it('gives up after throttleAttempts with ServiceUnavailableError THROTTLED (exit 7)', async () => {
    const gw = gateway({ throttleAttempts: 3 });
    mock.on(DescribeUserPoolCommand).rejects(throttle());
    const e = await failure(describePool(gw));
    expect(e).toBeInstanceOf(ServiceUnavailableError);
    expect(e).toMatchObject({ code: 'THROTTLED', exitCode: 7 });
    expect(e.context).toMatchObject({ operation: 'DescribeUserPool', attempts: 3 });
    expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(3);
  });

  it('HTTP 429 without a known exception name is throttling too', () => {
    expect(classifyFailure(awsError('SomethingNew', 429))).toBe('throttle');
  });
});

describe('transient failures', () => {
  it('retries 500s and connection resets, then succeeds', async () => {
    const gw = gateway();
    mock
      .on(DescribeUserPoolCommand)
      .rejectsOnce(
        new InternalErrorException({ message: 'oops', $metadata: { httpStatusCode: 500 } }),
      )
      .rejectsOnce(netError('ECONNRESET', 'socket hang up'))
      .rejectsOnce(htmlServerError())
      .rejectsOnce(awsError('ServiceUnavailable', 503, 'server'))
      .resolves({ UserPool: { Id: POOL, Name: 'p' } });
    const pool = await describePool(gw);
    expect(pool?.Id).toBe(POOL);
    expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(5);
    expect(gw.rate.report()[0]).toMatchObject({ calls: 5, retries: 4, throttles: 0 });
  });

  it('a socket hang up without an errno code is still a reset', async () => {
    const gw = gateway();
    mock
      .on(ListGroupsCommand)
      .rejectsOnce(new Error('socket hang up'))
      .resolves({ Groups: [{ GroupName: 'g' }] });
    const names: string[] = [];
    for await (const g of items(gw.pages(paginateListGroups, { UserPoolId: POOL }), 'Groups'))
      names.push(g.GroupName ?? '');
    expect(names).toEqual(['g']);
  });

  it('gives up after transientAttempts with SERVICE_ERROR (exit 7)', async () => {
    const gw = gateway({ transientAttempts: 4 });
    mock.on(DescribeUserPoolCommand).rejects(htmlServerError());
    const e = await failure(describePool(gw));
    expect(e).toBeInstanceOf(ServiceUnavailableError);
    expect(e).toMatchObject({ code: 'SERVICE_ERROR', exitCode: 7 });
    expect(e.message).toMatch(/HTTP 500/);
    expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(4);
  });

  it('an endpoint that never answered fails fast when refused (ENDPOINT_UNREACHABLE, exit 7)', async () => {
    const gw = gateway({ transientAttempts: 8, unreachableAttempts: 3 });
    mock.on(DescribeUserPoolCommand).rejects(netError('ECONNREFUSED'));
    const e = await failure(describePool(gw));
    expect(e).toMatchObject({ code: 'ENDPOINT_UNREACHABLE', exitCode: 7 });
    expect(e.message).toMatch(/cannot reach the Cognito endpoint \(ECONNREFUSED\)/);
    expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(3);
  });

  it('once the endpoint has answered, a refused connection gets the full retry budget', async () => {
    const gw = gateway({ transientAttempts: 6, unreachableAttempts: 2 });
    mock.on(DescribeUserPoolCommand).resolvesOnce({ UserPool: { Id: POOL } });
    await describePool(gw);
    mock.on(DescribeUserPoolCommand).rejects(netError('ENOTFOUND', 'getaddrinfo ENOTFOUND x'));
    const e = await failure(describePool(gw));
    expect(e).toMatchObject({ code: 'ENDPOINT_UNREACHABLE', exitCode: 7 });
    expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(1 + 6);
  });

  it('a nested network cause (SDK wrapping) is found', () => {
    const wrapped = Object.assign(new Error('request failed'), {
      cause: netError('ECONNRESET'),
    });
    expect(classifyFailure(wrapped)).toBe('transient');
    expect(toVaultError(wrapped, { operation: 'ListUsers' })).toMatchObject({
      code: 'CONNECTION_FAILED',
      exitCode: 7,
    });
  });
});

describe('permanent failures map to the error hierarchy', () => {
  const cases: [string, () => Error, new (...a: never[]) => VaultError, string, number][] = [
    [
      'ResourceNotFoundException',
      () => new ResourceNotFoundException({ message: 'no pool', $metadata: meta(400).$metadata }),
      CognitoError,
      'COGNITO_ResourceNotFoundException',
      1,
    ],
    [
      'InvalidParameterException',
      () => new InvalidParameterException({ message: 'bad', $metadata: meta(400).$metadata }),
      CognitoError,
      'COGNITO_InvalidParameterException',
      1,
    ],
    [
      'NotAuthorizedException',
      () => new NotAuthorizedException({ message: 'no', $metadata: meta(400).$metadata }),
      CredentialsError,
      'ACCESS_DENIED',
      5,
    ],
    [
      'AccessDeniedException',
      () => awsError('AccessDeniedException', 400),
      CredentialsError,
      'ACCESS_DENIED',
      5,
    ],
    [
      'UnrecognizedClientException',
      () => awsError('UnrecognizedClientException', 400),
      CredentialsError,
      'ACCESS_DENIED',
      5,
    ],
    [
      'ExpiredTokenException',
      () => awsError('ExpiredTokenException', 400),
      CredentialsError,
      'ACCESS_DENIED',
      5,
    ],
    [
      'CredentialsProviderError',
      () =>
        Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        }),
      CredentialsError,
      'NO_CREDENTIALS',
      5,
    ],
  ];

  for (const [name, make, cls, code, exitCode] of cases) {
    it(`${name} → ${cls.name} ${code}, exit ${exitCode}, not retried`, async () => {
      const gw = gateway();
      mock.on(DescribeUserPoolCommand).rejects(make());
      const e = await failure(describePool(gw));
      expect(e).toBeInstanceOf(cls);
      expect(e).toMatchObject({ code, exitCode });
      expect(e.context.operation).toBe('DescribeUserPool');
      expect(e.message.split('\n')).toHaveLength(1);
      expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(1);
    });
  }

  it('access denied names the operation and points at the policy command', async () => {
    const gw = gateway();
    mock.on(ListUsersCommand).rejects(awsError('AccessDeniedException'));
    const e = await failure(
      items(gw.pages(paginateListUsers, { UserPoolId: POOL }), 'Users').next(),
    );
    expect(e.message).toMatch(/access denied for ListUsers/);
    expect(e.message).toMatch(/cognito-vault policy/);
    expect(e.context.userPoolId).toBe(POOL);
  });
});

describe('pagination', () => {
  it('follows PaginationToken across full, empty and short pages', async () => {
    const gw = gateway();
    const pages: Record<string, { Users: UserType[]; PaginationToken?: string }> = {
      '': { Users: users(0, 60), PaginationToken: 't1' },
      t1: { Users: [], PaginationToken: 't2' },
      t2: { Users: users(60, 7), PaginationToken: 't3' },
      t3: { Users: [], PaginationToken: 't4' },
      t4: { Users: users(67, 60) },
    };
    mock
      .on(ListUsersCommand)
      .callsFake(async (input: ListUsersCommandInput) => pages[input.PaginationToken ?? '']);

    const got: string[] = [];
    const input = { UserPoolId: POOL, Filter: 'sub ^= "a"' };
    for await (const u of items(gw.pages(paginateListUsers, input), 'Users'))
      got.push(u.Username ?? '');
    expect(got).toEqual(users(0, 127).map((u) => u.Username));
    const inputs = mock.commandCalls(ListUsersCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => (i as ListUsersCommandInput).PaginationToken)).toEqual([
      undefined,
      't1',
      't2',
      't3',
      't4',
    ]);
    for (const i of inputs) {
      expect(i).toMatchObject({ UserPoolId: POOL, Limit: 60, Filter: 'sub ^= "a"' });
    }
  });

  it('the paginator yields each page, empty ones included, without a Filter when none given', async () => {
    const gw = gateway();
    mock
      .on(ListUsersCommand)
      .resolvesOnce({ Users: users(0, 3), PaginationToken: 'n' })
      .resolvesOnce({ Users: [], PaginationToken: 'm' })
      .resolvesOnce({ Users: users(3, 1), PaginationToken: '' });
    const sizes: number[] = [];
    for await (const p of gw.pages(paginateListUsers, { UserPoolId: POOL }))
      sizes.push(p.Users?.length ?? 0);
    expect(sizes).toEqual([3, 0, 1]);
    expect(mock.commandCalls(ListUsersCommand)[0]?.args[0].input).not.toHaveProperty('Filter');
  });

  it('follows NextToken for groups and group members', async () => {
    const gw = gateway();
    mock
      .on(ListGroupsCommand)
      .resolvesOnce({ Groups: [{ GroupName: 'a' }], NextToken: 'g2' })
      .resolvesOnce({ Groups: [], NextToken: 'g3' })
      .resolvesOnce({ Groups: [{ GroupName: 'b' }, { GroupName: 'c' }] });
    mock
      .on(ListUsersInGroupCommand)
      .resolvesOnce({ Users: users(0, 60), NextToken: 'x' })
      .resolvesOnce({ Users: users(60, 1) });
    const groups: string[] = [];
    for await (const g of items(gw.pages(paginateListGroups, { UserPoolId: POOL }), 'Groups'))
      groups.push(g.GroupName ?? '');
    expect(groups).toEqual(['a', 'b', 'c']);
    let members = 0;
    const input = { UserPoolId: POOL, GroupName: 'a' };
    for await (const _ of items(gw.pages(paginateListUsersInGroup, input), 'Users')) members++;
    expect(members).toBe(61);
    expect(
      mock.commandCalls(ListUsersInGroupCommand).map((c) => c.args[0].input.NextToken),
    ).toEqual([undefined, 'x']);
    expect(mock.commandCalls(ListGroupsCommand).map((c) => c.args[0].input.NextToken)).toEqual([
      undefined,
      'g2',
      'g3',
    ]);
  });

  it('a failure on a later page surfaces from the generator', async () => {
    const gw = gateway();
    mock
      .on(ListUsersCommand)
      .resolvesOnce({ Users: users(0, 60), PaginationToken: 'p2' })
      .rejects(awsError('AccessDeniedException'));
    const seen: string[] = [];
    const e = await failure(
      (async () => {
        const pages = gw.pages(paginateListUsers, { UserPoolId: POOL });
        for await (const u of items(pages, 'Users')) seen.push(u.Username ?? '');
      })(),
    );
    expect(seen).toHaveLength(60);
    expect(e).toBeInstanceOf(CredentialsError);
  });
});

describe('AdminCreateUser', () => {
  it('always sends MessageAction SUPPRESS, even when the caller asks for RESEND', async () => {
    const gw = gateway();
    mock.on(AdminCreateUserCommand).resolves({ User: { Username: 'x' } });
    await gw.send(
      new AdminCreateUserCommand({
        UserPoolId: POOL,
        Username: 'x',
        MessageAction: 'RESEND',
        UserAttributes: [{ Name: 'email', Value: 'x@example.com' }],
        DesiredDeliveryMediums: ['EMAIL'],
      }),
    );
    // Sent on the paced client directly (no gateway method in between): still SUPPRESS.
    await client.send(new AdminCreateUserCommand({ UserPoolId: POOL, Username: 'y' }));
    const inputs = mock.commandCalls(AdminCreateUserCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => i.MessageAction)).toEqual(['SUPPRESS', 'SUPPRESS']);
    expect(inputs[0]).toMatchObject({
      Username: 'x',
      UserAttributes: [{ Name: 'email', Value: 'x@example.com' }],
    });
  });
});

describe('interruption', () => {
  it('an aborted signal stops calls before they are sent', async () => {
    const ac = new AbortController();
    ac.abort();
    const gw = gateway().withSignal(ac.signal);
    mock.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL } });
    await expect(describePool(gw)).rejects.toBeInstanceOf(InterruptedError);
    expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(0);
  });

  it('an abort during retry backoff ends the call promptly with InterruptedError', async () => {
    const ac = new AbortController();
    const gw = gateway({ baseDelayMs: 10_000, maxDelayMs: 10_000 }).withSignal(ac.signal);
    // The abort comes when the first attempt has failed (a counter, not a timer): the call is
    // then in its backoff. setTimeout is faked and never advanced, so the backoff can never
    // end: only the abort can settle the call, and it must within a few event-loop turns.
    mock.on(DescribeUserPoolCommand).callsFake(() => {
      setImmediate(() => ac.abort());
      throw htmlServerError();
    });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let outcome: unknown = 'pending';
      void describePool(gw).then(
        () => (outcome = 'resolved'),
        (e: unknown) => (outcome = e),
      );
      for (let turn = 0; turn < 200 && outcome === 'pending'; turn++)
        await new Promise((r) => setImmediate(r));
      expect(ac.signal.aborted).toBe(true);
      expect(outcome).toBeInstanceOf(InterruptedError);
      expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('pool id and Region', () => {
  it('takes the Region from the pool id', () => {
    expect(regionOfPoolId('eu-west-1_AbC123')).toBe('eu-west-1');
    expect(regionOfPoolId('us-east-1_0123456789abcdef0123456789abcdef')).toBe('us-east-1');
    expect(resolveRegion('ap-southeast-2_x1', 'ap-southeast-2')).toBe('ap-southeast-2');
  });

  it('refuses malformed ids and a mismatched --region with UsageError (exit 2)', () => {
    for (const bad of [
      'nope',
      'us-east-1',
      'us-east-1_',
      '_abc',
      'US-EAST-1_abc',
      'us-east-1_a-b',
    ]) {
      let e: unknown;
      try {
        regionOfPoolId(bad);
      } catch (err) {
        e = err;
      }
      expect(e, bad).toBeInstanceOf(UsageError);
      expect(e, bad).toMatchObject({ code: 'MALFORMED_POOL_ID', exitCode: 2 });
    }
    expect(() => resolveRegion('us-east-1_abc', 'eu-west-1')).toThrow(
      /is in us-east-1, not in `region` eu-west-1/,
    );
  });
});
