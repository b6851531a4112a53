import http from 'node:http';
import https from 'node:https';
import {
  AddCustomAttributesCommand,
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminGetUserCommand,
  AdminLinkProviderForUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  CreateGroupCommand,
  CreateIdentityProviderCommand,
  CreateResourceServerCommand,
  CreateUserImportJobCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  CreateUserPoolDomainCommand,
  DescribeIdentityProviderCommand,
  DescribeRiskConfigurationCommand,
  DescribeUserImportJobCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  DescribeUserPoolDomainCommand,
  GetCSVHeaderCommand,
  GetLogDeliveryConfigurationCommand,
  GetUICustomizationCommand,
  DescribeManagedLoginBrandingByClientCommand,
  CreateManagedLoginBrandingCommand,
  GetUserPoolMfaConfigCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListTagsForResourceCommand,
  ListUserPoolClientSecretsCommand,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  SetLogDeliveryConfigurationCommand,
  SetRiskConfigurationCommand,
  SetUICustomizationCommand,
  SetUserPoolMfaConfigCommand,
  StartUserImportJobCommand,
  StopUserImportJobCommand,
  ListUserImportJobsCommand,
  type UserImportJobType,
  TagResourceCommand,
  type AddCustomAttributesCommandInput,
  type AdminCreateUserCommandInput,
  type AdminLinkProviderForUserCommandInput,
  type CreateGroupCommandInput,
  type CreateIdentityProviderCommandInput,
  type CreateResourceServerCommandInput,
  type CreateUserImportJobCommandInput,
  type CreateUserPoolClientCommandInput,
  type CreateUserPoolCommandInput,
  type CreateUserPoolDomainCommandInput,
  type GroupType,
  type ProviderDescription,
  type ResourceServerType,
  type SetLogDeliveryConfigurationCommandInput,
  type SetRiskConfigurationCommandInput,
  type SetUICustomizationCommandInput,
  type CreateManagedLoginBrandingCommandInput,
  type SetUserPoolMfaConfigCommandInput,
  type UserPoolClientDescription,
  type UserPoolDescriptionType,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { sleep } from '../core/concurrency.js';
import { InterruptedError, UsageError } from '../core/errors.js';
import { awsErrorName, classifyFailure, isUnreachable, toVaultError } from './errors.js';
import { categoryOf, type CognitoOperation } from './quotas.js';
import { RateController, type RateOptions } from './rate.js';

export interface ClientSettings {
  region?: string;
  profile?: string;
  endpointUrl?: string;
  /** Sockets per host; enough for every shard and worker in flight. */
  maxSockets?: number;
  /** Static credentials (the demo's emulator); default: the AWS SDK's credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

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
}

/** Cognito's user pool id: `<region>_<id>`. */
export { regionOfPoolId, USER_POOL_ID_PATTERN } from './pool-id.js';
import { regionOfPoolId } from './pool-id.js';
import { opt } from '../core/options.js';

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
    // The gateway owns retries so that every throttle feeds the rate controller.
    maxAttempts: 1,
    requestHandler: {
      httpAgent: new http.Agent(agentOpts),
      httpsAgent: new https.Agent(agentOpts),
      connectionTimeout: 10_000,
      requestTimeout: 60_000,
    },
  });
}

async function* paginate<P, T>(
  fetch: (token: string | undefined) => Promise<P>,
  items: (page: P) => T[] | undefined,
  nextToken: (page: P) => string | undefined,
): AsyncGenerator<T> {
  let token: string | undefined;
  do {
    const page = await fetch(token);
    for (const item of items(page) ?? []) yield item;
    token = nextToken(page) || undefined;
  } while (token);
}

/**
 * The one way this tool talks to Cognito. Every call is paced by its quota category's shared
 * rate limiter, retried on throttling (the limiter slows down) and on transient failures
 * (exponential backoff with jitter), and failures are mapped to the tool's error hierarchy.
 * List operations are async generators that follow every pagination token (pages may be short
 * before the end).
 */
export class CognitoGateway {
  readonly rate: RateController;
  private readonly retry: RetryPolicy;
  private signal: AbortSignal | undefined;
  /** Whether any call has had a response from the endpoint (success or service error). */
  private reached = false;

  constructor(
    readonly client: CognitoIdentityProviderClient,
    opts: {
      rate?: RateController | RateOptions;
      retry?: Partial<RetryPolicy>;
      signal?: AbortSignal;
    } = {},
  ) {
    this.rate =
      opts.rate instanceof RateController ? opts.rate : new RateController(opts.rate ?? {});
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.signal = opts.signal;
  }

  static create(
    settings: ClientSettings,
    opts: {
      rate?: RateController | RateOptions;
      retry?: Partial<RetryPolicy>;
      signal?: AbortSignal;
    } = {},
  ): CognitoGateway {
    return new CognitoGateway(createCognitoClient(settings), opts);
  }

  setSignal(signal: AbortSignal | undefined): void {
    this.signal = signal;
  }

  destroy(): void {
    this.client.destroy();
  }

  /** Runs one API call under its category's rate limit, with retries. */
  async call<T>(
    op: CognitoOperation,
    poolId: string | undefined,
    send: (abortSignal: AbortSignal | undefined) => Promise<T>,
    opts: CallOptions = {},
  ): Promise<T> {
    const category = categoryOf(op);
    const transientMax = opts.transientAttempts ?? this.retry.transientAttempts;
    let transient = 0;
    let throttled = 0;
    for (let attempt = 0; ; attempt++) {
      if (this.signal?.aborted) throw new InterruptedError();
      try {
        await this.rate.acquire(
          category,
          op,
          poolId,
          this.signal,
          opts.background ? BACKGROUND_MAX_AHEAD_MS : undefined,
        );
      } catch {
        throw new InterruptedError();
      }
      this.rate.recordCall(category, attempt > 0);
      try {
        const result = await send(this.signal);
        this.reached = true;
        return result;
      } catch (e) {
        if (this.signal?.aborted) throw new InterruptedError();
        const unreachable = isUnreachable(e);
        if (!unreachable && (e as { $metadata?: { httpStatusCode?: number } })?.$metadata) {
          this.reached = true;
        }
        const kind = classifyFailure(e);
        const context = {
          operation: op,
          ...(poolId ? { userPoolId: poolId } : {}),
          attempts: attempt + 1,
        };
        if (kind === 'throttle') {
          this.rate.onThrottle(category, op, poolId);
          if (++throttled >= this.retry.throttleAttempts) throw toVaultError(e, context);
          await this.backoff(throttled);
          continue;
        }
        if (kind === 'transient') {
          const max =
            unreachable && !this.reached
              ? Math.min(transientMax, this.retry.unreachableAttempts)
              : transientMax;
          if (++transient >= max) throw toVaultError(e, context);
          await this.backoff(transient);
          continue;
        }
        throw toVaultError(e, context);
      }
    }
  }

  private async backoff(n: number): Promise<void> {
    const cap = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (n - 1));
    try {
      await sleep(cap / 2 + Math.random() * (cap / 2), this.signal);
    } catch {
      throw new InterruptedError();
    }
  }

  // ---- pool ----------------------------------------------------------------------------------

  describeUserPool(userPoolId: string) {
    return this.call('DescribeUserPool', undefined, (abortSignal) =>
      this.client.send(new DescribeUserPoolCommand({ UserPoolId: userPoolId }), { abortSignal }),
    ).then((r) => r.UserPool);
  }

  listUserPools(): AsyncGenerator<UserPoolDescriptionType> {
    return paginate(
      (NextToken) =>
        this.call('ListUserPools', undefined, (abortSignal) =>
          this.client.send(new ListUserPoolsCommand({ MaxResults: 60, NextToken }), {
            abortSignal,
          }),
        ),
      (p) => p.UserPools,
      (p) => p.NextToken,
    );
  }

  getUserPoolMfaConfig(userPoolId: string) {
    return this.call('GetUserPoolMfaConfig', userPoolId, (abortSignal) =>
      this.client.send(new GetUserPoolMfaConfigCommand({ UserPoolId: userPoolId }), {
        abortSignal,
      }),
    );
  }

  describeUserPoolDomain(domain: string, opts?: CallOptions) {
    return this.call(
      'DescribeUserPoolDomain',
      undefined,
      (abortSignal) =>
        this.client.send(new DescribeUserPoolDomainCommand({ Domain: domain }), { abortSignal }),
      opts,
    ).then((r) => r.DomainDescription);
  }

  listTagsForResource(arn: string, userPoolId: string, opts?: CallOptions) {
    return this.call(
      'ListTagsForResource',
      userPoolId,
      (abortSignal) =>
        this.client.send(new ListTagsForResourceCommand({ ResourceArn: arn }), { abortSignal }),
      opts,
    ).then((r) => r.Tags ?? {});
  }

  /** The pool's UI customization, or one app client's (`clientId`; ClientId ALL = the pool's). */
  getUICustomization(userPoolId: string, opts?: CallOptions & { clientId?: string }) {
    const clientId = opts?.clientId;
    return this.call(
      'GetUICustomization',
      userPoolId,
      (abortSignal) =>
        this.client.send(
          new GetUICustomizationCommand({
            UserPoolId: userPoolId,
            ...(clientId ? { ClientId: clientId } : {}),
          }),
          { abortSignal },
        ),
      opts,
    ).then((r) => r.UICustomization);
  }

  /** The managed login style of one app client (customized values only). */
  describeManagedLoginBrandingByClient(userPoolId: string, clientId: string, opts?: CallOptions) {
    return this.call(
      'DescribeManagedLoginBrandingByClient',
      userPoolId,
      (abortSignal) =>
        this.client.send(
          new DescribeManagedLoginBrandingByClientCommand({
            UserPoolId: userPoolId,
            ClientId: clientId,
            ReturnMergedResources: false,
          }),
          { abortSignal },
        ),
      opts,
    ).then((r) => r.ManagedLoginBranding);
  }

  createManagedLoginBranding(input: CreateManagedLoginBrandingCommandInput) {
    return this.call('CreateManagedLoginBranding', input.UserPoolId, (abortSignal) =>
      this.client.send(new CreateManagedLoginBrandingCommand(input), { abortSignal }),
    ).then((r) => r.ManagedLoginBranding);
  }

  getLogDeliveryConfiguration(userPoolId: string, opts?: CallOptions) {
    return this.call(
      'GetLogDeliveryConfiguration',
      userPoolId,
      (abortSignal) =>
        this.client.send(new GetLogDeliveryConfigurationCommand({ UserPoolId: userPoolId }), {
          abortSignal,
        }),
      opts,
    ).then((r) => r.LogDeliveryConfiguration);
  }

  /** The pool's risk configuration, or one app client's (`clientId`). */
  describeRiskConfiguration(userPoolId: string, opts?: CallOptions & { clientId?: string }) {
    const clientId = opts?.clientId;
    return this.call(
      'DescribeRiskConfiguration',
      userPoolId,
      (abortSignal) =>
        this.client.send(
          new DescribeRiskConfigurationCommand({
            UserPoolId: userPoolId,
            ...(clientId ? { ClientId: clientId } : {}),
          }),
          { abortSignal },
        ),
      opts,
    ).then((r) => r.RiskConfiguration);
  }

  createUserPool(input: CreateUserPoolCommandInput) {
    return this.call('CreateUserPool', undefined, (abortSignal) =>
      this.client.send(new CreateUserPoolCommand(input), { abortSignal }),
    ).then((r) => r.UserPool);
  }

  setUserPoolMfaConfig(input: SetUserPoolMfaConfigCommandInput) {
    return this.call('SetUserPoolMfaConfig', input.UserPoolId, (abortSignal) =>
      this.client.send(new SetUserPoolMfaConfigCommand(input), { abortSignal }),
    );
  }

  setUICustomization(input: SetUICustomizationCommandInput) {
    return this.call('SetUICustomization', input.UserPoolId, (abortSignal) =>
      this.client.send(new SetUICustomizationCommand(input), { abortSignal }),
    );
  }

  setRiskConfiguration(input: SetRiskConfigurationCommandInput) {
    return this.call('SetRiskConfiguration', input.UserPoolId, (abortSignal) =>
      this.client.send(new SetRiskConfigurationCommand(input), { abortSignal }),
    );
  }

  setLogDeliveryConfiguration(input: SetLogDeliveryConfigurationCommandInput) {
    return this.call('SetLogDeliveryConfiguration', input.UserPoolId, (abortSignal) =>
      this.client.send(new SetLogDeliveryConfigurationCommand(input), { abortSignal }),
    );
  }

  createUserPoolDomain(input: CreateUserPoolDomainCommandInput) {
    return this.call('CreateUserPoolDomain', input.UserPoolId, (abortSignal) =>
      this.client.send(new CreateUserPoolDomainCommand(input), { abortSignal }),
    );
  }

  addCustomAttributes(input: AddCustomAttributesCommandInput) {
    return this.call('AddCustomAttributes', input.UserPoolId, (abortSignal) =>
      this.client.send(new AddCustomAttributesCommand(input), { abortSignal }),
    );
  }

  tagResource(arn: string, userPoolId: string, tags: Record<string, string>) {
    return this.call('TagResource', userPoolId, (abortSignal) =>
      this.client.send(new TagResourceCommand({ ResourceArn: arn, Tags: tags }), { abortSignal }),
    );
  }

  // ---- clients, identity providers, resource servers ----------------------------------------

  listUserPoolClients(userPoolId: string): AsyncGenerator<UserPoolClientDescription> {
    return paginate(
      (NextToken) =>
        this.call('ListUserPoolClients', userPoolId, (abortSignal) =>
          this.client.send(
            new ListUserPoolClientsCommand({ UserPoolId: userPoolId, MaxResults: 60, NextToken }),
            {
              abortSignal,
            },
          ),
        ),
      (p) => p.UserPoolClients,
      (p) => p.NextToken,
    );
  }

  describeUserPoolClient(userPoolId: string, clientId: string) {
    return this.call('DescribeUserPoolClient', userPoolId, (abortSignal) =>
      this.client.send(
        new DescribeUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: clientId }),
        {
          abortSignal,
        },
      ),
    ).then((r) => r.UserPoolClient);
  }

  /** The client's secrets, without values (Cognito never returns them here; at most 2). */
  listUserPoolClientSecrets(userPoolId: string, clientId: string, opts?: CallOptions) {
    return this.call(
      'ListUserPoolClientSecrets',
      userPoolId,
      (abortSignal) =>
        this.client.send(
          new ListUserPoolClientSecretsCommand({ UserPoolId: userPoolId, ClientId: clientId }),
          { abortSignal },
        ),
      opts,
    ).then((r) => r.ClientSecrets ?? []);
  }

  createUserPoolClient(input: CreateUserPoolClientCommandInput) {
    return this.call('CreateUserPoolClient', input.UserPoolId, (abortSignal) =>
      this.client.send(new CreateUserPoolClientCommand(input), { abortSignal }),
    ).then((r) => r.UserPoolClient);
  }

  listIdentityProviders(userPoolId: string): AsyncGenerator<ProviderDescription> {
    return paginate(
      (NextToken) =>
        this.call('ListIdentityProviders', userPoolId, (abortSignal) =>
          this.client.send(
            new ListIdentityProvidersCommand({ UserPoolId: userPoolId, MaxResults: 60, NextToken }),
            {
              abortSignal,
            },
          ),
        ),
      (p) => p.Providers,
      (p) => p.NextToken,
    );
  }

  describeIdentityProvider(userPoolId: string, providerName: string) {
    return this.call('DescribeIdentityProvider', userPoolId, (abortSignal) =>
      this.client.send(
        new DescribeIdentityProviderCommand({ UserPoolId: userPoolId, ProviderName: providerName }),
        {
          abortSignal,
        },
      ),
    ).then((r) => r.IdentityProvider);
  }

  createIdentityProvider(input: CreateIdentityProviderCommandInput) {
    return this.call('CreateIdentityProvider', input.UserPoolId, (abortSignal) =>
      this.client.send(new CreateIdentityProviderCommand(input), { abortSignal }),
    );
  }

  listResourceServers(userPoolId: string): AsyncGenerator<ResourceServerType> {
    return paginate(
      (NextToken) =>
        this.call('ListResourceServers', userPoolId, (abortSignal) =>
          this.client.send(
            new ListResourceServersCommand({ UserPoolId: userPoolId, MaxResults: 50, NextToken }),
            {
              abortSignal,
            },
          ),
        ),
      (p) => p.ResourceServers,
      (p) => p.NextToken,
    );
  }

  createResourceServer(input: CreateResourceServerCommandInput) {
    return this.call('CreateResourceServer', input.UserPoolId, (abortSignal) =>
      this.client.send(new CreateResourceServerCommand(input), { abortSignal }),
    );
  }

  // ---- groups --------------------------------------------------------------------------------

  listGroups(userPoolId: string): AsyncGenerator<GroupType> {
    return paginate(
      (NextToken) =>
        this.call('ListGroups', userPoolId, (abortSignal) =>
          this.client.send(
            new ListGroupsCommand({ UserPoolId: userPoolId, Limit: 60, NextToken }),
            { abortSignal },
          ),
        ),
      (p) => p.Groups,
      (p) => p.NextToken,
    );
  }

  createGroup(input: CreateGroupCommandInput) {
    return this.call('CreateGroup', input.UserPoolId, (abortSignal) =>
      this.client.send(new CreateGroupCommand(input), { abortSignal }),
    );
  }

  listUsersInGroup(userPoolId: string, groupName: string): AsyncGenerator<UserType> {
    return paginate(
      (NextToken) =>
        this.call('ListUsersInGroup', userPoolId, (abortSignal) =>
          this.client.send(
            new ListUsersInGroupCommand({
              UserPoolId: userPoolId,
              GroupName: groupName,
              Limit: 60,
              NextToken,
            }),
            { abortSignal },
          ),
        ),
      (p) => p.Users,
      (p) => p.NextToken,
    );
  }

  adminAddUserToGroup(userPoolId: string, username: string, groupName: string) {
    return this.call('AdminAddUserToGroup', userPoolId, (abortSignal) =>
      this.client.send(
        new AdminAddUserToGroupCommand({
          UserPoolId: userPoolId,
          Username: username,
          GroupName: groupName,
        }),
        { abortSignal },
      ),
    );
  }

  // ---- users ---------------------------------------------------------------------------------

  /** Every user matching `filter` (all users without one), 60 per page, every page. */
  async *listUsers(userPoolId: string, filter?: string): AsyncGenerator<UserType> {
    for await (const page of this.listUsersPages(userPoolId, filter)) yield* page;
  }

  /** Like listUsers, but yields whole pages (for progress accounting). */
  listUsersPages(
    userPoolId: string,
    filter?: string,
    opts: CallOptions = {},
  ): AsyncGenerator<UserType[]> {
    return paginate(
      (PaginationToken) =>
        this.call(
          'ListUsers',
          userPoolId,
          (abortSignal) =>
            this.client.send(
              new ListUsersCommand({
                UserPoolId: userPoolId,
                Limit: 60,
                PaginationToken,
                ...(filter ? { Filter: filter } : {}),
              }),
              { abortSignal },
            ),
          opts,
        ),
      (p) => [p.Users ?? []],
      (p) => p.PaginationToken,
    );
  }

  adminCreateUser(input: AdminCreateUserCommandInput) {
    // A restore never messages users: SUPPRESS is forced here, in the one gateway.
    return this.call('AdminCreateUser', input.UserPoolId, (abortSignal) =>
      this.client.send(new AdminCreateUserCommand({ ...input, MessageAction: 'SUPPRESS' }), {
        abortSignal,
      }),
    ).then((r) => r.User);
  }

  adminGetUser(userPoolId: string, username: string) {
    return this.call('AdminGetUser', userPoolId, (abortSignal) =>
      this.client.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: username }), {
        abortSignal,
      }),
    );
  }

  /**
   * Sets a user's password (Permanent: CONFIRMED). Sends no message. The password is never part
   * of an error, a log line or the rate report.
   */
  adminSetUserPassword(userPoolId: string, username: string, password: string, permanent: boolean) {
    return this.call('AdminSetUserPassword', userPoolId, (abortSignal) =>
      this.client.send(
        new AdminSetUserPasswordCommand({
          UserPoolId: userPoolId,
          Username: username,
          Password: password,
          Permanent: permanent,
        }),
        { abortSignal },
      ),
    );
  }

  adminDisableUser(userPoolId: string, username: string) {
    return this.call('AdminDisableUser', userPoolId, (abortSignal) =>
      this.client.send(
        new AdminDisableUserCommand({ UserPoolId: userPoolId, Username: username }),
        { abortSignal },
      ),
    );
  }

  adminLinkProviderForUser(input: AdminLinkProviderForUserCommandInput) {
    return this.call('AdminLinkProviderForUser', input.UserPoolId, (abortSignal) =>
      this.client.send(new AdminLinkProviderForUserCommand(input), { abortSignal }),
    );
  }

  // ---- CSV import ----------------------------------------------------------------------------

  getCSVHeader(userPoolId: string) {
    return this.call('GetCSVHeader', userPoolId, (abortSignal) =>
      this.client.send(new GetCSVHeaderCommand({ UserPoolId: userPoolId }), { abortSignal }),
    ).then((r) => r.CSVHeader ?? []);
  }

  createUserImportJob(input: CreateUserImportJobCommandInput) {
    return this.call('CreateUserImportJob', input.UserPoolId, (abortSignal) =>
      this.client.send(new CreateUserImportJobCommand(input), { abortSignal }),
    ).then((r) => r.UserImportJob);
  }

  startUserImportJob(userPoolId: string, jobId: string) {
    return this.call('StartUserImportJob', userPoolId, (abortSignal) =>
      this.client.send(new StartUserImportJobCommand({ UserPoolId: userPoolId, JobId: jobId }), {
        abortSignal,
      }),
    ).then((r) => r.UserImportJob);
  }

  describeUserImportJob(userPoolId: string, jobId: string) {
    return this.call('DescribeUserImportJob', userPoolId, (abortSignal) =>
      this.client.send(new DescribeUserImportJobCommand({ UserPoolId: userPoolId, JobId: jobId }), {
        abortSignal,
      }),
    ).then((r) => r.UserImportJob);
  }

  stopUserImportJob(userPoolId: string, jobId: string) {
    return this.call('StopUserImportJob', userPoolId, (abortSignal) =>
      this.client.send(new StopUserImportJobCommand({ UserPoolId: userPoolId, JobId: jobId }), {
        abortSignal,
      }),
    ).then((r) => r.UserImportJob);
  }

  /** Every import job of the pool (newest first, as Cognito lists them). */
  listUserImportJobs(userPoolId: string): AsyncGenerator<UserImportJobType> {
    return paginate(
      (PaginationToken) =>
        this.call('ListUserImportJobs', userPoolId, (abortSignal) =>
          this.client.send(
            new ListUserImportJobsCommand({
              UserPoolId: userPoolId,
              MaxResults: 60,
              PaginationToken,
            }),
            { abortSignal },
          ),
        ),
      (p) => p.UserImportJobs,
      (p) => p.PaginationToken,
    );
  }
}

export { awsErrorName };
