import {
  AdminCreateUserCommand,
  AdminResetUserPasswordCommand,
  CognitoIdentityProviderClient,
  DescribeUserPoolCommand,
  InternalErrorException,
  ListGroupsCommand,
  ListResourceServersCommand,
  ListUsersCommand,
  paginateListUsers,
  SignUpCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CredentialsError,
  InterruptedError,
  ServiceUnavailableError,
  UsageError,
} from '../../src/core/errors.js';
import { CognitoGateway, paceClient, withCallOptions } from '../../src/cognito/gateway.js';
import { RateController } from '../../src/cognito/rate.js';
import { type StackMock, stackMock } from '../support/stack-mock.js';
import { unitStack } from '../support/unit-gateway.js';

const POOL = 'us-east-1_PacePool1';
const FAST = { baseDelayMs: 1, maxDelayMs: 4 };
const throttle = () =>
  new TooManyRequestsException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
const serverError = () =>
  new InternalErrorException({ message: 'oops', $metadata: { httpStatusCode: 500 } });

let client: CognitoIdentityProviderClient;
let mock: StackMock;
let destroy: () => void;

// A plain client as a library caller would hand it in: the SDK's defaults (standard retry
// strategy, 3 attempts), nothing of ours.
beforeEach(() => ({ client, mock, destroy } = unitStack()));
afterEach(() => destroy());

const rejection = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );

describe('a client handed in is paced', () => {
  it('commands sent on the plain client itself are paced by their category', async () => {
    // 20/s for UserList, 10/s for UserPoolRead: 9 ListUsers ≥ 400 ms, 5 DescribeUserPool ≥ 400 ms.
    const rate = new RateController({ maxRps: { UserList: 20, UserPoolRead: 10 } });
    paceClient(client, { rate });
    mock.on(ListUsersCommand).resolves({ Users: [] });
    mock.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL } });
    const t0 = performance.now();
    await Promise.all([
      ...Array.from({ length: 9 }, () => client.send(new ListUsersCommand({ UserPoolId: POOL }))),
      ...Array.from({ length: 5 }, () =>
        client.send(new DescribeUserPoolCommand({ UserPoolId: POOL })),
      ),
    ]);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(350);
    const byCategory = Object.fromEntries(rate.report().map((r) => [r.category, r.calls]));
    expect(byCategory).toEqual({ UserList: 9, UserPoolRead: 5 });
    expect(rate.limiter('UserList').snapshot().acquired).toBe(9);
    expect(rate.limiter('UserList').snapshot().waitedMs).toBeGreaterThan(0);
    expect(rate.limiter('UserPoolRead').snapshot().acquired).toBe(5);
  });

  it("replaces the SDK's retry middleware: no retry amplification, every throttle feeds AIMD", async () => {
    const rate = new RateController({ maxRps: { UserList: 1000 } });
    const gw = new CognitoGateway(client, { rate, retry: { ...FAST, throttleAttempts: 4 } });
    mock.on(ListUsersCommand).rejects(throttle());
    const e = await rejection(gw.send(new ListUsersCommand({ UserPoolId: POOL })));
    expect(e).toBeInstanceOf(ServiceUnavailableError);
    expect(e).toMatchObject({ code: 'THROTTLED', context: { attempts: 4 } });
    // Four HTTP attempts in all: with the SDK's retry kept inside ours it would be 4 × 3.
    expect(mock.commandCalls(ListUsersCommand)).toHaveLength(4);
    const report = rate.report().find((r) => r.category === 'UserList');
    expect(report).toMatchObject({ calls: 4, retries: 3, throttles: 4 });
    expect(rate.limiter('UserList').currentRate).toBeLessThanOrEqual(500);
    expect(
      client.middlewareStack.identify().filter((n) => n.startsWith('retryMiddleware')),
    ).toHaveLength(1);
  });

  it('a throttle answered to one call slows the category for every caller (AIMD)', async () => {
    const rate = new RateController({ maxRps: { UserPoolResourceRead: 1000 } });
    paceClient(client, { rate, retry: FAST });
    mock.on(ListGroupsCommand).rejectsOnce(throttle()).resolves({ Groups: [] });
    await client.send(new ListGroupsCommand({ UserPoolId: POOL }));
    expect(rate.limiter('UserPoolResourceRead').currentRate).toBeLessThanOrEqual(500);
  });
});

describe('errors before the pacing middleware', () => {
  it('no credentials (resolved before signing) still maps to CredentialsError, exit 5', async () => {
    const bare = new CognitoIdentityProviderClient({
      region: 'us-east-1',
      credentials: () =>
        Promise.reject(
          Object.assign(new Error('Could not load credentials from any providers'), {
            name: 'CredentialsProviderError',
          }),
        ),
    });
    const m = stackMock(bare);
    try {
      const gw = new CognitoGateway(bare, { rate: { unlimited: true }, retry: FAST });
      const e = await rejection(gw.send(new DescribeUserPoolCommand({ UserPoolId: POOL })));
      expect(e).toBeInstanceOf(CredentialsError);
      expect(e).toMatchObject({
        code: 'NO_CREDENTIALS',
        exitCode: 5,
        context: { operation: 'DescribeUserPool', userPoolId: POOL },
      });
    } finally {
      m.restore();
      bare.destroy();
    }
  });
});

describe('abort signals are per call', () => {
  it('two runs on one gateway: aborting one interrupts its calls only', async () => {
    // 2/s: the calls queue in the UserList schedule, 500 ms apart (A's at 0, 500, 1000 ms).
    const gw = new CognitoGateway(client, { rate: { maxRps: { UserList: 2 } } });
    mock.on(ListUsersCommand).resolves({ Users: [] });
    const a = new AbortController();
    const b = new AbortController();
    const runA = gw.withSignal(a.signal);
    const runB = gw.withSignal(b.signal);
    const calls = (run: CognitoGateway) =>
      Array.from({ length: 3 }, () =>
        run.send(new ListUsersCommand({ UserPoolId: POOL })).then(
          () => 'ok',
          (e: unknown) => (e instanceof InterruptedError ? 'interrupted' : String(e)),
        ),
      );
    const pa = calls(runA);
    const pb = calls(runB);
    setTimeout(() => a.abort(), 100);
    const [ra, rb] = await Promise.all([Promise.all(pa), Promise.all(pb)]);
    // A's first call went out before the abort; its queued ones were interrupted.
    expect(ra.filter((r) => r === 'interrupted').length).toBeGreaterThanOrEqual(2);
    expect(rb).toEqual(['ok', 'ok', 'ok']);
    expect(b.signal.aborted).toBe(false);
    // Each call carried its own run's signal down the stack.
    const signals = new Set(mock.commandCalls(ListUsersCommand).map((c) => c.signal));
    expect(signals.has(b.signal)).toBe(true);
    expect([...signals].every((s) => s === a.signal || s === b.signal)).toBe(true);
  });

  /**
   * Virtual time: `p` must settle on the abort alone. The clock is advanced `beforeAbortMs`,
   * the signal aborted, and then no time at all passes: a wait that ignored its signal would
   * still be pending (its timer seconds away), where a wall-clock bound would only be a guess.
   */
  async function settlesOnAbort(
    p: Promise<unknown>,
    ac: AbortController,
    beforeAbortMs: number,
  ): Promise<unknown> {
    let settled = false;
    const outcome = p.then(
      () => {
        settled = true;
        return new Error('expected a rejection');
      },
      (e: unknown) => {
        settled = true;
        return e;
      },
    );
    await vi.advanceTimersByTimeAsync(beforeAbortMs);
    expect(settled).toBe(false); // it was waiting
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(true);
    return outcome;
  }

  it("a call's signal ends its rate wait at once", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    try {
      const gw = new CognitoGateway(client, { rate: { maxRps: { UserPoolRead: 0.5 } } });
      mock.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL } });
      await gw.send(new DescribeUserPoolCommand({ UserPoolId: POOL })); // takes the free slot
      const ac = new AbortController();
      // Sent on the client directly, with its own signal: the next slot is 2 s away.
      const p = client.send(new DescribeUserPoolCommand({ UserPoolId: POOL }), {
        abortSignal: ac.signal,
      });
      expect(await settlesOnAbort(p, ac, 50)).toBeInstanceOf(InterruptedError);
      expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a call's signal ends its retry backoff at once", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    try {
      const gw = new CognitoGateway(client, {
        rate: { unlimited: true },
        retry: { baseDelayMs: 10_000, maxDelayMs: 10_000 },
      });
      mock.on(DescribeUserPoolCommand).rejects(serverError());
      const ac = new AbortController();
      const p = gw.withSignal(ac.signal).send(new DescribeUserPoolCommand({ UserPoolId: POOL }));
      // 50 ms in, the first attempt has failed and its backoff (5–10 s) is under way.
      expect(await settlesOnAbort(p, ac, 50)).toBeInstanceOf(InterruptedError);
      expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('per-call options', () => {
  it('transientAttempts per call, on a command and through a paginator', async () => {
    const gw = new CognitoGateway(client, { rate: { unlimited: true }, retry: FAST });
    mock.on(DescribeUserPoolCommand).rejects(serverError());
    mock.on(ListUsersCommand).rejects(serverError());
    await expect(
      gw.send(new DescribeUserPoolCommand({ UserPoolId: POOL }), { transientAttempts: 2 }),
    ).rejects.toMatchObject({ code: 'SERVICE_ERROR', context: { attempts: 2 } });
    expect(mock.commandCalls(DescribeUserPoolCommand)).toHaveLength(2);
    await expect(
      gw.pages(paginateListUsers, { UserPoolId: POOL }, { transientAttempts: 3 }).next(),
    ).rejects.toMatchObject({ code: 'SERVICE_ERROR', context: { attempts: 3 } });
    expect(mock.commandCalls(ListUsersCommand)).toHaveLength(3);
    // Without options: the gateway's budget (8).
    mock.resetHistory();
    await expect(
      client.send(withCallOptions(new DescribeUserPoolCommand({ UserPoolId: POOL }), {})),
    ).rejects.toMatchObject({ code: 'SERVICE_ERROR', context: { attempts: 8 } });
  });

  it('background calls queue at most BACKGROUND_MAX_AHEAD_MS ahead in the schedule', async () => {
    // Virtual time: the limiter's clock (performance.now) and its sleeps (setTimeout) move only
    // when the test advances them, so the wait measured is the schedule's, not the machine's.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    try {
      const rate = new RateController({ maxRps: { UserList: 10 } });
      const gw = new CognitoGateway(client, { rate });
      mock.on(ListUsersCommand).resolves({ Users: [] });
      mock.on(DescribeUserPoolCommand).resolves({});
      // Warm the client (credentials, endpoint) so that every call below reaches the limiter now.
      await gw.send(new DescribeUserPoolCommand({ UserPoolId: POOL }));
      // Sixteen background calls at 10/s: each reserves only while the schedule is ≤ 250 ms
      // ahead.
      const bg = Array.from({ length: 16 }, () =>
        gw.send(new ListUsersCommand({ UserPoolId: POOL }), { background: true }),
      );
      await vi.advanceTimersByTimeAsync(100);
      // A foreground call now gets a slot within ~350 ms, not behind all sixteen (~1.6 s).
      let done = false;
      const fg = gw.send(new ListUsersCommand({ UserPoolId: POOL })).then(() => (done = true));
      let waited = 0;
      while (!done && waited < 5_000) {
        await vi.advanceTimersByTimeAsync(10);
        waited += 10;
      }
      await fg;
      expect(waited).toBeGreaterThan(0); // it did queue (the schedule was ahead)
      expect(waited).toBeLessThanOrEqual(400);
      await vi.advanceTimersByTimeAsync(3_000);
      await Promise.all(bg);
      expect(mock.commandCalls(ListUsersCommand)).toHaveLength(17);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('restore invariants on every paced call', () => {
  it('AdminResetUserPassword and SignUp are refused unless the call says it messages users', async () => {
    const gw = new CognitoGateway(client, { rate: { unlimited: true } });
    mock.on(AdminResetUserPasswordCommand).resolves({});
    mock.on(SignUpCommand).resolves({ UserSub: 's' });
    const reset = new AdminResetUserPasswordCommand({ UserPoolId: POOL, Username: 'u' });
    const e = await rejection(client.send(reset));
    expect(e).toBeInstanceOf(UsageError);
    expect(e).toMatchObject({ code: 'USER_MESSAGE_REFUSED' });
    await expect(
      gw.send(new SignUpCommand({ ClientId: 'c', Username: 'u', Password: 'p' })),
    ).rejects.toMatchObject({ code: 'USER_MESSAGE_REFUSED' });
    expect(mock.calls()).toHaveLength(0);
    // The demo seeder's way (emulator only).
    await gw.send(new AdminResetUserPasswordCommand({ UserPoolId: POOL, Username: 'u' }), {
      messagesUsers: true,
    });
    expect(mock.commandCalls(AdminResetUserPasswordCommand)).toHaveLength(1);
  });

  it('AdminCreateUser is SUPPRESS on a handed-in client too', async () => {
    paceClient(client, { rate: { unlimited: true } });
    mock.on(AdminCreateUserCommand).resolves({ User: { Username: 'x' } });
    await client.send(
      new AdminCreateUserCommand({ UserPoolId: POOL, Username: 'x', MessageAction: 'RESEND' }),
    );
    expect(mock.commandCalls(AdminCreateUserCommand)[0]?.args[0].input.MessageAction).toBe(
      'SUPPRESS',
    );
  });

  it("list operations get Cognito's largest page unless the caller chose one", async () => {
    paceClient(client, { rate: { unlimited: true } });
    mock.on(ListUsersCommand).resolves({ Users: [] });
    mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
    await client.send(new ListUsersCommand({ UserPoolId: POOL }));
    await client.send(new ListUsersCommand({ UserPoolId: POOL, Limit: 5 }));
    await client.send(new ListResourceServersCommand({ UserPoolId: POOL, MaxResults: undefined }));
    expect(mock.commandCalls(ListUsersCommand).map((c) => c.args[0].input.Limit)).toEqual([60, 5]);
    expect(mock.commandCalls(ListResourceServersCommand)[0]?.args[0].input.MaxResults).toBe(50);
  });
});
