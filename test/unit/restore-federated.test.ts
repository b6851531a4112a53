import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  type AdminCreateUserCommandInput,
  AdminDisableUserCommand,
  AdminLinkProviderForUserCommand,
  AdminSetUserPasswordCommand,
  CreateGroupCommand,
  CreateIdentityProviderCommand,
  DescribeUserPoolCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, TargetIncompatibleError, UsageError } from '../../src/core/errors.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import type { RestoreOptions, RestoreResult } from '../../src/restore/types.js';
import { SnapshotReader, type UserRecord } from '../../src/snapshot/index.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitGateway } from '../support/unit-gateway.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

/**
 * --federated-users precreate: moto has no AdminLinkProviderForUser, so the requests are checked
 * on a mocked client.
 */
const FEDERATED: UserRecord = {
  Username: 'Google_1234567890',
  Attributes: [
    { Name: 'sub', Value: 'old-sub-fed' },
    { Name: 'email', Value: 'fed@example.com' },
    { Name: 'email_verified', Value: 'true' },
    {
      Name: 'identities',
      Value: JSON.stringify([
        {
          userId: '1234567890',
          providerName: 'Google',
          providerType: 'Google',
          issuer: null,
          primary: 'true',
          dateCreated: '1700000000000',
        },
      ]),
    },
  ],
  Enabled: false,
  UserStatus: 'EXTERNAL_PROVIDER',
};
const NATIVE: UserRecord = {
  Username: 'native',
  Attributes: [{ Name: 'sub', Value: 'old-sub-native' }],
  Enabled: true,
  UserStatus: 'FORCE_CHANGE_PASSWORD',
};

let mock: StackMock;
let gw: CognitoGateway;
let stateDir: string;

async function snapshot(federated: UserRecord = FEDERATED): Promise<SnapshotReader> {
  const storage = new MemoryStorage();
  const w = new SnapshotWriter(storage);
  await w.writeJson('pool.json', 'pool', { userPool: { Id: 'us-east-1_S', Name: 's' } }, 1);
  await w.writeJson('groups.json', 'groups', [{ GroupName: 'banned' }], 1);
  await w.writeJson('clients.json', 'clients', [], 0);
  const idps = [
    {
      ProviderName: 'Google',
      ProviderType: 'Google',
      ProviderDetails: { client_id: 'cid', client_secret: 's', authorize_scopes: 'openid' },
    },
  ];
  await w.writeJson('identity-providers.json', 'identityProviders', idps, 1);
  await w.writeJson('resource-servers.json', 'resourceServers', [], 0);
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', [federated, NATIVE]);
  await w.writeJsonLines('memberships/part-00000.jsonl.gz', 'memberships', [
    { group: 'banned', username: FEDERATED.Username },
  ]);
  await w.commit(
    manifestDraft({
      counts: { users: 2, groups: 1, memberships: 1, identityProviders: 1 },
      options: { includeSecrets: true },
    }),
  );
  return SnapshotReader.open(storage);
}

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'cv-federated-'));
  ({ mock, gw } = unitGateway());
  mock.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: 'us-east-1_T', Name: 't' } });
  mock.on(ListUsersCommand).resolves({ Users: [] });
  mock.on(ListGroupsCommand).resolves({ Groups: [] });
  mock.on(CreateGroupCommand).resolves({});
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
  mock.on(CreateIdentityProviderCommand).resolves({});
  mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
  mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => ({
    User: { Username: i.Username, Attributes: [{ Name: 'sub', Value: `new-${i.Username}` }] },
  }));
  mock.on(AdminAddUserToGroupCommand).resolves({});
  mock.on(AdminDisableUserCommand).resolves({});
  mock.on(AdminLinkProviderForUserCommand).resolves({});
  mock.on(AdminSetUserPasswordCommand).resolves({});
});

afterEach(async () => {
  mock.restore();
  await rm(stateDir, { recursive: true, force: true });
});

const opts = (over: Partial<RestoreOptions> = {}): RestoreOptions => ({
  target: { userPoolId: 'us-east-1_T' },
  stateDir,
  ...over,
});

const createdNames = (): string[] =>
  mock.commandCalls(AdminCreateUserCommand).map((c) => c.args[0].input.Username ?? '');

describe('--federated-users (stack mock)', () => {
  it('skip (the default) creates no federated user and lists it', async () => {
    const r = (await restoreSnapshot(gw, await snapshot(), opts())) as RestoreResult;
    expect(createdNames()).toEqual(['native']);
    expect(r.users.externalProvider).toBe(1);
    expect(r.users.federatedPrecreated).toBeUndefined();
    expect(r.externalProviderUsers.map((u) => u.groups)).toEqual([['banned']]);
    expect(mock.commandCalls(AdminLinkProviderForUserCommand)).toHaveLength(0);
  });

  it('precreate: a local profile with its attributes, linked to its IdP identity, in its groups and still disabled, without a password', async () => {
    const r = (await restoreSnapshot(
      gw,
      await snapshot(),
      opts({ federatedUsers: 'precreate' }),
    )) as RestoreResult;
    expect(createdNames().sort()).toEqual(['Google_1234567890', 'native']);
    const create = mock
      .commandCalls(AdminCreateUserCommand)
      .map((c) => c.args[0].input)
      .find((i) => i.Username === 'Google_1234567890');
    expect(create?.MessageAction).toBe('SUPPRESS');
    expect(create?.TemporaryPassword).toBeUndefined();
    expect(create?.UserAttributes).toEqual([
      { Name: 'email', Value: 'fed@example.com' },
      { Name: 'email_verified', Value: 'true' },
    ]);
    expect(mock.commandCalls(AdminLinkProviderForUserCommand).map((c) => c.args[0].input)).toEqual([
      {
        UserPoolId: 'us-east-1_T',
        DestinationUser: { ProviderName: 'Cognito', ProviderAttributeValue: 'Google_1234567890' },
        SourceUser: {
          ProviderName: 'Google',
          ProviderAttributeName: 'Cognito_Subject',
          ProviderAttributeValue: '1234567890',
        },
      },
    ]);
    // The link waits for the IdP to exist in the target.
    const order = mock.calls().map((c) => c.args[0].constructor.name);
    expect(order.indexOf('AdminLinkProviderForUserCommand')).toBeGreaterThan(
      order.indexOf('CreateIdentityProviderCommand'),
    );
    expect(
      mock.commandCalls(AdminAddUserToGroupCommand).map((c) => c.args[0].input.Username),
    ).toEqual(['Google_1234567890']);
    expect(mock.commandCalls(AdminDisableUserCommand).map((c) => c.args[0].input.Username)).toEqual(
      ['Google_1234567890'],
    );
    // A federated user signs in through its IdP: no password is set for it.
    expect(
      mock.commandCalls(AdminSetUserPasswordCommand).map((c) => c.args[0].input.Username),
    ).not.toContain('Google_1234567890');
    expect(r.users.federatedPrecreated).toBe(1);
    expect(r.users.externalProvider).toBe(0);
    expect(r.externalProviderUsers).toEqual([]);
    expect(r.links).toBe(1);
    expect(r.disabled).toBe(1);

    // Resumed: nothing again, the count stays.
    const r2 = (await restoreSnapshot(
      gw,
      await snapshot(),
      opts({ federatedUsers: 'precreate' }),
    )) as RestoreResult;
    expect(mock.commandCalls(AdminLinkProviderForUserCommand)).toHaveLength(1);
    expect(r2.users.federatedPrecreated).toBe(1);
  });

  it('precreate checks federated users in the preflight too (a custom attribute the target lacks: exit 4)', async () => {
    const withTier: UserRecord = {
      ...FEDERATED,
      Attributes: [...FEDERATED.Attributes, { Name: 'custom:tier', Value: 'gold' }],
    };
    const err = await restoreSnapshot(
      gw,
      await snapshot(withTier),
      opts({ federatedUsers: 'precreate' }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetIncompatibleError);
    expect(mock.commandCalls(AdminCreateUserCommand)).toHaveLength(0);
    // Skipped federated users are not sent, so they do not constrain the target.
    const r = (await restoreSnapshot(gw, await snapshot(withTier), opts())) as RestoreResult;
    expect(r.users.created).toBe(1);
  });

  it('refuses another mode (exit 2)', async () => {
    const err = await restoreSnapshot(
      gw,
      await snapshot(),
      opts({ federatedUsers: 'all' as unknown as 'skip' }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.Usage);
  });
});
