import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  type AdminCreateUserCommandInput,
  AdminDisableUserCommand,
  AdminGetUserCommand,
  type AdminGetUserCommandInput,
  AdminLinkProviderForUserCommand,
  AdminSetUserPasswordCommand,
  type AdminSetUserPasswordCommandInput,
  CreateGroupCommand,
  CreateIdentityProviderCommand,
  CreateResourceServerCommand,
  CreateManagedLoginBrandingCommand,
  type CreateManagedLoginBrandingCommandInput,
  CreateUserPoolClientCommand,
  type CreateUserPoolClientCommandInput,
  type CreateUserPoolCommandInput,
  CreateUserPoolCommand,
  DescribeUserPoolCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
  ListUsersCommand,
  SetRiskConfigurationCommand,
  SetUICustomizationCommand,
  SetUserPoolMfaConfigCommand,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ExitCode,
  PartialRestoreError,
  SnapshotInvalidError,
  StorageError,
  TargetIncompatibleError,
} from '../../src/core/errors.js';
import { printedRestore } from '../../src/cli/restore.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { restoreExitCode, restoreSnapshot } from '../../src/restore/engine.js';
import { MembershipIndex } from '../../src/restore/users/memberships.js';
import { planPoolCreation } from '../../src/restore/pool/target.js';
import { RESTORE_TOKEN_TAG } from '../../src/restore/create-once.js';
import { WorkQueue } from '../../src/restore/users/queue.js';
import type { RestoreOptions, RestorePlan, RestoreResult } from '../../src/restore/types.js';
import { REDACTED, SnapshotReader } from '../../src/snapshot/index.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { awsError, netError } from '../support/aws-errors.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitGateway } from '../support/unit-gateway.js';

const SOURCE = 'us-east-1_Source';
const TARGET = 'us-east-1_Target';

interface U {
  Username: string;
  Attributes: { Name: string; Value: string }[];
  Enabled?: boolean;
  UserStatus?: string;
}

function user(name: string, extra: Partial<U> = {}, attrs: Record<string, string> = {}): U {
  return {
    Username: name,
    Attributes: [
      { Name: 'sub', Value: `old-sub-${name}` },
      { Name: 'email', Value: `${name}@example.com` },
      { Name: 'email_verified', Value: 'true' },
      { Name: 'custom:tier', Value: 'gold' },
      ...Object.entries(attrs).map(([Name, Value]) => ({ Name, Value })),
    ],
    Enabled: true,
    UserStatus: 'CONFIRMED',
    ...extra,
  };
}

const SCHEMA = [
  { Name: 'sub', AttributeDataType: 'String', Mutable: false, Required: true },
  { Name: 'email', AttributeDataType: 'String', Mutable: true, Required: false },
  { Name: 'custom:tier', AttributeDataType: 'String', Mutable: true, Required: false },
] as const;

function sourcePool(over: Partial<UserPoolType> = {}): Record<string, unknown> {
  return {
    Id: SOURCE,
    Name: 'source',
    SchemaAttributes: SCHEMA,
    AliasAttributes: ['email'],
    UsernameConfiguration: { CaseSensitive: false },
    MfaConfiguration: 'OFF',
    ...over,
  };
}

interface SnapshotSpec {
  users: U[];
  memberships: { group: string; username: string }[];
  pool?: Record<string, unknown>;
  groups?: Record<string, unknown>[];
  clients?: Record<string, unknown>[];
  idps?: Record<string, unknown>[];
  resourceServers?: Record<string, unknown>[];
  /** managed-login-branding.json; absent: a snapshot from before it existed. */
  branding?: Record<string, unknown>[];
  /** Extra pool.json members (per-client settings…). */
  poolDoc?: Record<string, unknown>;
}

async function makeSnapshot(spec: SnapshotSpec): Promise<SnapshotReader> {
  const storage = new MemoryStorage();
  const w = new SnapshotWriter(storage);
  await w.writeJson(
    'pool.json',
    'pool',
    {
      userPool: spec.pool ?? sourcePool(),
      mfaConfig: { MfaConfiguration: 'OFF' },
      ...spec.poolDoc,
    },
    1,
  );
  const groups = spec.groups ?? [
    { GroupName: 'everyone', Description: 'all', Precedence: 5 },
    { GroupName: 'admins', RoleArn: 'arn:aws:iam::123456789012:role/admin' },
  ];
  await w.writeJson('groups.json', 'groups', groups, groups.length);
  const clients = spec.clients ?? [
    { ClientId: 'old-web', ClientName: 'web', SupportedIdentityProviders: ['COGNITO', 'Google'] },
    {
      ClientId: 'old-machine',
      ClientName: 'machine',
      ClientSecret: REDACTED,
      CreationDate: '2026-01-01T00:00:00.000Z',
    },
  ];
  await w.writeJson('clients.json', 'clients', clients, clients.length);
  const idps = spec.idps ?? [
    {
      ProviderName: 'Google',
      ProviderType: 'Google',
      ProviderDetails: { client_id: 'cid', client_secret: REDACTED, authorize_scopes: 'openid' },
      AttributeMapping: { email: 'email' },
    },
  ];
  await w.writeJson('identity-providers.json', 'identityProviders', idps, idps.length);
  const servers = spec.resourceServers ?? [];
  await w.writeJson('resource-servers.json', 'resourceServers', servers, servers.length);
  if (spec.branding)
    await w.writeJson(
      'managed-login-branding.json',
      'managedLoginBranding',
      spec.branding,
      spec.branding.length,
    );
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', spec.users);
  await w.writeJsonLines('memberships/part-00000.jsonl.gz', 'memberships', spec.memberships);
  await w.commit({
    tool: { name: 'cognito-vault', version: 'test' },
    snapshotId: '2026-11-27T17-22-00-123Z',
    userPool: { id: SOURCE, name: 'source', region: 'us-east-1' },
    startedAt: '2026-11-27T17:22:00.123Z',
    finishedAt: '2026-11-27T17:22:01.123Z',
    counts: {
      users: spec.users.length,
      groups: groups.length,
      memberships: spec.memberships.length,
      clients: clients.length,
      identityProviders: idps.length,
      resourceServers: servers.length,
    },
    options: { includeSecrets: false, sharding: { mode: 'single', shards: 1 } },
    warnings: [],
  });
  return SnapshotReader.open(storage);
}

let mock: StackMock;
let gw: CognitoGateway;
let stateDir: string;
let targetPool: UserPoolType;
/** Usernames the target already has (AdminCreateUser → UsernameExistsException). */
let existing: Map<string, string>;
/** Usernames whose AdminCreateUser fails with InvalidParameterException. */
let rejected: Set<string>;
let created: AdminCreateUserCommandInput[];

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'cv-restore-unit-'));
  ({ mock, gw } = unitGateway());
  targetPool = {
    Id: TARGET,
    Name: 'target',
    SchemaAttributes: [...SCHEMA],
    AliasAttributes: ['email'],
    UsernameConfiguration: { CaseSensitive: false },
  };
  existing = new Map();
  rejected = new Set();
  created = [];
  mock.on(DescribeUserPoolCommand).callsFake(() => ({ UserPool: targetPool }));
  mock.on(ListUsersCommand).resolves({ Users: [] });
  mock.on(ListGroupsCommand).resolves({ Groups: [] });
  mock.on(CreateGroupCommand).resolves({});
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock.on(CreateResourceServerCommand).resolves({});
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
  mock.on(CreateIdentityProviderCommand).resolves({});
  mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
  mock.on(CreateUserPoolClientCommand).callsFake((i: CreateUserPoolClientCommandInput) => ({
    UserPoolClient: { ClientId: `new-${i.ClientName}`, ClientName: i.ClientName },
  }));
  mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => {
    const name = i.Username ?? '';
    if (existing.has(name)) throw awsError('UsernameExistsException');
    if (rejected.has(name)) throw awsError('InvalidParameterException');
    created.push(i);
    const generated = (targetPool.UsernameAttributes?.length ?? 0) > 0;
    return {
      User: {
        Username: generated ? `uuid-${name}` : name,
        Attributes: [{ Name: 'sub', Value: `new-sub-${name}` }],
      },
    };
  });
  mock.on(AdminGetUserCommand).callsFake((i: AdminGetUserCommandInput) => {
    const sub = existing.get(i.Username ?? '');
    if (!sub) throw awsError('UserNotFoundException');
    return { Username: i.Username, UserAttributes: [{ Name: 'sub', Value: sub }] };
  });
  mock.on(AdminAddUserToGroupCommand).resolves({});
  mock.on(AdminDisableUserCommand).resolves({});
  mock.on(AdminLinkProviderForUserCommand).resolves({});
});

afterEach(async () => {
  mock.restore();
  await rm(stateDir, { recursive: true, force: true });
});

const STANDARD: SnapshotSpec = {
  users: [
    user(
      'alice',
      {},
      {
        identities: JSON.stringify([
          { providerName: 'Google', userId: 'g-123', providerType: 'Google' },
        ]),
        'cognito:mfa_enabled': 'false',
      },
    ),
    user('bob', { Enabled: false }),
    user('Google_999', { UserStatus: 'EXTERNAL_PROVIDER' }),
    user('dave'),
  ],
  memberships: [
    { group: 'everyone', username: 'alice' },
    { group: 'admins', username: 'alice' },
    { group: 'everyone', username: 'bob' },
    { group: 'everyone', username: 'Google_999' },
    { group: 'everyone', username: 'dave' },
  ],
};

function opts(over: Partial<RestoreOptions> = {}): RestoreOptions {
  return {
    target: { userPoolId: TARGET },
    stateDir,
    idpSecrets: { Google: { client_secret: 'from-file' } },
    ...over,
  };
}

async function restore(spec: SnapshotSpec, over: Partial<RestoreOptions> = {}) {
  const reader = await makeSnapshot(spec);
  return (await restoreSnapshot(gw, reader, opts(over))) as RestoreResult;
}

function subMap(
  file: string,
): { username: string; oldSub: string; newSub: string; newUsername?: string }[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { username: string; oldSub: string; newSub: string });
}

describe('restore engine (stack mock)', () => {
  it('creates every user with MessageAction SUPPRESS, no delivery medium, and only writable attributes', async () => {
    const r = await restore(STANDARD);
    expect(r.users).toEqual({
      created: 3,
      imported: 0,
      existing: 0,
      failed: 0,
      externalProvider: 1,
    });
    const calls = mock.commandCalls(AdminCreateUserCommand);
    expect(calls).toHaveLength(3);
    for (const c of calls) {
      const input = c.args[0].input;
      expect(input.MessageAction).toBe('SUPPRESS');
      expect(input.DesiredDeliveryMediums).toBeUndefined();
      expect(input.TemporaryPassword).toBeUndefined();
      const names = (input.UserAttributes ?? []).map((a) => a.Name);
      expect(names).not.toContain('sub');
      expect(names).not.toContain('identities');
      expect(names.filter((n) => n?.startsWith('cognito:'))).toEqual([]);
      expect(names).toEqual(expect.arrayContaining(['email', 'email_verified', 'custom:tier']));
    }
    const alice = calls.find((c) => c.args[0].input.Username === 'alice')?.args[0].input;
    expect(alice?.UserAttributes).toContainEqual({ Name: 'email_verified', Value: 'true' });
    expect(restoreExitCode(r)).toBe(ExitCode.Ok);
    expect(r.memberships).toBe(4);
    expect(r.disabled).toBe(1);
    expect(mock.commandCalls(AdminDisableUserCommand).map((c) => c.args[0].input.Username)).toEqual(
      ['bob'],
    );
  });

  it('links identities of native users with AdminLinkProviderForUser after the IdP exists', async () => {
    const r = await restore(STANDARD);
    const links = mock.commandCalls(AdminLinkProviderForUserCommand);
    expect(links).toHaveLength(1);
    expect(links[0]?.args[0].input).toEqual({
      UserPoolId: TARGET,
      DestinationUser: { ProviderName: 'Cognito', ProviderAttributeValue: 'alice' },
      SourceUser: {
        ProviderName: 'Google',
        ProviderAttributeName: 'Cognito_Subject',
        ProviderAttributeValue: 'g-123',
      },
    });
    expect(r.links).toBe(1);
    // The IdP was created (with the secret from --idp-secrets) before any link.
    const idp = mock.commandCalls(CreateIdentityProviderCommand)[0]?.args[0].input;
    expect(idp?.ProviderDetails).toEqual({
      client_id: 'cid',
      client_secret: 'from-file',
      authorize_scopes: 'openid',
    });
    const order = mock
      .calls()
      .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name);
    expect(order.indexOf('CreateIdentityProviderCommand')).toBeLessThan(
      order.indexOf('AdminLinkProviderForUserCommand'),
    );
  });

  it('lists EXTERNAL_PROVIDER users with their groups and never creates them', async () => {
    const r = await restore(STANDARD);
    const usernames = mock
      .commandCalls(AdminCreateUserCommand)
      .map((c) => c.args[0].input.Username);
    expect(usernames).not.toContain('Google_999');
    expect(r.externalProviderUsers).toEqual([
      { username: 'Google_999', oldSub: 'old-sub-Google_999', groups: ['everyone'] },
    ]);
    expect(
      mock.commandCalls(AdminAddUserToGroupCommand).map((c) => c.args[0].input.Username),
    ).not.toContain('Google_999');
    expect(r.warnings.map((w) => w.code)).toContain('EXTERNAL_PROVIDER_USERS');
  });

  it('counts UsernameExistsException as existing, with the sub from AdminGetUser, and still applies follow-ups', async () => {
    existing.set('bob', 'live-sub-bob');
    const r = await restore(STANDARD);
    expect(r.users).toEqual({
      created: 2,
      imported: 0,
      existing: 1,
      failed: 0,
      externalProvider: 1,
    });
    expect(r.failedUsers).toEqual([]);
    const bob = subMap(r.subMap).find((e) => e.username === 'bob');
    expect(bob).toEqual({ username: 'bob', oldSub: 'old-sub-bob', newSub: 'live-sub-bob' });
    expect(mock.commandCalls(AdminDisableUserCommand).map((c) => c.args[0].input.Username)).toEqual(
      ['bob'],
    );
  });

  it('puts a failing user in failedUsers (exception name and message), finishes the rest, exit code 6', async () => {
    rejected.add('dave');
    const r = await restore(STANDARD);
    expect(r.users).toEqual({
      created: 2,
      imported: 0,
      existing: 0,
      failed: 1,
      externalProvider: 1,
    });
    expect(r.failedUsers).toEqual([
      {
        username: 'dave',
        operation: 'AdminCreateUser',
        error: 'InvalidParameterException: InvalidParameterException: simulated',
      },
    ]);
    expect(restoreExitCode(r)).toBe(ExitCode.PartialRestore);
    expect(
      subMap(r.subMap)
        .map((e) => e.username)
        .sort(),
    ).toEqual(['alice', 'bob']);
    const report = JSON.parse(readFileSync(r.report, 'utf8')) as RestoreResult;
    expect(report.failedUsers).toHaveLength(1);
    expect(statSync(r.report).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
  });

  it('the CLI view of a restore holds counts and the report path, never usernames or AWS messages', async () => {
    rejected.add('dave');
    const r = await restore(STANDARD);
    const printed = printedRestore(r);
    const text = JSON.stringify(printed);
    expect(printed).toMatchObject({ failedOperations: 1, report: r.report });
    expect(printed).not.toHaveProperty('failedUsers');
    expect(printed).not.toHaveProperty('externalProviderUsers');
    for (const secret of ['dave', 'Google_999', 'old-sub-', 'simulated']) {
      expect(text).not.toContain(secret);
    }
    // The library keeps the detail, and so does the 0600 report.
    expect(r.failedUsers).toHaveLength(1);
    expect(readFileSync(r.report, 'utf8')).toContain('dave');
  });

  it('users failing in a row stop the run with counts and the exception name only; the report lists them', async () => {
    mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => {
      // What a PreSignUp Lambda trigger answers: its text quotes the user's attributes.
      throw Object.assign(
        new Error(`PreSignUp failed with error rejected ${i.Username ?? ''}@example.com.`),
        {
          name: 'UserLambdaValidationException',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        },
      );
    });
    const e = await restore(STANDARD, { consecutiveFailureLimit: 2 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PartialRestoreError);
    const err = e as PartialRestoreError;
    const shown = `${err.message} ${JSON.stringify(err.toJSON())}`;
    expect(shown).toMatch(/stopped after 2 users failed in a row/);
    expect(shown).toMatch(/UserLambdaValidationException/);
    for (const pii of ['alice', 'bob', 'dave', 'example.com', 'PreSignUp failed']) {
      expect(shown).not.toContain(pii);
    }
    const report = JSON.parse(readFileSync(path.join(stateDir, 'report.json'), 'utf8')) as {
      failedUsers: { username: string }[];
    };
    expect(report.failedUsers.length).toBeGreaterThanOrEqual(2);
    expect(statSync(path.join(stateDir, 'report.json')).mode & 0o777).toBe(0o600);
  });

  it('checks the state directory and the sub map before any Cognito write (exit 8)', async () => {
    const file = path.join(stateDir, 'a-file');
    writeFileSync(file, 'x');
    for (const over of [
      { stateDir: path.join(file, 'state') },
      { subMapFile: path.join(file, 'sub-map.jsonl') },
      { subMapFile: stateDir },
    ]) {
      const e = await restore(STANDARD, over).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).exitCode).toBe(ExitCode.Storage);
    }
    expect(mock.commandCalls(AdminCreateUserCommand)).toHaveLength(0);
    expect(mock.commandCalls(CreateGroupCommand)).toHaveLength(0);
  });

  it('a journal or report that cannot be written mid-run is a storage error (exit 8), not exit 1', async () => {
    const reportDir = path.join(stateDir, 'report.json');
    // report.json taken by a directory after the preflight: the write fails at the end.
    mock.on(CreateUserPoolClientCommand).callsFake((i: CreateUserPoolClientCommandInput) => {
      mkdirSync(reportDir, { recursive: true });
      return { UserPoolClient: { ClientId: `new-${i.ClientName}`, ClientName: i.ClientName } };
    });
    const e = await restore(STANDARD).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).exitCode).toBe(ExitCode.Storage);
  });

  it('writes the client id map (new ids, new secret where there was one) and drops skipped IdPs', async () => {
    const r = await restore(STANDARD, { idpSecrets: undefined });
    expect(JSON.parse(readFileSync(r.clientMap, 'utf8'))).toEqual({
      'old-web': 'new-web',
      'old-machine': 'new-machine',
    });
    const inputs = mock.commandCalls(CreateUserPoolClientCommand).map((c) => c.args[0].input);
    const web = inputs.find((i) => i.ClientName === 'web');
    const machine = inputs.find((i) => i.ClientName === 'machine');
    expect(web?.SupportedIdentityProviders).toEqual(['COGNITO']);
    expect(web?.GenerateSecret).toBeUndefined();
    expect(machine?.GenerateSecret).toBe(true);
    expect(machine).not.toHaveProperty('ClientSecret');
    expect(machine).not.toHaveProperty('CreationDate');
    expect(mock.commandCalls(CreateIdentityProviderCommand)).toHaveLength(0);
    expect(mock.commandCalls(AdminLinkProviderForUserCommand)).toHaveLength(0);
    const codes = r.warnings.map((w) => w.code);
    expect(codes).toEqual(
      expect.arrayContaining(['IDP_SKIPPED', 'CLIENT_IDP_DROPPED', 'LINKS_SKIPPED']),
    );
    expect(r.warnings.find((w) => w.code === 'IDP_SKIPPED')?.message).toContain('Google');
  });

  it('passes the email as Username in email-username pools and addresses follow-ups to the new username', async () => {
    targetPool.UsernameAttributes = ['email'];
    targetPool.AliasAttributes = undefined;
    const pool = sourcePool({ UsernameAttributes: ['email'], AliasAttributes: undefined });
    const r = await restore({
      pool,
      users: [user('0b1c-uuid-a', { Enabled: false })],
      memberships: [{ group: 'admins', username: '0b1c-uuid-a' }],
    });
    expect(mock.commandCalls(AdminCreateUserCommand)[0]?.args[0].input.Username).toBe(
      '0b1c-uuid-a@example.com',
    );
    expect(mock.commandCalls(AdminAddUserToGroupCommand)[0]?.args[0].input).toMatchObject({
      Username: 'uuid-0b1c-uuid-a@example.com',
      GroupName: 'admins',
    });
    expect(mock.commandCalls(AdminDisableUserCommand)[0]?.args[0].input.Username).toBe(
      'uuid-0b1c-uuid-a@example.com',
    );
    expect(subMap(r.subMap)).toEqual([
      {
        username: '0b1c-uuid-a',
        oldSub: 'old-sub-0b1c-uuid-a',
        newSub: 'new-sub-0b1c-uuid-a@example.com',
        newUsername: 'uuid-0b1c-uuid-a@example.com',
      },
    ]);
  });

  it('resumes from the journal: users done before are not created again and the sub map has each once', async () => {
    const spec: SnapshotSpec = {
      users: Array.from({ length: 12 }, (_, i) => user(`u${i}`)),
      memberships: Array.from({ length: 12 }, (_, i) => ({ group: 'everyone', username: `u${i}` })),
    };
    // First run: the endpoint goes away after five users (a fatal error stops the run).
    let n = 0;
    mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => {
      if (++n > 5) throw netError('ECONNRESET');
      created.push(i);
      return {
        User: {
          Username: i.Username,
          Attributes: [{ Name: 'sub', Value: `new-sub-${i.Username}` }],
        },
      };
    });
    await expect(restore(spec, { createConcurrency: 1 })).rejects.toMatchObject({
      exitCode: ExitCode.ServiceUnavailable,
    });
    expect(created).toHaveLength(5);
    // Second run: the endpoint is back; the target now has users, and the journal says why.
    mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => {
      created.push(i);
      return {
        User: {
          Username: i.Username,
          Attributes: [{ Name: 'sub', Value: `new-sub-${i.Username}` }],
        },
      };
    });
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'u0' }] });
    const r = await restore(spec, { createConcurrency: 1 });
    expect(r.resumed).toBe(true);
    expect(created.map((c) => c.Username).sort()).toEqual(spec.users.map((u) => u.Username).sort());
    expect(r.users).toEqual({
      created: 12,
      imported: 0,
      existing: 0,
      failed: 0,
      externalProvider: 0,
    });
    expect(r.memberships).toBe(12);
    const map = subMap(r.subMap);
    expect(map).toHaveLength(12);
    expect(new Set(map.map((e) => e.username)).size).toBe(12);
    // Groups were not listed or created again on the second run.
    expect(mock.commandCalls(CreateGroupCommand)).toHaveLength(2);
  });

  it('treats a user whose creation was in flight when the run died as created, not existing', async () => {
    const spec: SnapshotSpec = { users: [user('a'), user('b')], memberships: [] };
    // Run 1 dies on b's AdminCreateUser after Cognito created it (the journal has only the intent).
    mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => {
      if (i.Username === 'b') {
        existing.set('b', 'new-sub-b');
        throw netError('ECONNRESET');
      }
      return {
        User: {
          Username: i.Username,
          Attributes: [{ Name: 'sub', Value: `new-sub-${i.Username}` }],
        },
      };
    });
    // The reset is the run's end: exit 7 for that operation, not some other failure.
    await expect(restore(spec, { createConcurrency: 1 })).rejects.toMatchObject({
      name: 'ServiceUnavailableError',
      code: 'CONNECTION_FAILED',
      exitCode: 7,
      context: { operation: 'AdminCreateUser', networkCode: 'ECONNRESET' },
    });
    mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => {
      if (existing.has(i.Username ?? '')) throw awsError('UsernameExistsException');
      return {
        User: {
          Username: i.Username,
          Attributes: [{ Name: 'sub', Value: `new-sub-${i.Username}` }],
        },
      };
    });
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'a' }] });
    const r = await restore(spec, { createConcurrency: 1 });
    expect(r.users).toEqual({
      created: 2,
      imported: 0,
      existing: 0,
      failed: 0,
      externalProvider: 0,
    });
    expect(subMap(r.subMap).find((e) => e.username === 'b')?.newSub).toBe('new-sub-b');
  });
});

/** Operations a restore may call; anything that can message a user is absent. */
const ALLOWED_OPERATIONS = new Set([
  'DescribeUserPoolCommand',
  'ListUsersCommand',
  'ListUserPoolsCommand',
  'CreateUserPoolCommand',
  'SetUserPoolMfaConfigCommand',
  'ListGroupsCommand',
  'CreateGroupCommand',
  'ListResourceServersCommand',
  'CreateResourceServerCommand',
  'ListIdentityProvidersCommand',
  'CreateIdentityProviderCommand',
  'ListUserPoolClientsCommand',
  'CreateUserPoolClientCommand',
  'AdminCreateUserCommand',
  'AdminGetUserCommand',
  'AdminSetUserPasswordCommand',
  'AdminAddUserToGroupCommand',
  'AdminDisableUserCommand',
  'AdminLinkProviderForUserCommand',
]);

function assertSilent(): void {
  const names = mock.calls().map((c) => (c.args[0] as object).constructor.name);
  expect(names.filter((n) => !ALLOWED_OPERATIONS.has(n))).toEqual([]);
  for (const c of mock.commandCalls(AdminCreateUserCommand)) {
    expect(c.args[0].input.MessageAction).toBe('SUPPRESS');
    expect(c.args[0].input.DesiredDeliveryMediums).toBeUndefined();
  }
}

function readAll(dir: string): string {
  return readdirSync(dir)
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
}

describe('how each user gets back in (admin-create, --password-state)', () => {
  const MIXED: SnapshotSpec = {
    users: [
      user('conf'),
      user('reset', { UserStatus: 'RESET_REQUIRED' }),
      user('forced', { UserStatus: 'FORCE_CHANGE_PASSWORD', Enabled: false }),
      user('unconf', { UserStatus: 'UNCONFIRMED' }),
      user('nocontact', {
        Attributes: [
          { Name: 'sub', Value: 'old-sub-nocontact' },
          { Name: 'email', Value: 'nocontact@example.com' },
          { Name: 'email_verified', Value: 'false' },
        ],
      }),
      user('Google_1', { UserStatus: 'EXTERNAL_PROVIDER' }),
    ],
    memberships: [{ group: 'everyone', username: 'forced' }],
  };

  it('sign-in-ready (default): CONFIRMED with a random password nobody knows, never a message', async () => {
    const events: unknown[] = [];
    const r = await restore(MIXED, { onProgress: (e) => events.push(e) });
    const sets = mock.commandCalls(AdminSetUserPasswordCommand).map((c) => c.args[0].input);
    expect(sets.map((s) => s.Username).sort()).toEqual(['conf', 'forced', 'nocontact', 'reset']);
    const passwords = sets.map((s) => s.Password ?? '');
    for (const s of sets) {
      expect(s.Permanent).toBe(true);
      expect(s.Password?.length).toBeGreaterThanOrEqual(98);
    }
    expect(new Set(passwords).size).toBe(passwords.length);
    // Never stored, journaled, reported or shown.
    const written = readAll(stateDir);
    const shown = JSON.stringify(events) + JSON.stringify(r);
    for (const p of passwords) {
      expect(written.includes(p)).toBe(false);
      expect(shown.includes(p)).toBe(false);
    }
    expect(r.signIn).toMatchObject({
      passwordState: 'sign-in-ready',
      confirmed: 4,
      passwordless: 0,
      forceChangePassword: 1,
      needsAdmin: 2,
    });
    // The users needing an administrator are named only in the 0600 file, not on the console.
    expect(statSync(r.signIn.needsAdminFile).mode & 0o777).toBe(0o600);
    const lines = readFileSync(r.signIn.needsAdminFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines).toEqual(
      expect.arrayContaining([
        {
          username: 'unconf',
          status: 'UNCONFIRMED',
          restoredAs: 'FORCE_CHANGE_PASSWORD',
          reason: 'unconfirmed',
        },
        {
          username: 'nocontact',
          status: 'CONFIRMED',
          restoredAs: 'CONFIRMED',
          reason: 'no-verified-contact',
        },
      ]),
    );
    expect(JSON.stringify(events)).not.toContain('nocontact');
    // The disabled user is disabled after its password is set.
    const order = mock.calls().map((c) => {
      const input = c.args[0].input as { Username?: string };
      return `${(c.args[0] as object).constructor.name}:${input.Username ?? ''}`;
    });
    expect(order.indexOf('AdminDisableUserCommand:forced')).toBeGreaterThan(
      order.indexOf('AdminSetUserPasswordCommand:forced'),
    );
    expect(restoreExitCode(r)).toBe(ExitCode.Ok);
    assertSilent();
  });

  it('force-change keeps the old behaviour behind the flag: no password set', async () => {
    const r = await restore(MIXED, { passwordState: 'force-change' });
    expect(mock.commandCalls(AdminSetUserPasswordCommand)).toHaveLength(0);
    expect(r.signIn).toMatchObject({ confirmed: 0, forceChangePassword: 5, needsAdmin: 5 });
    assertSilent();
  });

  it('refuses an unknown --password-state before writing anything', async () => {
    await expect(
      restore(MIXED, { passwordState: 'bogus' as RestoreOptions['passwordState'] }),
    ).rejects.toMatchObject({ exitCode: ExitCode.Usage });
    expect(mock.commandCalls(AdminCreateUserCommand)).toHaveLength(0);
  });

  it('passwordless pools: users with the matching verified attribute get no password', async () => {
    targetPool.Policies = {
      SignInPolicy: { AllowedFirstAuthFactors: ['PASSWORD', 'EMAIL_OTP'] },
    } as UserPoolType['Policies'];
    const r = await restore(MIXED);
    const creates = new Map(
      mock
        .commandCalls(AdminCreateUserCommand)
        .map((c) => [c.args[0].input.Username, c.args[0].input]),
    );
    expect(creates.get('conf')?.TemporaryPassword).toBeUndefined();
    // Not passwordless-capable: created with a random temporary password, then a permanent one.
    expect(creates.get('nocontact')?.TemporaryPassword?.length).toBeGreaterThanOrEqual(98);
    expect(
      mock.commandCalls(AdminSetUserPasswordCommand).map((c) => c.args[0].input.Username),
    ).toEqual(['nocontact']);
    expect(r.signIn).toMatchObject({ confirmed: 1, passwordless: 3, forceChangePassword: 1 });
    assertSilent();
  });

  it('a resume neither repeats nor skips AdminSetUserPassword', async () => {
    const spec: SnapshotSpec = {
      users: Array.from({ length: 10 }, (_, i) => user(`u${i}`)),
      memberships: [],
    };
    // Run 1: the endpoint goes away after four passwords (a fatal error stops the run).
    let n = 0;
    mock.on(AdminSetUserPasswordCommand).callsFake(() => {
      if (++n > 4) throw netError('ECONNRESET');
      return {};
    });
    await expect(restore(spec, { createConcurrency: 1 })).rejects.toMatchObject({
      exitCode: ExitCode.ServiceUnavailable,
    });
    const done = new Set(
      mock
        .commandCalls(AdminSetUserPasswordCommand)
        .slice(0, 4)
        .map((c) => c.args[0].input.Username),
    );
    mock.resetHistory();
    const second: AdminSetUserPasswordCommandInput[] = [];
    mock.on(AdminSetUserPasswordCommand).callsFake((i: AdminSetUserPasswordCommandInput) => {
      second.push(i);
      return {};
    });
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'u0' }] });
    const r = await restore(spec, { createConcurrency: 1 });
    const again = second.map((i) => i.Username);
    expect(again.filter((u) => done.has(u))).toEqual([]);
    expect(new Set([...done, ...again]).size).toBe(10);
    expect(r.signIn.confirmed).toBe(10);
    expect(r.users.created).toBe(10);
  });

  it('a failed AdminSetUserPassword is a failed user (exit 6), retried by the next run', async () => {
    mock.on(AdminSetUserPasswordCommand).callsFake((i: AdminSetUserPasswordCommandInput) => {
      if (i.Username === 'reset') throw awsError('InvalidPasswordException');
      return {};
    });
    const r = await restore(MIXED);
    expect(r.failedUsers).toEqual([
      {
        username: 'reset',
        operation: 'AdminSetUserPassword',
        error: expect.stringContaining('InvalidPasswordException'),
      },
    ]);
    expect(r.users.failed).toBe(0);
    expect(restoreExitCode(r)).toBe(ExitCode.PartialRestore);
    mock.resetHistory();
    mock.on(AdminSetUserPasswordCommand).resolves({});
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'conf' }] });
    const r2 = await restore(MIXED);
    expect(
      mock.commandCalls(AdminSetUserPasswordCommand).map((c) => c.args[0].input.Username),
    ).toEqual(['reset']);
    expect(r2.failedUsers).toEqual([]);
    expect(r2.signIn.confirmed).toBe(4);
  });

  it('stops early when every AdminSetUserPassword fails (a systematic cause), exit 6', async () => {
    mock.on(AdminSetUserPasswordCommand).rejects(awsError('InvalidPasswordException'));
    const spec: SnapshotSpec = {
      users: Array.from({ length: 30 }, (_, i) => user(`u${i}`)),
      memberships: [],
    };
    await expect(
      restore(spec, { consecutiveFailureLimit: 5, createConcurrency: 1 }),
    ).rejects.toMatchObject({ exitCode: ExitCode.PartialRestore });
    expect(mock.commandCalls(AdminSetUserPasswordCommand).length).toBeLessThan(30);
  });

  it('--merge: users the target already had keep their password', async () => {
    existing.set('conf', 'their-sub');
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'conf' }] });
    const r = await restore(MIXED, { merge: true });
    expect(
      mock.commandCalls(AdminSetUserPasswordCommand).map((c) => c.args[0].input.Username),
    ).not.toContain('conf');
    expect(r.users.existing).toBe(1);
  });

  it('--dry-run predicts the sign-in outcome', async () => {
    const reader = await makeSnapshot(MIXED);
    const plan = await restoreSnapshot(gw, reader, opts({ dryRun: true }));
    if (!plan.dryRun) throw new Error('expected a plan');
    expect(plan.signIn).toEqual({
      passwordState: 'sign-in-ready',
      confirmed: 4,
      passwordless: 0,
      forceChangePassword: 1,
      needsAdmin: 2,
    });
    expect(mock.commandCalls(AdminSetUserPasswordCommand)).toHaveLength(0);
  });
});

describe('one bad resource never sinks a restore', () => {
  const APPLE = {
    ProviderName: 'SignInWithApple',
    ProviderType: 'SignInWithApple',
    // What DescribeIdentityProvider returns: never the private_key.
    ProviderDetails: {
      client_id: 'com.example',
      team_id: 'TEAM',
      key_id: 'KEY',
      authorize_scopes: 'email',
    },
  };
  const BROKEN = {
    ProviderName: 'Broken',
    ProviderType: 'OIDC',
    ProviderDetails: {
      client_id: 'x',
      client_secret: 'inline',
      oidc_issuer: 'https://bad.example',
    },
  };
  const OKTA = {
    ProviderName: 'Okta',
    ProviderType: 'OIDC',
    ProviderDetails: {
      client_id: 'y',
      client_secret: 'inline',
      oidc_issuer: 'https://okta.example',
    },
  };
  const SPEC: SnapshotSpec = {
    users: [user('alice'), user('bob')],
    memberships: [
      { group: 'everyone', username: 'alice' },
      { group: 'admins', username: 'alice' },
      { group: 'admins', username: 'bob' },
    ],
    idps: [APPLE, BROKEN, OKTA],
    resourceServers: [
      {
        Identifier: 'https://api.example',
        Name: 'api',
        Scopes: [{ ScopeName: 'read', ScopeDescription: 'r' }],
      },
      {
        Identifier: 'https://bad.example',
        Name: 'bad',
        Scopes: [{ ScopeName: 'write', ScopeDescription: 'w' }],
      },
    ],
    clients: [
      {
        ClientId: 'old-web',
        ClientName: 'web',
        SupportedIdentityProviders: ['COGNITO', 'SignInWithApple', 'Broken', 'Okta'],
        AllowedOAuthFlows: ['code'],
        AllowedOAuthFlowsUserPoolClient: true,
        AllowedOAuthScopes: ['openid', 'https://api.example/read', 'https://bad.example/write'],
        CallbackURLs: ['https://app.example/cb'],
      },
      { ClientId: 'old-refused', ClientName: 'refused' },
      { ClientId: 'old-mobile', ClientName: 'mobile' },
    ],
  };

  beforeEach(() => {
    mock.on(CreateIdentityProviderCommand).callsFake((i: { ProviderName?: string }) => {
      if (i.ProviderName === 'Broken') throw awsError('InvalidParameterException');
      return {};
    });
    mock.on(CreateResourceServerCommand).callsFake((i: { Identifier?: string }) => {
      if (i.Identifier === 'https://bad.example') throw awsError('InvalidParameterException');
      return {};
    });
    mock.on(CreateGroupCommand).callsFake((i: { GroupName?: string }) => {
      if (i.GroupName === 'admins') throw awsError('InvalidParameterException');
      return {};
    });
    mock.on(CreateUserPoolClientCommand).callsFake((i: CreateUserPoolClientCommandInput) => {
      if (i.ClientName === 'refused') throw awsError('InvalidOAuthFlowException');
      return { UserPoolClient: { ClientId: `new-${i.ClientName}`, ClientName: i.ClientName } };
    });
  });

  it('an Apple IdP without private_key and a failing IdP: everything else restored, exit 6, both named', async () => {
    const events: { type: string; message?: string }[] = [];
    const r = await restore(SPEC, { idpSecrets: undefined, onProgress: (e) => events.push(e) });
    expect(restoreExitCode(r)).toBe(ExitCode.PartialRestore);
    const named = r.resourceFailures.map((f) => `${f.kind} ${f.name} ${f.operation}`).sort();
    expect(named).toEqual([
      'client refused CreateUserPoolClient',
      'group admins CreateGroup',
      'identityProvider Broken CreateIdentityProvider',
      'identityProvider SignInWithApple CreateIdentityProvider',
      'resourceServer https://bad.example CreateResourceServer',
    ]);
    const apple = r.resourceFailures.find((f) => f.name === 'SignInWithApple');
    expect(apple?.error).toMatch(/^SecretMissing: .*private_key/);
    expect(r.resourceFailures.find((f) => f.name === 'Broken')?.error).toMatch(
      /^InvalidParameterException: /,
    );
    // Apple was never sent without its key; the good IdP, server, group, clients and users were.
    expect(
      mock.commandCalls(CreateIdentityProviderCommand).map((c) => c.args[0].input.ProviderName),
    ).toEqual(['Broken', 'Okta']);
    expect(r.identityProviders).toBe(1);
    expect(r.resourceServers).toBe(1);
    expect(r.groups).toBe(1);
    expect(r.users).toEqual({
      created: 2,
      imported: 0,
      existing: 0,
      failed: 0,
      externalProvider: 0,
    });
    expect(r.failedUsers).toEqual([]);
    // Dependants adjusted: the client lost the skipped IdPs and the missing server's scope…
    const web = mock
      .commandCalls(CreateUserPoolClientCommand)
      .map((c) => c.args[0].input)
      .find((i) => i.ClientName === 'web');
    expect(web?.SupportedIdentityProviders).toEqual(['COGNITO', 'Okta']);
    expect(web?.AllowedOAuthScopes).toEqual(['openid', 'https://api.example/read']);
    expect(JSON.parse(readFileSync(r.clientMap, 'utf8'))).toEqual({
      'old-web': 'new-web',
      'old-mobile': 'new-mobile',
    });
    // …and the failed group's memberships were skipped, not failed.
    expect(
      mock.commandCalls(AdminAddUserToGroupCommand).map((c) => c.args[0].input.GroupName),
    ).toEqual(['everyone']);
    expect(r.memberships).toBe(1);
    const codes = r.warnings.map((w) => w.code);
    expect(codes).toEqual(
      expect.arrayContaining([
        'CLIENT_IDP_DROPPED',
        'CLIENT_SCOPES_DROPPED',
        'MEMBERSHIPS_SKIPPED',
      ]),
    );
    // Shown on the console as they happen, and in the 0600 report.
    const shown = events.filter((e) => e.type === 'warning').map((e) => e.message ?? '');
    expect(shown.some((m) => m.includes('identityProvider Broken not restored'))).toBe(true);
    const report = JSON.parse(readFileSync(r.report, 'utf8')) as { resourceFailures: unknown[] };
    expect(report.resourceFailures).toHaveLength(5);
  });

  it('a re-run neither retries nor forgets the failed resources (their dependants were adjusted)', async () => {
    await restore(SPEC, { idpSecrets: undefined });
    mock.resetHistory();
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'alice' }] });
    const r = await restore(SPEC, { idpSecrets: undefined });
    expect(mock.commandCalls(CreateIdentityProviderCommand)).toHaveLength(0);
    expect(mock.commandCalls(CreateGroupCommand)).toHaveLength(0);
    expect(r.resourceFailures).toHaveLength(5);
    expect(restoreExitCode(r)).toBe(ExitCode.PartialRestore);
  });

  it('an IdP skipped by a run that predates resource failures is still reported (exit 6)', async () => {
    await restore(STANDARD, { idpSecrets: undefined });
    const journalFile = path.join(stateDir, 'journal.jsonl');
    const lines = readFileSync(journalFile, 'utf8').split('\n');
    writeFileSync(journalFile, lines.filter((l) => !l.startsWith('{"t":"rf"')).join('\n'));
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'alice' }] });
    const r = await restore(STANDARD, { idpSecrets: undefined });
    expect(r.resourceFailures.map((f) => `${f.kind} ${f.name}`)).toEqual([
      'identityProvider Google',
    ]);
    expect(restoreExitCode(r)).toBe(ExitCode.PartialRestore);
  });

  it("takes Apple's private_key from --idp-secrets", async () => {
    const r = await restore(SPEC, {
      idpSecrets: { SignInWithApple: { private_key: '-----BEGIN PRIVATE KEY-----x' } },
    });
    const apple = mock
      .commandCalls(CreateIdentityProviderCommand)
      .find((c) => c.args[0].input.ProviderName === 'SignInWithApple');
    expect(apple?.args[0].input.ProviderDetails?.private_key).toBe('-----BEGIN PRIVATE KEY-----x');
    expect(r.resourceFailures.map((f) => f.name)).not.toContain('SignInWithApple');
  });

  it('credentials, throttling and interruption still stop the run', async () => {
    mock.on(CreateIdentityProviderCommand).rejects(awsError('AccessDeniedException'));
    await expect(restore(SPEC, { idpSecrets: undefined })).rejects.toMatchObject({
      exitCode: ExitCode.Credentials,
    });
  });

  it('--dry-run predicts the skips it can know: Apple without its key, and the clients naming it', async () => {
    const reader = await makeSnapshot(SPEC);
    const plan = await restoreSnapshot(gw, reader, opts({ dryRun: true, idpSecrets: undefined }));
    if (!plan.dryRun) throw new Error('expected a plan');
    expect(plan.resourceFailures.map((f) => `${f.kind} ${f.name}`)).toEqual([
      'identityProvider SignInWithApple',
    ]);
    expect(plan.warnings.find((w) => w.code === 'CLIENT_IDP_DROPPED')?.message).toContain('web');
    expect(mock.commandCalls(CreateIdentityProviderCommand)).toHaveLength(0);
  });
});

describe('managed login branding through the engine', () => {
  it("each style goes to its client's new id after the clients; a refused one is a resource failure (exit 6), the rest goes on", async () => {
    const order: string[] = [];
    mock.on(CreateUserPoolClientCommand).callsFake((i: CreateUserPoolClientCommandInput) => {
      order.push(`client ${i.ClientName}`);
      return { UserPoolClient: { ClientId: `new-${i.ClientName}`, ClientName: i.ClientName } };
    });
    mock
      .on(CreateManagedLoginBrandingCommand)
      .callsFake((i: CreateManagedLoginBrandingCommandInput) => {
        order.push(`branding ${i.ClientId}`);
        if (i.ClientId === 'new-machine') throw awsError('InvalidParameterException');
        return { ManagedLoginBranding: {} };
      });
    const r = await restore({
      ...STANDARD,
      branding: [
        { ClientId: 'old-web', Settings: { components: {} }, Assets: [] },
        { ClientId: 'old-machine', UseCognitoProvidedValues: true },
      ],
    });
    expect(order).toEqual([
      'client web',
      'client machine',
      'branding new-web',
      'branding new-machine',
    ]);
    expect(mock.commandCalls(CreateManagedLoginBrandingCommand)[0]?.args[0].input).toEqual({
      UserPoolId: TARGET,
      ClientId: 'new-web',
      Settings: { components: {} },
      Assets: [],
    });
    expect(r.resourceFailures.map((f) => `${f.kind} ${f.name} ${f.operation}`)).toEqual([
      'managedLoginBranding machine CreateManagedLoginBranding',
    ]);
    expect(restoreExitCode(r)).toBe(ExitCode.PartialRestore);
    expect(r.users.created).toBe(3);
    // A resumed run (same state directory) sends no style again.
    mock.resetHistory();
    await restore({
      ...STANDARD,
      branding: [
        { ClientId: 'old-web', Settings: { components: {} }, Assets: [] },
        { ClientId: 'old-machine', UseCognitoProvidedValues: true },
      ],
    });
    expect(mock.commandCalls(CreateManagedLoginBrandingCommand)).toHaveLength(0);
  });

  it('--dry-run lists the styles it would create, and creates none', async () => {
    const reader = await makeSnapshot({
      ...STANDARD,
      branding: [{ ClientId: 'old-web', UseCognitoProvidedValues: true }],
    });
    const plan = (await restoreSnapshot(gw, reader, opts({ dryRun: true }))) as RestorePlan;
    expect(plan.phases).toContainEqual(
      expect.objectContaining({ phase: 'managed-login-branding', create: 1 }),
    );
    expect(mock.commandCalls(CreateManagedLoginBrandingCommand)).toHaveLength(0);
  });

  it('a snapshot without managed-login-branding.json restores without any style', async () => {
    const r = await restore(STANDARD);
    expect(mock.commandCalls(CreateManagedLoginBrandingCommand)).toHaveLength(0);
    expect(r.resourceFailures).toEqual([]);
  });
});

describe("app clients' own settings through the engine", () => {
  const SPEC: SnapshotSpec = {
    ...STANDARD,
    clients: [
      { ClientId: 'old-web', ClientName: 'web', SupportedIdentityProviders: ['COGNITO', 'Google'] },
      {
        ClientId: 'old-machine',
        ClientName: 'machine',
        ClientSecret: 'S'.repeat(40),
        ClientSecrets: [
          { ClientSecretId: 'oldmachine--1700000000' },
          { ClientSecretId: 'oldmachine--1800000000' },
        ],
      },
    ],
    poolDoc: {
      clientUICustomizations: [{ ClientId: 'old-web', CSS: '.web{}' }],
      clientRiskConfigurations: [
        {
          ClientId: 'old-machine',
          RiskExceptionConfiguration: { BlockedIPRangeList: ['192.0.2.0/24'] },
        },
      ],
    },
  };

  it("go to the clients' new ids after the clients are created", async () => {
    const order: string[] = [];
    mock.on(CreateUserPoolClientCommand).callsFake((i: CreateUserPoolClientCommandInput) => {
      order.push(`client ${i.ClientName}`);
      return { UserPoolClient: { ClientId: `new${i.ClientName}`, ClientName: i.ClientName } };
    });
    mock.on(SetUICustomizationCommand).callsFake((i: { ClientId?: string }) => {
      order.push(`ui ${i.ClientId}`);
      return {};
    });
    mock.on(SetRiskConfigurationCommand).callsFake((i: { ClientId?: string }) => {
      order.push(`risk ${i.ClientId}`);
      return {};
    });
    const r = await restore(SPEC);
    expect(order).toEqual(['client web', 'client machine', 'ui newweb', 'risk newmachine']);
    expect(mock.commandCalls(SetUICustomizationCommand)[0]?.args[0].input).toEqual({
      UserPoolId: TARGET,
      ClientId: 'newweb',
      CSS: '.web{}',
    });
    expect(r.warnings.map((w) => w.code)).toContain('CLIENT_SECOND_SECRET_NOT_RESTORED');
    expect(JSON.stringify(r)).not.toContain('SSSS');
  });

  it('--dry-run lists the phase and the second secret that cannot come back, and sends nothing', async () => {
    const reader = await makeSnapshot(SPEC);
    const plan = (await restoreSnapshot(gw, reader, opts({ dryRun: true }))) as RestorePlan;
    expect(plan.phases).toContainEqual(
      expect.objectContaining({ phase: 'client-settings', create: 2 }),
    );
    expect(
      plan.warnings.find((w) => w.code === 'CLIENT_SECOND_SECRET_NOT_RESTORED')?.message,
    ).toMatch(/oldmachine--1700000000, oldmachine--1800000000/);
    expect(mock.commandCalls(SetUICustomizationCommand)).toHaveLength(0);
    expect(mock.commandCalls(SetRiskConfigurationCommand)).toHaveLength(0);
  });
});

describe('restore preflight (stack mock)', () => {
  const writes = () =>
    mock
      .calls()
      .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name)
      .filter((n) => /^(Create|Admin(?!Get)|Set|Add|Update|Tag)/.test(n));

  it('refuses an incompatible target, one difference per line, and writes nothing', async () => {
    targetPool = {
      Id: TARGET,
      SchemaAttributes: [{ Name: 'email', AttributeDataType: 'String', Required: true }],
      UsernameAttributes: ['email'],
      UsernameConfiguration: { CaseSensitive: true },
    };
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'someone' }] });
    const spec: SnapshotSpec = {
      users: [user('a'), user('b', {}, { 'custom:plan': 'x' })],
      memberships: [],
    };
    const err = await restore(spec, { legacySubAttribute: 'legacy_sub' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetIncompatibleError);
    const diffs = (err as TargetIncompatibleError).differences;
    expect(diffs).toEqual([
      "custom attribute custom:plan: the snapshot's users carry it, the target pool's schema does not have it",
      "custom attribute custom:tier: the snapshot's users carry it, the target pool's schema does not have it",
      'UsernameAttributes: snapshot none, target [email]',
      'AliasAttributes: snapshot [email], target none',
      'UsernameConfiguration.CaseSensitive: snapshot false, target true',
      expect.stringContaining(
        '`legacySubAttribute` legacy_sub: the target pool has no custom:legacy_sub',
      ),
      expect.stringContaining('the target pool already has users'),
    ]);
    expect((err as TargetIncompatibleError).exitCode).toBe(ExitCode.TargetIncompatible);
    expect(writes()).toEqual([]);
    expect(existsSync(path.join(stateDir, 'journal.jsonl'))).toBe(false);
  });

  it('names required attributes the users lack, and accepts --merge for a non-empty target', async () => {
    targetPool.SchemaAttributes = [...SCHEMA, { Name: 'phone_number', Required: true }];
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'someone' }] });
    const err = await restore({ users: [user('a')], memberships: [] }, { merge: true }).catch(
      (e: unknown) => e,
    );
    expect((err as TargetIncompatibleError).differences).toEqual([
      'required attribute phone_number: the target pool requires it, 1 user(s) in the snapshot have no value',
    ]);
    targetPool.SchemaAttributes = [...SCHEMA];
    const r = await restore({ users: [user('a')], memberships: [] }, { merge: true });
    expect(r.users.created).toBe(1);
  });

  it('refuses a snapshot whose files do not match their checksums (exit 3) before any call', async () => {
    const reader = await makeSnapshot(STANDARD);
    const storage = reader.storage as MemoryStorage;
    await storage.put('groups.json', '[]\n');
    mock.resetHistory();
    const err = await restoreSnapshot(gw, reader, opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotInvalidError);
    expect((err as SnapshotInvalidError).exitCode).toBe(ExitCode.SnapshotInvalid);
    expect(mock.calls()).toHaveLength(0);
  });

  it('--dry-run plans without writing', async () => {
    const reader = await makeSnapshot(STANDARD);
    const plan = await restoreSnapshot(gw, reader, opts({ dryRun: true }));
    expect(plan.dryRun).toBe(true);
    if (!plan.dryRun) return;
    expect(plan.users).toEqual({ total: 4, toCreate: 3, alreadyDone: 0, externalProvider: 1 });
    expect(plan.phases.find((p) => p.phase === 'groups')).toMatchObject({ create: 2, existing: 0 });
    expect(plan.memberships).toBe(5);
    expect(writes()).toEqual([]);
    expect(existsSync(path.join(stateDir, 'journal.jsonl'))).toBe(false);
    expect(restoreExitCode(plan)).toBe(0);
  });

  it('creates a pool once: a re-run after the journal recorded it uses the same pool', async () => {
    mock.on(ListUserPoolsCommand).resolves({ UserPools: [] });
    mock.on(CreateUserPoolCommand).resolves({ UserPool: { Id: 'us-east-1_New1', Name: 'fresh' } });
    mock.on(SetUserPoolMfaConfigCommand).resolves({});
    targetPool = { ...(sourcePool() as UserPoolType), Id: 'us-east-1_New1', Name: 'fresh' };
    const r1 = await restore(STANDARD, { target: { createPool: 'fresh' } });
    expect(r1.userPoolId).toBe('us-east-1_New1');
    expect(r1.createdPool).toBe(true);
    const r2 = await restore(STANDARD, { target: { createPool: 'fresh' } });
    expect(r2.userPoolId).toBe('us-east-1_New1');
    expect(mock.commandCalls(CreateUserPoolCommand)).toHaveLength(1);
    expect(r2.users).toEqual(r1.users);
    expect(subMap(r2.subMap)).toEqual(subMap(r1.subMap));
  });

  it('adopts the pool a run created but did not journal (killed between CreateUserPool and the journal line)', async () => {
    mock.on(ListUserPoolsCommand).resolves({ UserPools: [{ Id: 'us-east-1_Old', Name: 'fresh' }] });
    // Ctrl-C while CreateUserPool is on its way: the process stops before the journal line.
    const ctrlC = new AbortController();
    let tags: Record<string, string> | undefined;
    mock.on(CreateUserPoolCommand).callsFake((i: CreateUserPoolCommandInput) => {
      tags = i.UserPoolTags;
      ctrlC.abort();
      throw netError('ECONNRESET');
    });
    await expect(
      restore(STANDARD, { target: { createPool: 'fresh' }, signal: ctrlC.signal }),
    ).rejects.toMatchObject({ exitCode: ExitCode.Interrupted });
    // Cognito did create it (with the attempt's token tag), and someone else made a pool of the
    // same name meanwhile: three pools carry the name; the journal knew only the old one.
    mock.on(ListUserPoolsCommand).resolves({
      UserPools: [
        { Id: 'us-east-1_Old', Name: 'fresh' },
        { Id: 'us-east-1_Stranger', Name: 'fresh' },
        { Id: 'us-east-1_Made', Name: 'fresh' },
      ],
    });
    expect(tags?.[RESTORE_TOKEN_TAG]).toMatch(/^[0-9a-f-]{36}$/);
    const made = { ...(sourcePool() as UserPoolType), Id: 'us-east-1_Made', Name: 'fresh' };
    mock.on(DescribeUserPoolCommand).callsFake((i: { UserPoolId: string }) => ({
      UserPool:
        i.UserPoolId === 'us-east-1_Made'
          ? { ...made, UserPoolTags: { ...tags } }
          : { ...made, Id: i.UserPoolId, UserPoolTags: {} },
    }));
    mock.on(CreateUserPoolCommand).resolves({ UserPool: { Id: 'us-east-1_Second' } });
    const r = await restore(STANDARD, { target: { createPool: 'fresh' } });
    expect(r.userPoolId).toBe('us-east-1_Made');
  });
});

describe('creates that lose their answer (reset connection after Cognito acted)', () => {
  it('adopts the app client the lost CreateUserPoolClient made instead of making a second', async () => {
    const made: string[] = [];
    mock.on(CreateUserPoolClientCommand).callsFake((i: CreateUserPoolClientCommandInput) => {
      made.push(i.ClientName ?? '');
      if (i.ClientName === 'web' && made.filter((n) => n === 'web').length === 1)
        throw netError('ECONNRESET', 'socket hang up');
      return { UserPoolClient: { ClientId: `new-${i.ClientName}` } };
    });
    mock.on(ListUserPoolClientsCommand).callsFake(() => ({
      UserPoolClients: made.map((n) => ({ ClientId: `new-${n}`, ClientName: n })),
    }));
    const r = await restore(STANDARD);
    expect(made).toEqual(['web', 'machine']);
    expect(JSON.parse(readFileSync(r.clientMap, 'utf8'))).toEqual({
      'old-web': 'new-web',
      'old-machine': 'new-machine',
    });
  });

  it('adopts the pool the lost CreateUserPool made, and sends it again when nothing was made', async () => {
    const pools: { Id: string; Name: string }[] = [{ Id: 'us-east-1_Other', Name: 'fresh' }];
    const tagsOf = new Map<string, Record<string, string> | undefined>();
    let calls = 0;
    // The list lags: the pool made shows up only on the second look.
    let looks = 0;
    mock.on(ListUserPoolsCommand).callsFake(() => ({
      UserPools: calls === 2 && looks++ < 1 ? pools.slice(0, 1) : [...pools],
    }));
    mock.on(CreateUserPoolCommand).callsFake((i: CreateUserPoolCommandInput) => {
      calls++;
      if (calls === 1) throw awsError('InternalErrorException', 500, 'server'); // nothing made
      pools.push({ Id: 'us-east-1_Made', Name: 'fresh' });
      tagsOf.set('us-east-1_Made', i.UserPoolTags);
      throw netError('ECONNRESET', 'socket hang up'); // made, answer lost
    });
    mock.on(SetUserPoolMfaConfigCommand).resolves({});
    targetPool = { ...(sourcePool() as UserPoolType), Id: 'us-east-1_Made', Name: 'fresh' };
    mock.on(DescribeUserPoolCommand).callsFake((i: { UserPoolId: string }) => ({
      UserPool: { ...targetPool, Id: i.UserPoolId, UserPoolTags: tagsOf.get(i.UserPoolId) ?? {} },
    }));
    const r = await restore(STANDARD, {
      target: { createPool: 'fresh' },
      settleDelaysMs: [0, 5, 5],
    });
    expect(calls).toBe(2);
    expect(r.userPoolId).toBe('us-east-1_Made');
  });
});

describe('pool creation request', () => {
  it('creates the pool without a redacted SMS ExternalId (CreateUserPool and MFA), and warns', () => {
    const sms = { SnsCallerArn: 'arn:aws:iam::123456789012:role/sms', ExternalId: REDACTED };
    const doc = {
      userPool: {
        Id: SOURCE,
        Name: 'src',
        SmsConfiguration: { ...sms },
        MfaConfiguration: 'ON' as const,
      },
      mfaConfig: {
        MfaConfiguration: 'ON' as const,
        SmsMfaConfiguration: { SmsConfiguration: { ...sms } },
        SoftwareTokenMfaConfiguration: { Enabled: true },
      },
    };
    const plan = planPoolCreation(doc, 'restored');
    expect(JSON.stringify(plan)).not.toContain(REDACTED);
    expect(plan.input.SmsConfiguration).toEqual({ SnsCallerArn: sms.SnsCallerArn });
    expect(plan.mfa?.SmsMfaConfiguration?.SmsConfiguration).toEqual({
      SnsCallerArn: sms.SnsCallerArn,
    });
    expect(plan.warnings.map((w) => w.code)).toContain('SMS_EXTERNAL_ID_REDACTED');
    // The snapshot itself is untouched.
    expect(doc.mfaConfig.SmsMfaConfiguration.SmsConfiguration.ExternalId).toBe(REDACTED);
    const kept = planPoolCreation(
      {
        ...doc,
        userPool: { ...doc.userPool, SmsConfiguration: { ...sms, ExternalId: 'e' } },
        mfaConfig: {},
      },
      'restored',
    );
    expect(kept.input.SmsConfiguration?.ExternalId).toBe('e');
    expect(kept.warnings.map((w) => w.code)).not.toContain('SMS_EXTERNAL_ID_REDACTED');
  });

  it('strips custom:/dev: prefixes, never requires custom attributes, keeps non-default standard ones', () => {
    const plan = planPoolCreation(
      {
        userPool: {
          Id: SOURCE,
          Name: 'src',
          Arn: 'arn',
          EstimatedNumberOfUsers: 3,
          CreationDate: new Date('2026-01-01'),
          SchemaAttributes: [
            { Name: 'sub', AttributeDataType: 'String', Mutable: false, Required: true },
            { Name: 'email', AttributeDataType: 'String', Mutable: true, Required: true },
            { Name: 'name', AttributeDataType: 'String', Mutable: true, Required: false },
            { Name: 'custom:tier', AttributeDataType: 'String', Mutable: true, Required: true },
            { Name: 'dev:custom:internal', AttributeDataType: 'Number', Mutable: true },
          ],
          Policies: { PasswordPolicy: { MinimumLength: 12, TemporaryPasswordValidityDays: 3 } },
          AdminCreateUserConfig: { AllowAdminCreateUserOnly: true, UnusedAccountValidityDays: 3 },
          UserPoolTags: { a: '1' },
          MfaConfiguration: 'OPTIONAL',
          Domain: 'old-prefix',
        },
        mfaConfig: {
          MfaConfiguration: 'OPTIONAL',
          SoftwareTokenMfaConfiguration: { Enabled: true },
        },
        tags: { b: '2' },
      },
      'restored',
      'legacy_sub',
    );
    const input = plan.input as unknown as Record<string, unknown>;
    expect(input.PoolName).toBe('restored');
    for (const k of [
      'Id',
      'Name',
      'Arn',
      'EstimatedNumberOfUsers',
      'CreationDate',
      'Domain',
      'SchemaAttributes',
    ])
      expect(input).not.toHaveProperty(k);
    expect(plan.input.Schema?.map((s) => [s.Name, s.Required, s.DeveloperOnlyAttribute])).toEqual([
      ['email', true, false],
      ['tier', false, false],
      ['internal', false, true],
      ['legacy_sub', false, false],
    ]);
    expect(plan.input.UserPoolTags).toEqual({ a: '1', b: '2' });
    expect(plan.input.AdminCreateUserConfig).toEqual({ AllowAdminCreateUserOnly: true });
    // OPTIONAL without an SMS configuration: created OFF, then SetUserPoolMfaConfig with TOTP.
    expect(plan.input.MfaConfiguration).toBe('OFF');
    expect(plan.mfa).toEqual({
      MfaConfiguration: 'OPTIONAL',
      SoftwareTokenMfaConfiguration: { Enabled: true },
    });
  });
});

describe('building blocks', () => {
  it('MembershipIndex interns groups and takes a user once', () => {
    const idx = new MembershipIndex();
    idx.add('a', 'g1');
    idx.add('a', 'g2');
    idx.add('a', 'g1');
    idx.add('b', 'g2');
    expect(idx.size).toBe(3);
    expect(idx.take('a')).toEqual(['g1', 'g2']);
    expect(idx.take('a')).toEqual([]);
    expect(idx.remaining()).toEqual({ users: 1, memberships: 1, sample: ['b'] });
  });

  it('WorkQueue applies back-pressure: push waits while the queue is full', async () => {
    const release: (() => void)[] = [];
    const handled: number[] = [];
    const q = new WorkQueue<number>(1, 2, async (n) => {
      await new Promise<void>((r) => release.push(r));
      handled.push(n);
    });
    await q.push(1); // taken by the worker
    await q.push(2);
    await q.push(3); // queue: 2, 3 (full)
    let fourth = false;
    const p = q.push(4).then(() => (fourth = true));
    // Many turns of the event loop, and still waiting: back-pressure, not slowness.
    for (let turn = 0; turn < 50; turn++) await new Promise((r) => setImmediate(r));
    expect(fourth).toBe(false);
    release.shift()?.();
    await p;
    expect(fourth).toBe(true);
    const done = q.drained();
    for (let i = 0; i < 3; i++) {
      // Wait for the worker to take the next item (a condition, not a 1 ms sleep).
      while (release.length === 0) await new Promise((r) => setImmediate(r));
      release.shift()?.();
    }
    await done;
    expect(handled).toEqual([1, 2, 3, 4]);
  });
});
