/**
 * A Cognito client double that works ON the client's middleware stack, so the tool's own
 * middleware (pacing, retries, error mapping, MessageAction SUPPRESS — src/cognito/pacing.ts)
 * runs for every call. aws-sdk-client-mock stubs `client.send` and would bypass all of it.
 *
 * The API follows the subset of aws-sdk-client-mock the tests use:
 *
 *   const mock = stackMock(client);
 *   mock.on(ListUsersCommand, { Filter: 'x' }).resolvesOnce(page1).resolves(page2);
 *   mock.on(AdminCreateUserCommand).callsFake((input) => ({ User: { Username: input.Username } }));
 *   mock.on(DescribeUserPoolCommand).rejects(new ResourceNotFoundException({ … }));
 *   mock.commandCalls(AdminCreateUserCommand)[0].args[0].input   // the input as sent
 *
 * Differences: every HTTP attempt is a call (a retried call is recorded once per attempt), the
 * recorded input is the one the serializer saw (after the invariants middleware), and a resolved
 * value becomes the output with `$metadata` added, as the SDK's deserializer would. The double
 * sits right before request signing (after the retry middleware), answers without HTTP, and
 * never needs credentials or a network.
 *
 * Precedence as in aws-sdk-client-mock (sinon): of the behaviours whose command and input
 * match, the one defined last answers; its Once answers are used in order (counted over the
 * calls that matched it), then its default; no default → an empty output.
 */
import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { FinalizeRequestMiddleware } from '@smithy/types';

type Fake = (input: any, client: CognitoIdentityProviderClient) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
type Answer = { kind: 'value'; fn: Fake };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type CommandCtor = abstract new (...args: any[]) => { input: object };

interface Behaviour {
  command: CommandCtor | undefined;
  input: object | undefined;
  strict: boolean;
  once: Answer[];
  fallback: Answer | undefined;
  count: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface StackCall<I = any> {
  commandName: string;
  args: [{ input: I; constructor: { name: string } }];
  /** The abort signal the call was sent with. */
  signal: AbortSignal | undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** sinon.match(object): every property of the expectation present and matching, recursively. */
function partialMatch(actual: unknown, expected: unknown): boolean {
  if (isPlainObject(expected)) {
    if (!isPlainObject(actual)) return false;
    return Object.keys(expected).every((k) => partialMatch(actual[k], expected[k]));
  }
  return deepEqual(actual, expected);
}

function normalizeError(e: unknown): Error {
  if (typeof e === 'string') return new Error(e);
  if (!(e instanceof Error)) return Object.assign(new Error(), e);
  return e;
}

export class BehaviourBuilder {
  constructor(
    private readonly mock: StackMock,
    private readonly b: Behaviour,
  ) {}
  on(command: CommandCtor, input?: object, strict = false): BehaviourBuilder {
    return this.mock.on(command, input, strict);
  }
  resolves(value: unknown): StackMock {
    this.b.fallback = { kind: 'value', fn: () => value };
    return this.mock;
  }
  resolvesOnce(value: unknown): this {
    this.b.once.push({ kind: 'value', fn: () => value });
    return this;
  }
  rejects(error?: unknown): StackMock {
    const e = normalizeError(error);
    this.b.fallback = {
      kind: 'value',
      fn: () => {
        throw e;
      },
    };
    return this.mock;
  }
  rejectsOnce(error?: unknown): this {
    const e = normalizeError(error);
    this.b.once.push({
      kind: 'value',
      fn: () => {
        throw e;
      },
    });
    return this;
  }
  callsFake(fn: Fake): StackMock {
    this.b.fallback = { kind: 'value', fn };
    return this.mock;
  }
  callsFakeOnce(fn: Fake): this {
    this.b.once.push({ kind: 'value', fn });
    return this;
  }
}

export class StackMock {
  private behaviours: Behaviour[] = [];
  private recorded: StackCall[] = [];
  private active = true;

  constructor(readonly client: CognitoIdentityProviderClient) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const mw: FinalizeRequestMiddleware<any, any> = (_next, context) => async (args) => {
      const commandName = context.commandName ?? 'Unknown';
      const smithy = context.__smithy_context as
        { commandInstance?: object; abortSignal?: AbortSignal } | undefined;
      const proto = smithy?.commandInstance
        ? (Object.getPrototypeOf(smithy.commandInstance) as object)
        : Object.prototype;
      const input = { ...(args.input as Record<string, unknown>) }; // paginators reuse theirs
      const arg = Object.assign(Object.create(proto) as { constructor: { name: string } }, {
        input,
      });
      this.recorded.push({
        commandName,
        args: [arg as StackCall['args'][0]],
        signal: smithy?.abortSignal,
      });
      if (!this.active) throw new Error(`stackMock restored: ${commandName} has no answer`);
      const output = await this.answer(commandName, input);
      return {
        response: { statusCode: 200, headers: {} },
        output: { $metadata: { httpStatusCode: 200 }, ...(output as object | undefined) },
      };
    };
    client.middlewareStack.addRelativeTo(mw, {
      relation: 'before',
      toMiddleware: 'httpSigningMiddleware',
      name: 'cognitoVaultStackMock',
      override: true,
    });
  }

  private async answer(commandName: string, input: object): Promise<unknown> {
    const matching = this.behaviours.filter(
      (b) =>
        (!b.command || b.command.name === commandName) &&
        (b.input === undefined ||
          (b.strict ? deepEqual(input, b.input) : partialMatch(input, b.input))),
    );
    for (const b of matching) b.count++;
    const chosen = matching[matching.length - 1];
    if (!chosen) return undefined;
    const a = chosen.once[chosen.count - 1] ?? chosen.fallback;
    if (!a) return undefined;
    return await a.fn(input, this.client);
  }

  on(command: CommandCtor, input?: object, strict = false): BehaviourBuilder {
    const b: Behaviour = { command, input, strict, once: [], fallback: undefined, count: 0 };
    this.behaviours.push(b);
    return new BehaviourBuilder(this, b);
  }

  onAnyCommand(input?: object, strict = false): BehaviourBuilder {
    const b: Behaviour = {
      command: undefined,
      input,
      strict,
      once: [],
      fallback: undefined,
      count: 0,
    };
    this.behaviours.push(b);
    return new BehaviourBuilder(this, b);
  }

  resolves(value: unknown): StackMock {
    return this.onAnyCommand().resolves(value);
  }
  rejects(error?: unknown): StackMock {
    return this.onAnyCommand().rejects(error);
  }
  callsFake(fn: Fake): StackMock {
    return this.onAnyCommand().callsFake(fn);
  }

  calls(): StackCall[] {
    return [...this.recorded];
  }

  commandCalls<C extends CommandCtor>(
    command: C,
    input?: object,
    strict = false,
  ): StackCall<InstanceType<C>['input']>[] {
    return this.recorded.filter(
      (c) =>
        c.commandName === command.name &&
        (input === undefined ||
          (strict ? deepEqual(c.args[0].input, input) : partialMatch(c.args[0].input, input))),
    );
  }

  /** Forgets every behaviour and call. */
  reset(): this {
    this.behaviours = [];
    this.recorded = [];
    return this;
  }

  resetHistory(): this {
    this.recorded = [];
    return this;
  }

  /** Takes the double off the client's stack. */
  restore(): void {
    this.active = false;
    this.client.middlewareStack.remove('cognitoVaultStackMock');
  }
}

/** Puts a stack-level double on `client` (see the file comment). */
export function stackMock(client: CognitoIdentityProviderClient): StackMock {
  return new StackMock(client);
}
