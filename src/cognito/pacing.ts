import type {
  FinalizeHandlerArguments,
  FinalizeRequestMiddleware,
  HandlerExecutionContext,
  InitializeMiddleware,
  MiddlewareStack,
  Pluggable,
} from '@smithy/types';
import { sleep } from '../core/concurrency.js';
import { InterruptedError, UsageError, VaultError } from '../core/errors.js';
import { classifyFailure, isUnreachable, toVaultError } from './errors.js';
import { OPERATION_CATEGORY, type QuotaCategory } from './quotas.js';
import type { RateController } from './rate.js';

/**
 * Pacing, retries and error mapping as AWS SDK v3 middleware: a Pluggable (`applyToStack`)
 * registered on a CognitoIdentityProviderClient's middleware stack, so that every command sent
 * on that client — by an engine, a paginator or a library caller's own code — is paced by its
 * quota category (context.commandName → OPERATION_CATEGORY), retried, and mapped to the tool's
 * error hierarchy. Nothing here is per operation.
 *
 * Where it sits on the stack:
 *  - `cognitoVaultInvariants` (initialize step): rewrites the input before serialization —
 *    AdminCreateUser always MessageAction SUPPRESS; list operations get Cognito's largest page
 *    size unless the caller chose one.
 *  - `retryMiddleware` (finalizeRequest step, high priority, override): the SDK's own retry
 *    middleware is REPLACED, not wrapped. A client handed in by a library caller usually has the
 *    SDK's standard retry strategy (3 attempts, its own backoff and retry quota): kept inside
 *    ours, one of our attempts would be up to three HTTP attempts (3 × 30 for a throttled call)
 *    and the throttles the SDK retried away would never reach the rate controller's AIMD.
 *    Replaced, each HTTP attempt is one acquire of the category's limiter, one recordCall, and
 *    each throttle one onThrottle. Sitting where the SDK's retry sits (after serialization,
 *    before signing), every attempt is signed afresh. The client's `maxAttempts`/`retryStrategy`
 *    settings are therefore ignored once it is paced (documented in docs/architecture.md).
 *
 * Per call:
 *  - the abort signal is the one given to `client.send(command, { abortSignal })` (the SDK puts
 *    it in the handler context, `context.__smithy_context.abortSignal`): rate waits and backoff
 *    sleeps end when it aborts, and nothing else is shared between concurrent callers;
 *  - options (background pacing, a smaller transient budget, permission to send a user a
 *    message) ride on the command itself: `withCallOptions(command, opts)` adds a command-level
 *    middleware that puts them in that call's context.
 */

export interface RetryPolicy {
  /** Attempts for transient failures (5xx, connection resets, timeouts). */
  transientAttempts: number;
  /** Attempts for throttled calls; the rate limiter slows the category between them. */
  throttleAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Attempts while the endpoint has never answered and the connection is refused or the host
   * unknown: a wrong --endpoint-url or Region fails in well under a second instead of ~8 s of
   * backoff. Once any call got a response, such errors get the full transient budget.
   */
  unreachableAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  transientAttempts: 8,
  throttleAttempts: 30,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  unreachableAttempts: 3,
};

/** How far ahead (ms) background calls may queue in their category's schedule. */
export const BACKGROUND_MAX_AHEAD_MS = 250;

export interface CallOptions {
  /** Override transient attempts (best-effort reads use fewer). */
  transientAttempts?: number;
  /**
   * A background call (one of many parallel list shards) yields its category to sequential
   * chains: it queues at most BACKGROUND_MAX_AHEAD_MS ahead in the schedule.
   */
  background?: boolean;
  /**
   * This call may make Cognito send a user a message (AdminResetUserPassword, SignUp, …).
   * Refused otherwise: a restore never messages anyone. Only the demo seeder sets it, against
   * the local emulator.
   */
  messagesUsers?: boolean;
}

/**
 * Operations that make Cognito email or text a user. A paced client refuses them unless the
 * call says `messagesUsers` (AdminCreateUser is not here: it is always sent with SUPPRESS).
 */
export const USER_MESSAGE_OPERATIONS: ReadonlySet<string> = new Set([
  'AdminResetUserPassword',
  'ForgotPassword',
  'ResendConfirmationCode',
  'SignUp',
  'GetUserAttributeVerificationCode',
]);

/** Cognito's largest page per list operation, used when the caller gives none. */
export const PAGE_SIZES: Readonly<Record<string, readonly [field: string, size: number]>> = {
  ListUsers: ['Limit', 60],
  ListUsersInGroup: ['Limit', 60],
  ListGroups: ['Limit', 60],
  ListUserPools: ['MaxResults', 60],
  ListUserPoolClients: ['MaxResults', 60],
  ListIdentityProviders: ['MaxResults', 60],
  ListResourceServers: ['MaxResults', 50],
  ListUserImportJobs: ['MaxResults', 60],
};

const CALL_OPTIONS_KEY = 'cognitoVaultCallOptions';
const SMITHY_CONTEXT_KEY = '__smithy_context';

type AnyStack = MiddlewareStack<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Attaches per-call options to a command (returned, for chaining; works for commands a
 * paginator creates too, through its `withCommand`).
 */
export function withCallOptions<C extends { middlewareStack: AnyStack }>(
  command: C,
  opts: CallOptions | undefined,
): C {
  if (!opts || Object.keys(opts).length === 0) return command;
  const mw: InitializeMiddleware<object, object> = (next, context) => (args) => {
    context[CALL_OPTIONS_KEY] = opts;
    return next(args);
  };
  command.middlewareStack.add(mw, {
    step: 'initialize',
    priority: 'high',
    name: 'cognitoVaultCallOptions',
    override: true,
  });
  return command;
}

/** `ListUsersCommand` → `ListUsers`. */
export function operationOf(context: HandlerExecutionContext): string {
  return (context.commandName ?? 'Unknown').replace(/Command$/, '');
}

/** The quota category of an operation; operations not in the table are paced as Unlisted. */
export function categoryOfName(op: string): QuotaCategory {
  return (OPERATION_CATEGORY as Record<string, QuotaCategory | undefined>)[op] ?? 'Unlisted';
}

/** The pool a call is about: its UserPoolId, or the pool named by its ResourceArn. */
function poolIdOf(input: unknown): string | undefined {
  const i = (input ?? {}) as { UserPoolId?: unknown; ResourceArn?: unknown };
  if (typeof i.UserPoolId === 'string' && i.UserPoolId) return i.UserPoolId;
  if (typeof i.ResourceArn === 'string') {
    const m = /:userpool\/([^/]+)$/.exec(i.ResourceArn);
    if (m) return m[1];
  }
  return undefined;
}

function signalOf(context: HandlerExecutionContext): AbortSignal | undefined {
  const s = context[SMITHY_CONTEXT_KEY]?.abortSignal;
  return s && 'addEventListener' in s ? (s as AbortSignal) : undefined;
}

/**
 * The pacing plugin: one per paced client. `reached` (has any call had a response from the
 * endpoint) is the plugin's, shared by every call on the client.
 */
export class PacingPlugin implements Pluggable<object, object> {
  private reached = false;

  constructor(
    readonly rate: RateController,
    readonly retry: RetryPolicy,
  ) {}

  applyToStack(stack: AnyStack): void {
    stack.add(this.invariants(), {
      step: 'initialize',
      priority: 'low',
      name: 'cognitoVaultInvariants',
      override: true,
    });
    stack.add(this.pacing(), {
      step: 'finalizeRequest',
      priority: 'high',
      name: 'retryMiddleware',
      tags: ['RETRY', 'COGNITO_VAULT_PACING'],
      override: true,
    });
  }

  /**
   * Input rewrites that hold for every call on a paced client, and the error mapping of what
   * fails before the pacing middleware (credential and endpoint resolution, serialization):
   * those are not retried, but still become the tool's errors (no credentials → exit 5).
   */
  private invariants(): InitializeMiddleware<object, object> {
    return (next, context) => async (args) => {
      const op = operationOf(context);
      let input = args.input as Record<string, unknown>;
      // A restore never messages users: SUPPRESS, whatever the caller asked for.
      if (op === 'AdminCreateUser') input = { ...input, MessageAction: 'SUPPRESS' };
      const size = PAGE_SIZES[op];
      if (size && input[size[0]] === undefined) input = { ...input, [size[0]]: size[1] };
      try {
        return await next(input === args.input ? args : { ...args, input });
      } catch (e) {
        if (e instanceof VaultError) throw e;
        if (signalOf(context)?.aborted) throw new InterruptedError();
        const poolId = poolIdOf(input);
        throw toVaultError(e, { operation: op, ...(poolId ? { userPoolId: poolId } : {}) });
      }
    };
  }

  private pacing(): FinalizeRequestMiddleware<object, object> {
    return (next, context) => async (args: FinalizeHandlerArguments<object>) => {
      const op = operationOf(context);
      const category = categoryOfName(op);
      const poolId = poolIdOf(args.input);
      const signal = signalOf(context);
      const opts = (context[CALL_OPTIONS_KEY] ?? {}) as CallOptions;
      const errorContext = (attempts: number) => ({
        operation: op,
        ...(poolId ? { userPoolId: poolId } : {}),
        attempts,
      });
      if (USER_MESSAGE_OPERATIONS.has(op) && !opts.messagesUsers) {
        throw new UsageError(
          'USER_MESSAGE_REFUSED',
          `${op} would send a user a message; cognito-vault never does`,
          errorContext(0),
        );
      }
      const transientMax = opts.transientAttempts ?? this.retry.transientAttempts;
      let transient = 0;
      let throttled = 0;
      for (let attempt = 0; ; attempt++) {
        if (signal?.aborted) throw new InterruptedError();
        try {
          await this.rate.acquire(
            category,
            op,
            poolId,
            signal,
            opts.background ? BACKGROUND_MAX_AHEAD_MS : undefined,
          );
        } catch {
          throw new InterruptedError();
        }
        this.rate.recordCall(category, attempt > 0);
        try {
          const result = await next(args);
          this.reached = true;
          return result;
        } catch (e) {
          if (signal?.aborted) throw new InterruptedError();
          const unreachable = isUnreachable(e);
          if (!unreachable && (e as { $metadata?: { httpStatusCode?: number } })?.$metadata) {
            this.reached = true;
          }
          const kind = classifyFailure(e);
          if (kind === 'throttle') {
            this.rate.onThrottle(category, op, poolId);
            if (++throttled >= this.retry.throttleAttempts) {
              throw toVaultError(e, errorContext(attempt + 1));
            }
            await this.backoff(throttled, signal);
            continue;
          }
          if (kind === 'transient') {
            const max =
              unreachable && !this.reached
                ? Math.min(transientMax, this.retry.unreachableAttempts)
                : transientMax;
            if (++transient >= max) throw toVaultError(e, errorContext(attempt + 1));
            await this.backoff(transient, signal);
            continue;
          }
          throw toVaultError(e, errorContext(attempt + 1));
        }
      }
    };
  }

  private async backoff(n: number, signal: AbortSignal | undefined): Promise<void> {
    const cap = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (n - 1));
    try {
      await sleep(cap / 2 + Math.random() * (cap / 2), signal);
    } catch {
      throw new InterruptedError();
    }
  }
}
