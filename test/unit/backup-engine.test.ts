import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  CognitoIdentityProviderClient,
  DescribeIdentityProviderCommand,
  DescribeManagedLoginBrandingByClientCommand,
  DescribeRiskConfigurationCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  GetLogDeliveryConfigurationCommand,
  GetUICustomizationCommand,
  GetUserPoolMfaConfigCommand,
  InvalidParameterException,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListTagsForResourceCommand,
  ListUserPoolClientSecretsCommand,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
  type ListUserPoolsCommandInput,
  ListUsersCommand,
  ListUsersInGroupCommand,
  NotAuthorizedException,
  ResourceNotFoundException,
  type ListUsersCommandInput,
  type ListUsersInGroupCommandInput,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  backupAllPools,
  backupPool,
  downloadUiImage,
  redactProviderDetails,
  UI_IMAGE_MAX_BYTES,
} from '../../src/backup/engine.js';
import {
  CredentialsError,
  InterruptedError,
  StorageError,
  UsageError,
  type VaultError,
} from '../../src/core/errors.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import {
  MembershipRecord,
  REDACTED,
  SnapshotReader,
  UserRecord,
} from '../../src/snapshot/index.js';
import { LocalDirStorage, storageErrorFromFs } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { joinKey, type Storage, type StorageEntry } from '../../src/storage/storage.js';
import { awsError, htmlServerError } from '../support/aws-errors.js';
import { FaultyStorage } from '../support/faulty-storage.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitGateway } from '../support/unit-gateway.js';

const POOL = 'us-east-1_EngineUnit';

function makeUsers(n: number): UserType[] {
  return Array.from({ length: n }, (_, i) => ({
    Username: `user-${i}`,
    Attributes: [
      { Name: 'sub', Value: randomUUID() },
      { Name: 'name', Value: i % 2 ? 'Zoë' : '山田' },
    ],
    Enabled: i % 13 !== 5,
    UserStatus: 'CONFIRMED',
    UserCreateDate: new Date(1_700_000_000_000 + i),
    UserLastModifiedDate: new Date(1_700_000_000_000 + i),
  }));
}

const subOf = (u: UserType): string => u.Attributes?.find((a) => a.Name === 'sub')?.Value ?? '';

/** Serves ListUsers like Cognito: 60 per page, optional `sub ^= "…"` filter, opaque tokens. */
function listUsersFake(all: UserType[], opts: { refuseFilter?: boolean } = {}) {
  return async (input: ListUsersCommandInput) => {
    if (input.Filter !== undefined) {
      if (opts.refuseFilter) {
        throw new InvalidParameterException({
          message: 'Filter not supported',
          $metadata: { httpStatusCode: 400 },
        });
      }
      const m = /^sub \^= "([0-9a-f]*)"$/.exec(input.Filter);
      if (!m) throw new Error(`unexpected filter ${input.Filter}`);
    }
    const prefix = input.Filter ? (/"(.*)"/.exec(input.Filter)?.[1] ?? '') : '';
    const matching = all.filter((u) => subOf(u).startsWith(prefix));
    const start = Number(input.PaginationToken ?? 0);
    const limit = input.Limit ?? 60;
    const page = matching.slice(start, start + limit);
    const next = start + limit < matching.length ? String(start + limit) : undefined;
    return { Users: page, ...(next ? { PaginationToken: next } : {}) };
  };
}

let client: CognitoIdentityProviderClient;
let mock: StackMock;
let gw: CognitoGateway;
let users: UserType[];
const GROUPS = ['everyone', 'admins'];

beforeEach(() => {
  ({ client, mock, gw } = unitGateway({ retry: { baseDelayMs: 1, maxDelayMs: 2 } }));
  users = makeUsers(130);
  mock.on(DescribeUserPoolCommand).resolves({
    UserPool: {
      Id: POOL,
      Name: 'unit',
      Arn: `arn:aws:cognito-idp:us-east-1:123456789012:userpool/${POOL}`,
      EstimatedNumberOfUsers: users.length,
    },
  });
  mock.on(GetUserPoolMfaConfigCommand).resolves({ MfaConfiguration: 'OFF' });
  mock.on(ListTagsForResourceCommand).resolves({ Tags: { app: 'unit' } });
  mock.on(GetUICustomizationCommand).resolves({ UICustomization: { CSS: '.x{}' } });
  mock.on(GetLogDeliveryConfigurationCommand).resolves({});
  mock.on(DescribeRiskConfigurationCommand).resolves({ RiskConfiguration: {} });
  mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [{ ClientId: 'c1' }] });
  mock.on(ListUserPoolClientSecretsCommand).resolves({
    ClientSecrets: [
      { ClientSecretId: 'c1--1700000000', ClientSecretCreateDate: new Date(1_700_000_000_000) },
      { ClientSecretId: 'c1--1800000000', ClientSecretCreateDate: new Date(1_800_000_000_000) },
    ],
  });
  // Fresh objects per call, as the SDK gives.
  mock.on(DescribeUserPoolClientCommand).callsFake(async () => ({
    UserPoolClient: { ClientId: 'c1', ClientName: 'm', ClientSecret: 'top-secret' },
  }));
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [{ ProviderName: 'Google' }] });
  mock.on(DescribeIdentityProviderCommand).callsFake(async () => ({
    IdentityProvider: {
      ProviderName: 'Google',
      ProviderType: 'Google',
      ProviderDetails: { client_id: 'id', client_secret: 'shh', authorize_scopes: 'openid' },
    },
  }));
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock.on(ListGroupsCommand).resolves({ Groups: GROUPS.map((GroupName) => ({ GroupName })) });
  mock.on(ListUsersInGroupCommand).callsFake(async (input: ListUsersInGroupCommandInput) => ({
    Users: input.GroupName === 'everyone' ? users.slice(0, 70) : users.slice(0, 2),
  }));
  mock.on(ListUsersCommand).callsFake(listUsersFake(users));
});

afterEach(() => {
  mock.restore();
  client.destroy();
});

async function readUsers(snap: Storage): Promise<UserRecord[]> {
  const out: UserRecord[] = [];
  for await (const u of (await SnapshotReader.open(snap)).records('users', UserRecord)) out.push(u);
  return out;
}

async function keys(s: Storage): Promise<string[]> {
  const out: string[] = [];
  for await (const e of s.list()) out.push(e.key);
  return out.sort();
}

async function failure(p: Promise<unknown>): Promise<VaultError> {
  return p.then(
    () => {
      throw new Error('expected the backup to fail');
    },
    (e: unknown) => e as VaultError,
  );
}

const hasManifest = async (s: Storage): Promise<boolean> =>
  (await keys(s)).some((k) => k.endsWith('/manifest.json') || k === 'manifest.json');

describe('sharded ListUsers', () => {
  /** Cognito's answer to an expired token (aws/aws-sdk-js#3705). */
  const expired = (token: string) =>
    new InvalidParameterException({
      message: `Paging marker ${token} is invalid for request 0f0e`,
      $metadata: { httpStatusCode: 400 },
    });

  it('restarts the single fallback chain when its pagination token expires, and says so', async () => {
    const fake = listUsersFake(users, { refuseFilter: true });
    let expiredOnce = false;
    mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
      // The token of the third page has expired the first time it is used.
      if (input.PaginationToken === '120' && !expiredOnce) {
        expiredOnce = true;
        throw expired(input.PaginationToken);
      }
      return fake(input);
    });
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, { userPoolId: POOL, shards: 16 });
    expect(expiredOnce).toBe(true);
    expect(r.users).toBe(130);
    expect(r.manifest.counts.users).toBe(130);
    expect(r.warnings).toContainEqual(
      expect.objectContaining({ code: 'LISTUSERS_CHAIN_RESTARTED', operation: 'ListUsers' }),
    );
    const snap = root.child(r.snapshot.replace('memory://', ''));
    const back = await readUsers(snap);
    // Every user exactly once: the restarted part was written again, not appended to.
    expect(back.map((u) => u.Username).sort()).toEqual(users.map((u) => u.Username).sort());
    expect((await (await SnapshotReader.open(snap)).verify()).ok).toBe(true);
  });

  it('restarts only the shard whose token expired; gives up (exit 7) if it keeps expiring', async () => {
    const fake = listUsersFake(users);
    let expiries = 0;
    mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
      if (input.Filter === 'sub ^= "3"' && expiries < 1) {
        expiries++;
        throw expired('x');
      }
      return fake(input);
    });
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, { userPoolId: POOL, shards: 16 });
    expect(r.users).toBe(130);
    expect(r.warnings.filter((w) => w.code === 'LISTUSERS_CHAIN_RESTARTED')).toHaveLength(1);
    const back = await readUsers(root.child(r.snapshot.replace('memory://', '')));
    expect(back).toHaveLength(130);

    mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
      if (input.Filter === 'sub ^= "3"') throw expired('x');
      return fake(input);
    });
    const root2 = new MemoryStorage();
    const e = await failure(backupPool(gw, root2, { userPoolId: POOL, shards: 16 }));
    expect(e.code).toBe('PAGINATION_EXPIRED');
    expect(e.exitCode).toBe(7);
    expect(await hasManifest(root2)).toBe(false);
  });

  it('falls back to one chain when Cognito refuses the sub filter', async () => {
    mock.on(ListUsersCommand).callsFake(listUsersFake(users, { refuseFilter: true }));
    const root = new MemoryStorage();
    const events: ProgressEvent[] = [];
    const r = await backupPool(gw, root, {
      userPoolId: POOL,
      shards: 16,
      onProgress: (e) => events.push(e),
    });
    expect(r.manifest.options.sharding).toEqual({ mode: 'single', shards: 1 });
    expect(r.warnings).toContainEqual(
      expect.objectContaining({ code: 'SHARDING_REFUSED', operation: 'ListUsers' }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'warning', code: 'SHARDING_REFUSED' }),
    );
    expect(r.users).toBe(130);
    const snap = root.child(r.snapshot.replace('memory://', ''));
    const back = await readUsers(snap);
    expect(back.map((u) => u.Username).sort()).toEqual(users.map((u) => u.Username).sort());
    expect(r.manifest.files.filter((f) => f.kind === 'users')).toHaveLength(1);
    expect((await (await SnapshotReader.open(snap)).verify()).ok).toBe(true);
  });

  for (const shards of [16, 256] as const) {
    it(`${shards} sub-prefix shards capture every user exactly once`, async () => {
      users = makeUsers(777);
      mock.on(ListUsersCommand).callsFake(listUsersFake(users));
      const root = new MemoryStorage();
      const r = await backupPool(gw, root, { userPoolId: POOL, shards });
      expect(r.manifest.options.sharding).toEqual({ mode: 'sub-prefix', shards });
      expect(r.manifest.files.filter((f) => f.kind === 'users')).toHaveLength(shards);
      const back = await readUsers(root.child(r.snapshot.replace('memory://', '')));
      expect(back).toHaveLength(777);
      expect(new Set(back.map((u) => u.Username)).size).toBe(777);
      expect(r.users).toBe(777);
      const filters = new Set(
        mock.commandCalls(ListUsersCommand).map((c) => c.args[0].input.Filter),
      );
      // Every chain is filtered; none lists the whole pool.
      expect(filters.has(undefined)).toBe(false);
      const hex = '0123456789abcdef'.split('');
      const prefixes = shards === 16 ? hex : hex.flatMap((a) => hex.map((b) => a + b));
      expect([...filters].sort()).toEqual(prefixes.map((p) => `sub ^= "${p}"`).sort());
      // The sharding probe's page is shard 0's first page: one call per page, nothing twice.
      const pages = prefixes
        .map((p) => users.filter((u) => subOf(u).startsWith(p)).length)
        .reduce((n, count) => n + Math.max(1, Math.ceil(count / 60)), 0);
      expect(mock.commandCalls(ListUsersCommand)).toHaveLength(pages);
    });
  }
});

describe('what a backup captures (mocked pool)', () => {
  it("dates startedAt and finishedAt on the caller's clock (opts.now): the snapshot verifies", async () => {
    for (const skew of [5 * 60_000, -5 * 60_000]) {
      const root = new MemoryStorage();
      const now = () => new Date(Date.now() + skew);
      const r = await backupPool(gw, root, { userPoolId: POOL, now });
      const snap = await SnapshotReader.open(root.child(r.snapshot.replace('memory://', '')));
      const { startedAt, finishedAt } = snap.manifest;
      expect(Date.parse(finishedAt)).toBeGreaterThanOrEqual(Date.parse(startedAt));
      expect(Math.abs(Date.parse(finishedAt) - (Date.now() + skew))).toBeLessThan(60_000);
      expect((await snap.verify()).ok, `skew ${skew}`).toBe(true);
    }
  });

  it('redacts the SMS and analytics role ExternalIds by default, keeps them with includeSecrets', async () => {
    const sms = { SnsCallerArn: 'arn:aws:iam::123456789012:role/sms', ExternalId: 'ext-sms' };
    mock.on(DescribeUserPoolCommand).callsFake(async () => ({
      UserPool: { Id: POOL, Name: 'unit', SmsConfiguration: { ...sms } },
    }));
    mock.on(GetUserPoolMfaConfigCommand).callsFake(async () => ({
      MfaConfiguration: 'OPTIONAL',
      SmsMfaConfiguration: { SmsConfiguration: { ...sms } },
    }));
    mock.on(DescribeUserPoolClientCommand).callsFake(async () => ({
      UserPoolClient: {
        ClientId: 'c1',
        AnalyticsConfiguration: { ApplicationId: 'app', RoleArn: 'arn:r', ExternalId: 'ext-an' },
      },
    }));
    for (const includeSecrets of [false, true]) {
      const root = new MemoryStorage();
      const r = await backupPool(gw, root, { userPoolId: POOL, includeSecrets });
      const snap = await SnapshotReader.open(root.child(r.snapshot.replace('memory://', '')));
      const pool = (await snap.readJson('pool', z.any())) as {
        userPool: { SmsConfiguration: { ExternalId: string; SnsCallerArn: string } };
        mfaConfig: { SmsMfaConfiguration: { SmsConfiguration: { ExternalId: string } } };
      };
      const clients = (await snap.readJson('clients', z.any())) as {
        AnalyticsConfiguration: { ExternalId: string; RoleArn: string };
      }[];
      const text = JSON.stringify([pool, clients]);
      expect(text.includes('ext-sms'), `includeSecrets=${includeSecrets}`).toBe(includeSecrets);
      expect(text.includes('ext-an')).toBe(includeSecrets);
      const marker = (v: string) => (includeSecrets ? v : REDACTED);
      expect(pool.userPool.SmsConfiguration.ExternalId).toBe(marker('ext-sms'));
      expect(pool.mfaConfig.SmsMfaConfiguration.SmsConfiguration.ExternalId).toBe(
        marker('ext-sms'),
      );
      expect(pool.userPool.SmsConfiguration.SnsCallerArn).toBe(sms.SnsCallerArn);
      expect(clients[0]?.AnalyticsConfiguration.ExternalId).toBe(marker('ext-an'));
      expect(clients[0]?.AnalyticsConfiguration.RoleArn).toBe('arn:r');
    }
  });

  it('redacts secrets by default, keeps them with includeSecrets, dates as ISO strings', async () => {
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, { userPoolId: POOL });
    const snap = await SnapshotReader.open(root.child(r.snapshot.replace('memory://', '')));
    const clients = (await snap.readJson('clients', z.any())) as {
      ClientSecret?: string;
    }[];
    expect(clients[0]?.ClientSecret).toBe(REDACTED);
    const idps = (await snap.readJson('identityProviders', z.any())) as {
      ProviderDetails: Record<string, string>;
    }[];
    expect(idps[0]?.ProviderDetails).toEqual({
      client_id: 'id',
      client_secret: REDACTED,
      authorize_scopes: 'openid',
    });
    const first = (await readUsers(snap.storage)).find((u) => u.Username === 'user-0');
    expect(first?.UserCreateDate?.toISOString()).toBe(new Date(1_700_000_000_000).toISOString());
    const members: MembershipRecord[] = [];
    for await (const m of snap.records('memberships', MembershipRecord)) members.push(m);
    expect(members).toHaveLength(72);
    expect(r.manifest.counts).toEqual({
      users: 130,
      groups: 2,
      memberships: 72,
      clients: 1,
      identityProviders: 1,
      resourceServers: 0,
    });

    // Without secrets, which secrets a client holds is not asked.
    expect(mock.commandCalls(ListUserPoolClientSecretsCommand)).toHaveLength(0);
    const root2 = new MemoryStorage();
    const r2 = await backupPool(gw, root2, { userPoolId: POOL, includeSecrets: true });
    const snap2 = await SnapshotReader.open(root2.child(r2.snapshot.replace('memory://', '')));
    const c2 = (await snap2.readJson('clients', z.any())) as {
      ClientSecret?: string;
    }[];
    expect(c2[0]?.ClientSecret).toBe('top-secret');
    // Both secrets' ids and dates (Cognito never lists values), for the restore's report.
    expect((c2[0] as { ClientSecrets?: unknown }).ClientSecrets).toEqual([
      { ClientSecretId: 'c1--1700000000', ClientSecretCreateDate: '2023-11-14T22:13:20.000Z' },
      { ClientSecretId: 'c1--1800000000', ClientSecretCreateDate: '2027-01-15T08:00:00.000Z' },
    ]);
    const i2 = (await snap2.readJson('identityProviders', z.any())) as {
      ProviderDetails: Record<string, string>;
    }[];
    expect(i2[0]?.ProviderDetails.client_secret).toBe('shh');
    expect(r2.manifest.options.includeSecrets).toBe(true);
  });

  it('redactProviderDetails replaces every secret-looking key', () => {
    expect(
      redactProviderDetails({
        client_id: 'a',
        client_secret: 'b',
        private_key: 'c',
        privatekey: 'd',
        team_id: 'e',
        MetadataURL: 'f',
      }),
    ).toEqual({
      client_id: 'a',
      client_secret: REDACTED,
      private_key: REDACTED,
      privatekey: REDACTED,
      team_id: 'e',
      MetadataURL: 'f',
    });
  });

  it('downloads the hosted UI logo into the snapshot (SetUICustomization needs the bytes)', async () => {
    const logo = Buffer.from('\x89PNG fake logo bytes');
    mock.on(GetUICustomizationCommand).resolves({
      UICustomization: { CSS: '.x{}', ImageUrl: 'https://cdn.example.com/logo.png' },
    });
    const urls: string[] = [];
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, {
      userPoolId: POOL,
      fetchImage: async (url) => {
        urls.push(url);
        return logo;
      },
    });
    expect(urls).toEqual(['https://cdn.example.com/logo.png']);
    const snap = await SnapshotReader.open(root.child(r.snapshot.replace('memory://', '')));
    const pool = (await snap.readJson('pool', z.any())) as {
      uiCustomization: { CSS: string; ImageFile: string };
    };
    expect(pool.uiCustomization.CSS).toBe('.x{}');
    expect(Buffer.from(pool.uiCustomization.ImageFile, 'base64')).toEqual(logo);
  });

  it('a logo that cannot be downloaded is a NOT_CAPTURED warning; the CSS is kept', async () => {
    mock.on(GetUICustomizationCommand).resolves({
      UICustomization: { CSS: '.x{}', ImageUrl: 'https://cdn.example.com/logo.png' },
    });
    const r = await backupPool(gw, new MemoryStorage(), {
      userPoolId: POOL,
      fetchImage: async () => {
        throw new Error('larger than 131072 bytes');
      },
    });
    expect(r.warnings).toContainEqual(
      expect.objectContaining({
        code: 'NOT_CAPTURED',
        message: expect.stringMatching(/logo could not be downloaded \(larger than 131072/),
      }),
    );
  });

  it('downloadUiImage refuses plain http and stops reading past 131,072 bytes', async () => {
    const ac = new AbortController();
    await expect(downloadUiImage('http://cdn.example.com/x.png', ac.signal)).rejects.toThrow(
      /not an https URL/,
    );
    const big = new Uint8Array(UI_IMAGE_MAX_BYTES + 1);
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async () => new Response(big)) as typeof fetch;
    try {
      await expect(downloadUiImage('https://cdn.example.com/x.png', ac.signal)).rejects.toThrow(
        /larger than 131072/,
      );
      globalThis.fetch = (async () => new Response(big.subarray(1))) as typeof fetch;
      expect((await downloadUiImage('https://cdn.example.com/x.png', ac.signal)).length).toBe(
        UI_IMAGE_MAX_BYTES,
      );
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  it('an optional setting that is refused becomes a NOT_CAPTURED warning, not a failure', async () => {
    mock.on(GetUICustomizationCommand).rejects(awsError('AccessDeniedException'));
    const r = await backupPool(gw, new MemoryStorage(), { userPoolId: POOL });
    expect(r.warnings).toContainEqual(
      expect.objectContaining({ code: 'NOT_CAPTURED', operation: 'GetUICustomization' }),
    );
  });
});

describe('access denied and other failures: the right error, and no manifest', () => {
  const denials: [string, () => Error][] = [
    ['AccessDeniedException', () => awsError('AccessDeniedException')],
    [
      'NotAuthorizedException',
      () => new NotAuthorizedException({ message: 'no', $metadata: { httpStatusCode: 400 } }),
    ],
    ['UnrecognizedClientException', () => awsError('UnrecognizedClientException')],
  ];

  for (const [name, make] of denials) {
    it(`${name} on DescribeUserPool → CredentialsError, exit 5`, async () => {
      mock.on(DescribeUserPoolCommand).rejects(make());
      const root = new MemoryStorage();
      const e = await failure(backupPool(gw, root, { userPoolId: POOL }));
      expect(e).toBeInstanceOf(CredentialsError);
      expect(e).toMatchObject({ code: 'ACCESS_DENIED', exitCode: 5 });
      expect(e.message).toMatch(/DescribeUserPool/);
      expect(await keys(root)).toEqual([]);
    });

    it(`${name} on ListUsers mid-backup → exit 5 and no manifest (local directory)`, async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'cv-engine-'));
      mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
        if (input.PaginationToken) {
          // Users are listed alongside the settings: fail once pool.json is on disk (waited
          // for, not slept for), so the test sees a partial snapshot, not an empty directory.
          await vi.waitFor(
            async () => {
              const on = await keys(new LocalDirStorage(dir));
              if (!on.some((k) => k.endsWith('/pool.json'))) throw new Error('not yet');
            },
            { timeout: 10_000, interval: 5 },
          );
          throw make();
        }
        return listUsersFake(users)(input);
      });
      try {
        const root = new LocalDirStorage(dir);
        const e = await failure(backupPool(gw, root, { userPoolId: POOL, shards: 1 }));
        expect(e).toBeInstanceOf(CredentialsError);
        expect(e).toMatchObject({ code: 'ACCESS_DENIED', exitCode: 5 });
        expect(e.message).toMatch(/ListUsers/);
        const written = await keys(root);
        expect(written.length).toBeGreaterThan(0);
        expect(written.some((k) => k.endsWith('manifest.json'))).toBe(false);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }, 15_000);
  }

  it('an unknown pool is UsageError POOL_NOT_FOUND, exit 2', async () => {
    mock
      .on(DescribeUserPoolCommand)
      .rejects(
        new ResourceNotFoundException({ message: 'nope', $metadata: { httpStatusCode: 400 } }),
      );
    const e = await failure(backupPool(gw, new MemoryStorage(), { userPoolId: POOL }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e).toMatchObject({ code: 'POOL_NOT_FOUND', exitCode: 2 });
  });

  it('a --region that disagrees with the pool id is refused before any call', async () => {
    const e = await failure(
      backupPool(gw, new MemoryStorage(), { userPoolId: POOL, region: 'eu-west-1' }),
    );
    expect(e).toMatchObject({ code: 'REGION_MISMATCH', exitCode: 2 });
    expect(mock.calls()).toHaveLength(0);
  });

  it('a disk that fills up while writing a users part → StorageError DISK_FULL, exit 8, no manifest', async () => {
    /** A storage whose writes hit ENOSPC once the shared budget is used up, like a small disk. */
    class TinyDisk implements Storage {
      readonly location: string;
      constructor(
        readonly inner: MemoryStorage,
        readonly budget: { used: number; capacity: number },
      ) {
        this.location = inner.location;
      }
      async put(key: string, body: Readable | Uint8Array | string): Promise<void> {
        const chunks: Buffer[] = [];
        try {
          const source = typeof body === 'string' || body instanceof Uint8Array ? [body] : body;
          for await (const c of source) {
            const b = Buffer.from(c as Uint8Array);
            this.budget.used += b.length;
            if (this.budget.used > this.budget.capacity) {
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
                code: 'ENOSPC',
                errno: -28,
              });
            }
            chunks.push(b);
          }
        } catch (e) {
          throw storageErrorFromFs(e, 'write', `${this.location}/${key}`);
        }
        await this.inner.put(key, Buffer.concat(chunks));
      }
      get(key: string) {
        return this.inner.get(key);
      }
      exists(key: string) {
        return this.inner.exists(key);
      }
      stat(key: string) {
        return this.inner.stat(key);
      }
      list(prefix?: string): AsyncIterable<StorageEntry> {
        return this.inner.list(prefix);
      }
      delete(key: string) {
        return this.inner.delete(key);
      }
      removeEmptyDirs() {
        return this.inner.removeEmptyDirs();
      }
      child(prefix: string): Storage {
        return new TinyDisk(this.inner.child(prefix) as MemoryStorage, this.budget);
      }
    }
    users = makeUsers(3000);
    mock.on(ListUsersCommand).callsFake(listUsersFake(users));
    const mem = new MemoryStorage();
    const disk = new TinyDisk(mem, { used: 0, capacity: 20_000 });
    const e = await failure(backupPool(gw, disk, { userPoolId: POOL, shards: 1 }));
    expect(e).toBeInstanceOf(StorageError);
    expect(e).toMatchObject({ code: 'DISK_FULL', exitCode: 8 });
    expect(e.message).toMatch(/no space left/);
    expect(await hasManifest(mem)).toBe(false);
    expect((await keys(mem)).some((k) => k.endsWith('pool.json'))).toBe(true);
  });

  it('a storage failure in the users branch is reported as such, not as the abort it causes in the settings branch', async () => {
    // Settings: a best-effort call is in retry backoff (moto answers 500) when users fail.
    const slowGw = new CognitoGateway(client, {
      rate: { unlimited: true },
      retry: { baseDelayMs: 600, maxDelayMs: 600 },
    });
    mock.on(GetUICustomizationCommand).rejects(htmlServerError());
    mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
      // Users go on once the settings call has failed once (it is then in its 600 ms backoff):
      // a condition waited for, not a sleep.
      await vi.waitFor(
        () => expect(mock.commandCalls(GetUICustomizationCommand).length).toBeGreaterThan(0),
        { timeout: 10_000, interval: 5 },
      );
      return listUsersFake(users)(input);
    });
    // Users: one part cannot be written; the other parts take a while to wind down, as an S3
    // multipart upload does when it is aborted.
    const objects = new Map<string, Buffer>();
    class Flaky extends MemoryStorage {
      constructor(readonly at = '') {
        super(objects, at);
      }
      override async put(key: string, body: Readable | Uint8Array | string): Promise<void> {
        if (key === 'users/part-00000.jsonl.gz') {
          throw new StorageError('UNWRITABLE', `cannot write ${key} (EACCES)`, { key });
        }
        try {
          await super.put(key, body);
        } catch (e) {
          await new Promise((r) => setTimeout(r, 150));
          throw e;
        }
      }
      override child(prefix: string): Storage {
        return new Flaky(joinKey(this.at, prefix));
      }
    }
    const e = await failure(backupPool(slowGw, new Flaky(), { userPoolId: POOL, shards: 16 }));
    expect(e).toBeInstanceOf(StorageError);
    expect(e).toMatchObject({ code: 'UNWRITABLE', exitCode: 8 });
    expect(await hasManifest(new MemoryStorage(objects))).toBe(false);
  });

  it('a storage failure writing pool.json is reported as such', async () => {
    const objects = new Map<string, Buffer>();
    class NoPool extends MemoryStorage {
      constructor(readonly at = '') {
        super(objects, at);
      }
      override async put(key: string, body: Readable | Uint8Array | string): Promise<void> {
        if (key === 'pool.json') throw new StorageError('UNWRITABLE', 'cannot write pool.json');
        return super.put(key, body);
      }
      override child(prefix: string): Storage {
        return new NoPool(joinKey(this.at, prefix));
      }
    }
    const e = await failure(backupPool(gw, new NoPool(), { userPoolId: POOL }));
    expect(e).toMatchObject({ code: 'UNWRITABLE', exitCode: 8 });
    expect(await hasManifest(new MemoryStorage(objects))).toBe(false);
  });

  it('an aborted signal mid-listing → InterruptedError (130), no manifest', async () => {
    const ac = new AbortController();
    let pages = 0;
    mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
      if (++pages === 3) ac.abort();
      return listUsersFake(users)(input);
    });
    const root = new MemoryStorage();
    const e = await failure(
      backupPool(gw, root, { userPoolId: POOL, shards: 1, signal: ac.signal }),
    );
    expect(e).toBeInstanceOf(InterruptedError);
    expect(e.exitCode).toBe(130);
    expect(await hasManifest(root)).toBe(false);
  });
});

describe('pagination token lifetime', () => {
  it('keeps at most 16 ListUsers chains open when a pool is split 256 ways', async () => {
    users = makeUsers(2_000);
    const fake = listUsersFake(users);
    let inFlight = 0;
    let peak = 0;
    mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return fake(input);
    });
    const r = await backupPool(gw, new MemoryStorage(), { userPoolId: POOL, shards: 256 });
    expect(r.users).toBe(2_000);
    expect(r.manifest.files.filter((f) => f.kind === 'users')).toHaveLength(256);
    // 256 chains at once would each get 1/256 of UserList: a large pool's chains would then
    // outlive their 1-hour pagination tokens.
    expect(peak).toBeLessThanOrEqual(16);
    expect(peak).toBeGreaterThan(1);
  });
});

describe('--all-pools', () => {
  it('backs up every pool in the Region, following ListUserPools past the first 60', async () => {
    const ids = Array.from(
      { length: 130 },
      (_, i) => `us-east-1_Pool${String(i).padStart(3, '0')}`,
    );
    mock.on(ListUserPoolsCommand).callsFake(async (input: ListUserPoolsCommandInput) => {
      const start = Number(input.NextToken ?? 0);
      const page = ids.slice(start, start + (input.MaxResults ?? 60));
      const next = start + page.length < ids.length ? String(start + page.length) : undefined;
      return {
        UserPools: page.map((Id) => ({ Id, Name: Id })),
        ...(next ? { NextToken: next } : {}),
      };
    });
    mock.on(DescribeUserPoolCommand).callsFake(async (input: { UserPoolId: string }) => ({
      UserPool: { Id: input.UserPoolId, Name: input.UserPoolId, EstimatedNumberOfUsers: 3 },
    }));
    users = makeUsers(3);
    mock.on(ListUsersCommand).callsFake(listUsersFake(users));
    const root = new MemoryStorage();
    const results = await backupAllPools(gw, root, { shards: 1 });
    expect(results.map((r) => r.userPoolId)).toEqual(ids);
    expect(mock.commandCalls(ListUserPoolsCommand)).toHaveLength(3);
    const manifests = (await keys(root)).filter((k) => k.endsWith('/manifest.json'));
    expect(manifests).toHaveLength(130);
    expect(results.every((r) => r.users === 3)).toBe(true);
  });
});

describe('commit safety and the backup lease', () => {
  it('holds a lease on the snapshot while it runs and removes it when done', async () => {
    const mem = new MemoryStorage();
    const root = new FaultyStorage(mem, () => undefined);
    const r = await backupPool(gw, root, { userPoolId: POOL, shards: 1 });
    const puts = root.calls.filter((c) => c.op === 'put').map((c) => c.key);
    const snapDir = `${POOL}/${r.manifest.snapshotId}`;
    // The lease is the first object of the snapshot, the manifest the last.
    expect(puts[0]).toMatch(new RegExp(`^${snapDir}/locks/backup-[0-9a-f]{16}\\.json$`));
    expect(puts.at(-1)).toBe(`${snapDir}/manifest.json`);
    const leaseKey = puts[0] ?? '';
    expect(root.calls.some((c) => c.op === 'delete' && c.key === leaseKey)).toBe(true);
    expect((await keys(mem)).some((k) => k.includes('/locks/'))).toBe(false);
  });

  it('a part deleted before commit → StorageError SNAPSHOT_FILES_MISSING (exit 8), no manifest', async () => {
    const mem = new MemoryStorage();
    // A prune (or a lifecycle rule) deletes a users part while the backup is finishing.
    const root = new FaultyStorage(mem, (op, key) => {
      if (op === 'stat' && key.endsWith('users/part-00000.jsonl.gz')) void mem.delete(key);
      return undefined;
    });
    const e = await failure(backupPool(gw, root, { userPoolId: POOL, shards: 1 }));
    expect(e).toBeInstanceOf(StorageError);
    expect(e).toMatchObject({ code: 'SNAPSHOT_FILES_MISSING', exitCode: 8 });
    expect(e.message).toMatch(/users\/part-00000\.jsonl\.gz is missing/);
    expect(await hasManifest(mem)).toBe(false);
  });

  it('a part whose stored size differs from what was written is not committed either', async () => {
    const mem = new MemoryStorage();
    const root = new FaultyStorage(mem, (op, key) => {
      if (op === 'stat' && key.endsWith('groups.json')) void mem.put(key, 'truncated');
      return undefined;
    });
    const e = await failure(backupPool(gw, root, { userPoolId: POOL, shards: 1 }));
    expect(e).toMatchObject({ code: 'SNAPSHOT_FILES_MISSING', exitCode: 8 });
    expect(e.message).toMatch(/groups\.json has 9 bytes/);
    expect(await hasManifest(mem)).toBe(false);
  });
});

describe('managed login branding (one DescribeManagedLoginBrandingByClient per client)', () => {
  const twoClients = () => {
    mock.on(ListUserPoolClientsCommand).resolves({
      UserPoolClients: [{ ClientId: 'c1' }, { ClientId: 'c2' }],
    });
    mock.on(DescribeUserPoolClientCommand).callsFake(async (i: { ClientId: string }) => ({
      UserPoolClient: { ClientId: i.ClientId, ClientName: `n-${i.ClientId}` },
    }));
  };
  const brandingOf = async (root: MemoryStorage, snapshot: string): Promise<unknown> => {
    const snap = await SnapshotReader.open(root.child(snapshot.replace('memory://', '')));
    expect(snap.manifest.files.map((f) => f.path)).toContain('managed-login-branding.json');
    return snap.readJson('managedLoginBranding', z.any());
  };

  it('captures each client style with its asset bytes; ResourceNotFoundException = none', async () => {
    twoClients();
    const png = Buffer.from('\x89PNG branding logo');
    mock.on(DescribeManagedLoginBrandingByClientCommand).callsFake(async (i) => {
      expect(i).toMatchObject({ UserPoolId: POOL, ReturnMergedResources: false });
      if (i.ClientId === 'c2')
        throw new ResourceNotFoundException({ message: 'none', $metadata: {} });
      return {
        ManagedLoginBranding: {
          ManagedLoginBrandingId: 'b-1',
          UserPoolId: POOL,
          UseCognitoProvidedValues: false,
          Settings: { components: { pageBackground: { image: { enabled: true } } } },
          Assets: [{ Category: 'FORM_LOGO', ColorMode: 'LIGHT', Extension: 'PNG', Bytes: png }],
        },
      };
    });
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, { userPoolId: POOL });
    expect(
      r.warnings.filter((w) => w.operation === 'DescribeManagedLoginBrandingByClient'),
    ).toEqual([]);
    const got = (await brandingOf(root, r.snapshot)) as {
      ClientId: string;
      Assets: { Bytes: string }[];
    }[];
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      ClientId: 'c1',
      ManagedLoginBrandingId: 'b-1',
      UseCognitoProvidedValues: false,
      Settings: { components: { pageBackground: { image: { enabled: true } } } },
      Assets: [{ Category: 'FORM_LOGO', ColorMode: 'LIGHT', Extension: 'PNG' }],
    });
    expect(Buffer.from(got[0]?.Assets[0]?.Bytes ?? '', 'base64')).toEqual(png);
  });

  it('a refusal is one NOT_CAPTURED warning (not one per client), and the backup completes', async () => {
    twoClients();
    mock.on(DescribeManagedLoginBrandingByClientCommand).rejects(awsError('AccessDeniedException'));
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, { userPoolId: POOL });
    const ws = r.warnings.filter((w) => w.operation === 'DescribeManagedLoginBrandingByClient');
    expect(ws).toHaveLength(1);
    expect(ws[0]).toMatchObject({ code: 'NOT_CAPTURED' });
    expect(ws[0]?.message).toMatch(/2 app client/);
    expect(await brandingOf(root, r.snapshot)).toEqual([]);
    expect(mock.commandCalls(DescribeManagedLoginBrandingByClientCommand)).toHaveLength(1);
  });
});

describe("app clients' own UI customization and risk configuration", () => {
  const twoClients = () => {
    mock.on(ListUserPoolClientsCommand).resolves({
      UserPoolClients: [{ ClientId: 'c1' }, { ClientId: 'c2' }],
    });
    mock.on(DescribeUserPoolClientCommand).callsFake(async (i: { ClientId: string }) => ({
      UserPoolClient: { ClientId: i.ClientId, ClientName: `n-${i.ClientId}` },
    }));
  };
  const poolOf = async (root: MemoryStorage, snapshot: string) => {
    const snap = await SnapshotReader.open(root.child(snapshot.replace('memory://', '')));
    return (await snap.readJson('pool', z.any())) as Record<string, unknown>;
  };

  it("keeps only answers naming the client (Cognito answers with the pool's otherwise), logo bytes included", async () => {
    twoClients();
    const logo = Buffer.from('\x89PNG client logo');
    mock.on(GetUICustomizationCommand).callsFake(async (i: { ClientId?: string }) => ({
      UICustomization:
        i.ClientId === 'c1'
          ? { ClientId: 'c1', CSS: '.c1{}', ImageUrl: 'https://cdn.example.com/c1.png' }
          : { ClientId: 'ALL', CSS: '.pool{}' },
    }));
    mock.on(DescribeRiskConfigurationCommand).callsFake(async (i: { ClientId?: string }) => ({
      RiskConfiguration:
        i.ClientId === 'c2'
          ? {
              ClientId: 'c2',
              RiskExceptionConfiguration: { BlockedIPRangeList: ['192.0.2.0/24'] },
            }
          : { UserPoolId: POOL },
    }));
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, {
      userPoolId: POOL,
      fetchImage: async (url) => {
        expect(url).toBe('https://cdn.example.com/c1.png');
        return logo;
      },
    });
    expect(
      r.warnings.filter((w) => w.operation !== 'DescribeManagedLoginBrandingByClient'),
    ).toEqual([]);
    expect(
      mock.commandCalls(GetUICustomizationCommand).map((c) => c.args[0].input.ClientId),
    ).toEqual([undefined, 'c1', 'c2']);
    const pool = await poolOf(root, r.snapshot);
    expect(pool.uiCustomization).toMatchObject({ CSS: '.pool{}' });
    const ui = pool.clientUICustomizations as {
      ClientId: string;
      CSS: string;
      ImageFile: string;
    }[];
    expect(ui).toHaveLength(1);
    expect(ui[0]).toMatchObject({ ClientId: 'c1', CSS: '.c1{}' });
    expect(Buffer.from(ui[0]?.ImageFile ?? '', 'base64')).toEqual(logo);
    expect(pool.clientRiskConfigurations).toEqual([
      { ClientId: 'c2', RiskExceptionConfiguration: { BlockedIPRangeList: ['192.0.2.0/24'] } },
    ]);
  });

  it('a per-client refusal is one NOT_CAPTURED warning and leaves the list out ("not captured", not "none")', async () => {
    twoClients();
    mock.on(DescribeRiskConfigurationCommand).callsFake(async (i: { ClientId?: string }) => {
      if (i.ClientId) throw awsError('AccessDeniedException');
      return { RiskConfiguration: {} };
    });
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, { userPoolId: POOL });
    const ws = r.warnings.filter((w) => w.operation === 'DescribeRiskConfiguration');
    expect(ws).toHaveLength(1);
    expect(ws[0]?.message).toMatch(/per app client/);
    expect(
      mock.commandCalls(DescribeRiskConfigurationCommand).filter((c) => c.args[0].input.ClientId),
    ).toHaveLength(1);
    const pool = await poolOf(root, r.snapshot);
    expect(pool.clientRiskConfigurations).toBeUndefined();
    expect(pool.clientUICustomizations).toEqual([]);
  });

  it('not asked per client when the pool-level read was refused already (no second warning)', async () => {
    twoClients();
    mock.on(GetUICustomizationCommand).rejects(awsError('AccessDeniedException'));
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, { userPoolId: POOL });
    expect(r.warnings.filter((w) => w.operation === 'GetUICustomization')).toHaveLength(1);
    expect(mock.commandCalls(GetUICustomizationCommand)).toHaveLength(1);
    expect((await poolOf(root, r.snapshot)).clientUICustomizations).toBeUndefined();
  });
});
