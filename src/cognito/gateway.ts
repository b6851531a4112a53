import {
  CognitoIdentityProviderClient,
  type CognitoIdentityProviderClientResolvedConfig,
  type CognitoIdentityProviderPaginationConfiguration,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-cognito-identity-provider';
import type { Command, Paginator } from '@smithy/types';
import { UsageError } from '../core/errors.js';
import { awsErrorName } from './errors.js';
import {
  DEFAULT_RETRY,
  PacingPlugin,
  type CallOptions,
  type RetryPolicy,
  withCallOptions,
} from './pacing.js';
import { RateController, type RateOptions } from './rate.js';

export {
  BACKGROUND_MAX_AHEAD_MS,
  DEFAULT_RETRY,
  PAGE_SIZES,
  USER_MESSAGE_OPERATIONS,
  withCallOptions,
  type CallOptions,
  type RetryPolicy,
} from './pacing.js';

export interface ClientSettings {
  region?: string;
  profile?: string;
  endpointUrl?: string;
  /** Sockets per host; enough for every shard and worker in flight. */
  maxSockets?: number;
  /** Static credentials (the demo's emulator); default: the AWS SDK's credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Cognito's user pool id: `<region>_<id>`. */
export { regionOfPoolId, USER_POOL_ID_PATTERN } from './pool-id.js';
import { regionOfPoolId } from './pool-id.js';
import { opt } from '../core/options.js';

// node:http and node:https by process.getBuiltinModule, not `import`: an ESM import of either
// builds its module facade, which evaluates every lazy export (undici's fetch, WebSocket …) —
// 15–30 ms of every command's start-up for nothing (bench/run.mjs --only=a-cli).
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');

/**
 * Region for a pool: the pool id names it. An explicit `--region` that disagrees is refused,
 * because Cognito would only answer "pool does not exist".
 */
export function resolveRegion(userPoolId: string, explicitRegion?: string): string {
  const fromId = regionOfPoolId(userPoolId);
  if (explicitRegion && explicitRegion !== fromId) {
    throw new UsageError(
      'REGION_MISMATCH',
      `user pool ${userPoolId} is in ${fromId}, not in ${opt('region')} ${explicitRegion}`,
      { userPoolId, region: explicitRegion, poolRegion: fromId },
    );
  }
  return fromId;
}

export function createCognitoClient(settings: ClientSettings): CognitoIdentityProviderClient {
  const agentOpts = { keepAlive: true, maxSockets: settings.maxSockets ?? 64 };
  return new CognitoIdentityProviderClient({
    region: settings.region,
    ...(settings.profile ? { profile: settings.profile } : {}),
    ...(settings.endpointUrl ? { endpoint: settings.endpointUrl } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    // The pacing plugin replaces the SDK's retry middleware anyway (every throttle feeds the
    // rate controller); one attempt here says so for anyone reading the config.
    maxAttempts: 1,
    requestHandler: {
      httpAgent: new http.Agent(agentOpts),
      httpsAgent: new https.Agent(agentOpts),
      connectionTimeout: 10_000,
      requestTimeout: 60_000,
    },
  });
}

/** A command of the Cognito user pools client. */
export type CognitoCommand<I extends ServiceInputTypes, O extends ServiceOutputTypes> = Command<
  ServiceInputTypes,
  I,
  ServiceOutputTypes,
  O,
  CognitoIdentityProviderClientResolvedConfig
>;

/** One of the SDK's generated paginators (paginateListUsers, paginateListGroups, …). */
export type CognitoPaginatorFn<I, O> = (
  config: CognitoIdentityProviderPaginationConfiguration,
  input: I,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the SDK's own signature
  ...rest: any[]
) => Paginator<O>;

export interface GatewayOptions {
  rate?: RateController | RateOptions;
  retry?: Partial<RetryPolicy>;
  /** The abort signal of every call made through this gateway object (see withSignal). */
  signal?: AbortSignal;
}

/**
 * Makes a client paced: registers the pacing plugin (src/cognito/pacing.ts) on its middleware
 * stack. Every command sent on it afterwards is paced by its quota category, retried and mapped
 * to the tool's errors; the SDK's own retry middleware is replaced. A client carries one plugin:
 * pacing it again replaces the previous rate controller.
 */
export function paceClient(
  client: CognitoIdentityProviderClient,
  opts: { rate?: RateController | RateOptions; retry?: Partial<RetryPolicy> } = {},
): { client: CognitoIdentityProviderClient; rate: RateController } {
  const rate =
    opts.rate instanceof RateController ? opts.rate : new RateController(opts.rate ?? {});
  client.middlewareStack.use(new PacingPlugin(rate, { ...DEFAULT_RETRY, ...opts.retry }));
  return { client, rate };
}

/**
 * The one way this tool talks to Cognito: a paced client (every call paced by its quota
 * category's shared rate limiter, retried on throttling and transient failures, failures mapped
 * to the tool's error hierarchy — all as middleware on the client, src/cognito/pacing.ts), the
 * rate controller that reports on it, and the abort signal of one run.
 *
 * Call sites send the SDK's commands and use its paginators: `gw.send(new XCommand(input))` is
 * `gw.client.send(command, { abortSignal: gw.signal })` with optional per-call options, and
 * `gw.pages(paginateX, input)` runs a generated paginator on the paced client with the signal.
 * A gateway object is immutable: `withSignal` gives a run its own view (same client, same rate
 * controller, its own signal), so concurrent runs never share an abort signal.
 */
export class CognitoGateway {
  readonly client: CognitoIdentityProviderClient;
  readonly rate: RateController;
  readonly signal: AbortSignal | undefined;

  constructor(client: CognitoIdentityProviderClient, opts: GatewayOptions = {}) {
    const paced = paceClient(client, opts);
    this.client = paced.client;
    this.rate = paced.rate;
    this.signal = opts.signal;
  }

  static create(settings: ClientSettings, opts: GatewayOptions = {}): CognitoGateway {
    return new CognitoGateway(createCognitoClient(settings), opts);
  }

  /** This gateway for one run: the same paced client and rate controller, `signal` on every call. */
  withSignal(signal: AbortSignal | undefined): CognitoGateway {
    const view = Object.create(CognitoGateway.prototype) as CognitoGateway;
    Object.assign(view, { client: this.client, rate: this.rate, signal });
    return view;
  }

  /** Sends one command on the paced client with this gateway's signal. */
  send<I extends ServiceInputTypes, O extends ServiceOutputTypes>(
    command: CognitoCommand<I, O>,
    opts?: CallOptions,
  ): Promise<O> {
    return this.client.send(withCallOptions(command, opts), { abortSignal: this.signal });
  }

  /**
   * Every page of a list operation through one of the SDK's generated paginators, on the paced
   * client with this gateway's signal (pages may be short before the end; the paginator follows
   * every token). Page sizes default to Cognito's largest (PAGE_SIZES, applied by the pacing
   * plugin). The input is copied (paginators write the token into it).
   */
  pages<I extends object, O>(
    paginate: CognitoPaginatorFn<I, O>,
    input: I,
    opts?: CallOptions & { startingToken?: string },
  ): Paginator<O> {
    const { startingToken, ...call } = opts ?? {};
    return paginate(
      {
        client: this.client,
        ...(startingToken ? { startingToken } : {}),
        withCommand: (c) => withCallOptions(c, call),
      },
      { ...input },
      { abortSignal: this.signal },
    );
  }

  destroy(): void {
    this.client.destroy();
  }
}

export { awsErrorName };

type ItemOf<V> = NonNullable<V> extends readonly (infer T)[] ? T : never;

/** The items of every page (`items(gw.pages(paginateListGroups, input), 'Groups')`). */
export async function* items<P, K extends keyof P>(
  pages: AsyncIterable<P>,
  key: K,
): AsyncGenerator<ItemOf<P[K]>> {
  for await (const page of pages) {
    const list = page[key] as readonly ItemOf<P[K]>[] | undefined;
    if (list) yield* list;
  }
}
