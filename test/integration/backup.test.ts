import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CognitoIdentityProviderClient,
  DescribeIdentityProviderCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  GetUserPoolMfaConfigCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  type GroupType,
  type IdentityProviderType,
  type ResourceServerType,
  type UserPoolClientType,
  type UserPoolType,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { backupPool, type BackupResult } from '../../src/backup/engine.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool, type SeedResult } from '../../testing/seed.js';
import {
  ClientRecord,
  GroupRecord,
  IdentityProviderRecord,
  listSnapshots,
  MembershipRecord,
  PoolDocument,
  REDACTED,
  ResourceServerRecord,
  SnapshotReader,
  UserRecord,
} from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { useMotoEnv } from '../support/env.js';
import { startMoto, type MotoServer } from '../support/moto.js';

const REGION = 'us-east-1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// ---- an independent reader: the raw SDK client and plain pagination loops, no gateway ----------

interface LivePool {
  pool: UserPoolType;
  mfa: Record<string, unknown>;
  users: UserType[];
  groups: GroupType[];
  members: Map<string, string[]>;
  clients: UserPoolClientType[];
  idps: IdentityProviderType[];
  servers: ResourceServerType[];
}

/** Every item of a paginated listing: a plain loop over the tokens. */
async function drain<R, T>(
  page: (token: string | undefined) => Promise<R>,
  items: (r: R) => T[] | undefined,
  next: (r: R) => string | undefined,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const r = await page(token);
    out.push(...(items(r) ?? []));
    token = next(r);
  } while (token);
  return out;
}

async function readLive(c: CognitoIdentityProviderClient, poolId: string): Promise<LivePool> {
  const UserPoolId = poolId;
  const pool = (await c.send(new DescribeUserPoolCommand({ UserPoolId }))).UserPool;
  if (!pool) throw new Error('no pool');
  const { $metadata: _m, ...mfa } = await c.send(new GetUserPoolMfaConfigCommand({ UserPoolId }));

  const users = await drain(
    (PaginationToken) => c.send(new ListUsersCommand({ UserPoolId, Limit: 60, PaginationToken })),
    (r) => r.Users,
    (r) => r.PaginationToken,
  );
  const groups = await drain(
    (NextToken) => c.send(new ListGroupsCommand({ UserPoolId, Limit: 60, NextToken })),
    (r) => r.Groups,
    (r) => r.NextToken,
  );
  const members = new Map<string, string[]>();
  for (const g of groups) {
    const GroupName = g.GroupName ?? '';
    const inGroup = await drain(
      (NextToken) =>
        c.send(new ListUsersInGroupCommand({ UserPoolId, GroupName, Limit: 60, NextToken })),
      (r) => r.Users,
      (r) => r.NextToken,
    );
    members.set(
      GroupName,
      inGroup.map((u) => u.Username ?? ''),
    );
  }

  const clients: UserPoolClientType[] = [];
  const clientIds = await drain(
    (NextToken) =>
      c.send(new ListUserPoolClientsCommand({ UserPoolId, MaxResults: 60, NextToken })),
    (r) => r.UserPoolClients,
    (r) => r.NextToken,
  );
  for (const d of clientIds) {
    const full = await c.send(
      new DescribeUserPoolClientCommand({ UserPoolId, ClientId: d.ClientId }),
    );
    if (full.UserPoolClient) clients.push(full.UserPoolClient);
  }

  const idps: IdentityProviderType[] = [];
  const providers = await drain(
    (NextToken) =>
      c.send(new ListIdentityProvidersCommand({ UserPoolId, MaxResults: 60, NextToken })),
    (r) => r.Providers,
    (r) => r.NextToken,
  );
  for (const p of providers) {
    const full = await c.send(
      new DescribeIdentityProviderCommand({ UserPoolId, ProviderName: p.ProviderName }),
    );
    if (full.IdentityProvider) idps.push(full.IdentityProvider);
  }

  const servers = await drain(
    (NextToken) =>
      c.send(new ListResourceServersCommand({ UserPoolId, MaxResults: 50, NextToken })),
    (r) => r.ResourceServers,
    (r) => r.NextToken,
  );

  return { pool, mfa, users, groups, members, clients, idps, servers };
}

/** Dates become ISO strings, undefined fields vanish: the shape JSON gives the snapshot. */
const json = <T>(v: T): unknown => JSON.parse(JSON.stringify(v)) as unknown;

function userView(u: {
  Username?: string;
  Attributes?: { Name?: string; Value?: string }[];
  Enabled?: boolean;
  UserStatus?: string;
  UserCreateDate?: Date | string;
  UserLastModifiedDate?: Date | string;
}) {
  const iso = (d: Date | string | undefined) =>
    d === undefined ? undefined : typeof d === 'string' ? d : d.toISOString();
  return {
    Attributes: (u.Attributes ?? []).map((a) => [a.Name, a.Value]),
    Enabled: u.Enabled,
    UserStatus: u.UserStatus,
    UserCreateDate: iso(u.UserCreateDate),
    UserLastModifiedDate: iso(u.UserLastModifiedDate),
  };
}

const attr = (u: UserType, name: string) => u.Attributes?.find((a) => a.Name === name)?.Value;

interface Snapshot {
  reader: SnapshotReader;
  dir: string;
  users: UserRecord[];
  memberships: MembershipRecord[];
  pool: PoolDocument;
  groups: GroupRecord[];
  clients: ClientRecord[];
  idps: IdentityProviderRecord[];
  servers: ResourceServerRecord[];
}

async function readSnapshot(location: string): Promise<Snapshot> {
  const reader = await SnapshotReader.open(new LocalDirStorage(location));
  const users: UserRecord[] = [];
  for await (const u of reader.records('users', UserRecord)) users.push(u);
  const memberships: MembershipRecord[] = [];
  for await (const m of reader.records('memberships', MembershipRecord)) memberships.push(m);
  return {
    reader,
    dir: location,
    users,
    memberships,
    pool: await reader.readJson('pool', PoolDocument),
    groups: await reader.readJson('groups', z.array(GroupRecord)),
    clients: await reader.readJson('clients', z.array(ClientRecord)),
    idps: await reader.readJson('identityProviders', z.array(IdentityProviderRecord)),
    servers: await reader.readJson('resourceServers', z.array(ResourceServerRecord)),
  };
}

async function modes(root: string): Promise<{ dirs: Set<number>; files: Set<number>; n: number }> {
  const dirs = new Set<number>();
  const files = new Set<number>();
  let n = 0;
  const walk = async (p: string): Promise<void> => {
    const st = await stat(p);
    if (st.isDirectory()) {
      dirs.add(st.mode & 0o777);
      for (const e of await readdir(p)) await walk(path.join(p, e));
    } else {
      files.add(st.mode & 0o777);
      n++;
    }
  };
  await walk(root);
  return { dirs, files, n };
}

// ---- the fixture: one moto, one realistic pool of 2,000 users, one backup ----------------------

function fastGateway(): CognitoGateway {
  return CognitoGateway.create(
    { region: REGION, endpointUrl: moto.endpoint },
    { rate: { unlimited: true } },
  );
}

let moto: MotoServer;
let seedGw: CognitoGateway;
let raw: CognitoIdentityProviderClient;
let seed: SeedResult;
let live: LivePool;
let work: string;
let result: BackupResult;
let snap: Snapshot;

beforeAll(async () => {
  useMotoEnv();
  moto = await startMoto();
  seedGw = fastGateway();
  seed = await seedPool(seedGw, { users: 2000, groups: 70 });
  raw = new CognitoIdentityProviderClient({ region: REGION, endpoint: moto.endpoint });
  live = await readLive(raw, seed.userPoolId);
  work = await mkdtemp(path.join(tmpdir(), 'cv-backup-it-'));

  // Default sharding; pacing off to keep the file fast (the CLI tests run with default pacing).
  const gw = fastGateway();
  try {
    result = await backupPool(gw, new LocalDirStorage(path.join(work, 'default')), {
      userPoolId: seed.userPoolId,
    });
  } finally {
    gw.destroy();
  }
  snap = await readSnapshot(result.snapshot);
}, 120_000);

afterAll(async () => {
  seedGw?.destroy();
  raw?.destroy();
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the seeded pool is as realistic as promised (preconditions)', () => {
  it('has ≥ 2,000 users of every kind the backup must carry', () => {
    const users = live.users;
    expect(users.length).toBeGreaterThanOrEqual(2000);
    expect(new Set(users.map((u) => u.Username)).size).toBe(users.length);
    const names = users.map((u) => attr(u, 'name') ?? '');
    expect(names.some((n) => n.includes('山田'))).toBe(true);
    expect(names.some((n) => /[Ѐ-ӿ]/.test(n))).toBe(true);
    expect(names.some((n) => n.includes('’'))).toBe(true);
    const phoneOnly = users.filter((u) => !attr(u, 'email') && attr(u, 'phone_number'));
    expect(phoneOnly.length).toBeGreaterThan(50);
    const disabled = users.filter((u) => u.Enabled === false);
    expect(disabled.length).toBe(seed.disabled);
    expect(disabled.length).toBeGreaterThan(50);
    const statuses = new Set(users.map((u) => u.UserStatus));
    for (const s of ['FORCE_CHANGE_PASSWORD', 'CONFIRMED', 'UNCONFIRMED', 'RESET_REQUIRED']) {
      expect(statuses, s).toContain(s);
    }
    expect(users.some((u) => attr(u, 'custom:tier') === 'bronze, plus')).toBe(true);
    expect(users.some((u) => attr(u, 'custom:score') !== undefined)).toBe(true);
    expect(users.some((u) => attr(u, 'custom:beta') === 'true')).toBe(true);
    expect(users.some((u) => attr(u, 'custom:beta') === 'false')).toBe(true);
    expect(users.some((u) => attr(u, 'custom:beta') === undefined)).toBe(true);
  });

  it('has > 60 groups, a group of > 60 members, users in no group and in many', () => {
    expect(live.groups.length).toBeGreaterThan(60);
    const sizes = [...live.members.values()].map((m) => m.length);
    expect(Math.max(...sizes)).toBeGreaterThan(60);
    const perUser = new Map<string, number>();
    for (const m of live.members.values())
      for (const u of m) perUser.set(u, (perUser.get(u) ?? 0) + 1);
    expect(live.users.filter((u) => !perUser.has(u.Username ?? '')).length).toBeGreaterThan(100);
    expect(Math.max(...perUser.values())).toBeGreaterThanOrEqual(8);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(seed.memberships);
    expect(live.groups.some((g) => g.RoleArn)).toBe(true);
    expect(live.groups.some((g) => !g.RoleArn)).toBe(true);
  });

  it('has a client with a secret, a Google IdP with a secret, a resource server, custom schema', () => {
    expect(live.clients).toHaveLength(2);
    expect(live.clients.some((c) => c.ClientSecret)).toBe(true);
    expect(live.idps.map((p) => p.ProviderName)).toEqual(['Google']);
    expect(live.idps[0]?.ProviderDetails?.client_secret).toBe('demo-google-secret');
    expect(live.servers).toHaveLength(1);
    const custom = live.pool.SchemaAttributes?.filter((a) => a.Name?.startsWith('custom:'));
    expect(custom?.map((a) => [a.Name, a.AttributeDataType])).toEqual([
      ['custom:tier', 'String'],
      ['custom:score', 'Number'],
      ['custom:beta', 'Boolean'],
    ]);
  });
});

describe('backupPool → LocalDirStorage equals what the pool holds', () => {
  it('captures every user: username, every attribute, Enabled, UserStatus, dates', () => {
    expect(snap.users).toHaveLength(live.users.length);
    const snapshot = new Map(snap.users.map((u) => [u.Username, userView(u)]));
    expect(snapshot.size).toBe(snap.users.length); // no user twice
    const expected = new Map(live.users.map((u) => [u.Username ?? '', userView(u)]));
    // Compare user by user so a failure names the user.
    for (const [name, want] of expected) expect(snapshot.get(name), name).toEqual(want);
    expect([...snapshot.keys()].sort()).toEqual([...expected.keys()].sort());
  });

  it('captures every group: name, description, precedence, role', () => {
    const view = (g: {
      GroupName?: string;
      Description?: string;
      Precedence?: number;
      RoleArn?: string;
    }) => ({
      GroupName: g.GroupName,
      Description: g.Description,
      Precedence: g.Precedence,
      RoleArn: g.RoleArn,
    });
    const byName = (a: { GroupName?: string }, b: { GroupName?: string }) =>
      (a.GroupName ?? '').localeCompare(b.GroupName ?? '');
    expect(json(snap.groups.map(view).sort(byName))).toEqual(
      json(live.groups.map(view).sort(byName)),
    );
    expect(snap.groups.find((g) => g.GroupName === 'team-001')?.Description).toBe(
      'Group 1 — ünïcode ok',
    );
  });

  it('captures every membership exactly once', () => {
    const key = (g: string, u: string) => `${g}\u0000${u}`;
    const got = snap.memberships.map((m) => key(m.group, m.username));
    expect(new Set(got).size).toBe(got.length);
    const want = [...live.members].flatMap(([g, us]) => us.map((u) => key(g, u)));
    expect(got.sort()).toEqual(want.sort());
  });

  it('captures app clients with the secret redacted', () => {
    const want = live.clients.map((c) =>
      json(c.ClientSecret ? { ...c, ClientSecret: REDACTED } : c),
    );
    const byId = (a: unknown, b: unknown) =>
      String((a as ClientRecord).ClientId).localeCompare(String((b as ClientRecord).ClientId));
    expect((json(snap.clients) as unknown[]).sort(byId)).toEqual(want.sort(byId));
    expect(JSON.stringify(snap.clients)).not.toContain(
      live.clients.find((c) => c.ClientSecret)?.ClientSecret,
    );
  });

  it('captures the Google identity provider with client_secret redacted', () => {
    const google = live.idps[0] as IdentityProviderType;
    expect(json(snap.idps)).toEqual([
      json({
        ...google,
        ProviderDetails: { ...google.ProviderDetails, client_secret: REDACTED },
      }),
    ]);
    expect(JSON.stringify(snap.idps)).not.toContain('demo-google-secret');
  });

  it('captures resource servers', () => {
    expect(json(snap.servers)).toEqual(json(live.servers));
    expect(snap.servers[0]?.Scopes?.map((s) => s.ScopeName)).toEqual([
      'orders.read',
      'orders.write',
    ]);
  });

  it('captures the pool settings (custom schema included) and the MFA configuration', () => {
    const pool = json(live.pool) as Record<string, unknown>;
    const saved = json(snap.pool.userPool) as Record<string, unknown>;
    // Settings a restore needs must all be there, with the live values.
    for (const k of [
      'Id',
      'Name',
      'Policies',
      'SchemaAttributes',
      'AutoVerifiedAttributes',
      'AliasAttributes',
      'UsernameConfiguration',
      'MfaConfiguration',
      'AdminCreateUserConfig',
      'DeletionProtection',
    ]) {
      if (pool[k] === undefined) continue;
      expect(saved[k], k).toEqual(pool[k]);
    }
    // Nothing else the pool reports is altered either.
    for (const [k, v] of Object.entries(pool)) if (k in saved) expect(saved[k], k).toEqual(v);
    const custom = (saved.SchemaAttributes as { Name: string; AttributeDataType: string }[])
      .filter((a) => a.Name.startsWith('custom:'))
      .map((a) => [a.Name, a.AttributeDataType]);
    expect(custom).toEqual([
      ['custom:tier', 'String'],
      ['custom:score', 'Number'],
      ['custom:beta', 'Boolean'],
    ]);
    expect(snap.pool.mfaConfig).toEqual(json(live.mfa));
  });

  it('writes a manifest with the right counts that verifies', async () => {
    const m = snap.reader.manifest;
    const counts = {
      users: live.users.length,
      groups: live.groups.length,
      memberships: seed.memberships,
      clients: 2,
      identityProviders: 1,
      resourceServers: 1,
    };
    expect(m.counts).toEqual(counts);
    expect(result).toMatchObject(counts);
    expect(m.userPool).toMatchObject({ id: seed.userPoolId, region: REGION, name: live.pool.Name });
    expect(m.options).toEqual({
      includeSecrets: false,
      sharding: { mode: 'sub-prefix', shards: 16 },
    });
    // One shard per sub prefix, each written as one or more segments (part-NNNNN[-sNNNNNN]).
    const shardIndexes = new Set(
      m.files
        .filter((f) => f.kind === 'users')
        .map((f) => /^users\/part-(\d{5})(-s\d{6})?\.jsonl\.gz$/.exec(f.path)?.[1]),
    );
    expect([...shardIndexes].sort()).toEqual(
      Array.from({ length: 16 }, (_, i) => String(i).padStart(5, '0')),
    );
    expect(m.files.filter((f) => f.kind === 'users').reduce((n, f) => n + f.records, 0)).toBe(
      counts.users,
    );
    const v = await snap.reader.verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.files).toBe(m.files.length);
    // The manifest is on disk as the last word on the snapshot.
    const onDisk = JSON.parse(await readFile(path.join(snap.dir, 'manifest.json'), 'utf8')) as {
      formatVersion: number;
    };
    expect(onDisk.formatVersion).toBe(1);
    expect(result.snapshot).toBe(path.join(work, 'default', seed.userPoolId, m.snapshotId));
    const listed = await listSnapshots(new LocalDirStorage(path.join(work, 'default')));
    expect(listed.map((s) => [s.userPoolId, s.complete])).toEqual([[seed.userPoolId, true]]);
  });

  it('writes files 0600 and directories 0700, from the backup root down', async () => {
    const m = await modes(path.join(work, 'default', seed.userPoolId));
    expect([...m.dirs]).toEqual([0o700]);
    expect([...m.files]).toEqual([0o600]);
    expect(m.n).toBe(snap.reader.manifest.files.length + 1);
  });

  it('keeps client and IdP secrets with includeSecrets, and says so in the manifest', async () => {
    // A small pool of the same shape: the secrets are what matters here.
    const small = await seedPool(seedGw, { poolName: 'secrets', users: 12, groups: 2 });
    const lv = await readLive(raw, small.userPoolId);
    expect(lv.clients.some((c) => c.ClientSecret)).toBe(true);
    const gw = fastGateway();
    try {
      const r = await backupPool(gw, new LocalDirStorage(path.join(work, 'secrets')), {
        userPoolId: small.userPoolId,
        includeSecrets: true,
      });
      const s = await readSnapshot(r.snapshot);
      const byId = (a: unknown, b: unknown) =>
        String((a as ClientRecord).ClientId).localeCompare(String((b as ClientRecord).ClientId));
      expect((json(s.clients) as unknown[]).sort(byId)).toEqual(
        lv.clients.map((c) => json(c)).sort(byId),
      );
      expect(json(s.idps)).toEqual(json(lv.idps));
      expect(s.idps[0]?.ProviderDetails?.client_secret).toBe('demo-google-secret');
      expect(s.reader.manifest.options.includeSecrets).toBe(true);
      expect((await s.reader.verify()).ok).toBe(true);
    } finally {
      gw.destroy();
    }
  });

  it('one ListUsers chain captures exactly the same users as the sharded default', async () => {
    const gw = fastGateway();
    try {
      const r = await backupPool(gw, new LocalDirStorage(path.join(work, 'one-chain')), {
        userPoolId: seed.userPoolId,
        shards: 1,
      });
      const s = await readSnapshot(r.snapshot);
      expect(s.reader.manifest.options.sharding).toEqual({ mode: 'single', shards: 1 });
      expect(s.users).toHaveLength(live.users.length);
      expect(new Map(s.users.map((u) => [u.Username, userView(u)]))).toEqual(
        new Map(live.users.map((u) => [u.Username ?? '', userView(u)])),
      );
    } finally {
      gw.destroy();
    }
  });
});

describe('a pool that signs in by email (UsernameAttributes = [email])', () => {
  it('backs up generated UUID usernames, their emails and memberships', async () => {
    const s = await seedPool(seedGw, {
      poolName: 'email-login',
      users: 150,
      groups: 6,
      usernameAttributes: ['email'],
    });
    const lv = await readLive(raw, s.userPoolId);
    // Preconditions: Cognito (moto) generated the usernames.
    expect(lv.pool.UsernameAttributes).toEqual(['email']);
    expect(lv.users).toHaveLength(150);
    expect(lv.users.every((u) => UUID.test(u.Username ?? ''))).toBe(true);
    expect(lv.users.every((u) => attr(u, 'email')?.endsWith('@example.com'))).toBe(true);

    const gw = fastGateway();
    try {
      const r = await backupPool(gw, new LocalDirStorage(path.join(work, 'email')), {
        userPoolId: s.userPoolId,
      });
      const sn = await readSnapshot(r.snapshot);
      expect(new Map(sn.users.map((u) => [u.Username, userView(u)]))).toEqual(
        new Map(lv.users.map((u) => [u.Username ?? '', userView(u)])),
      );
      expect(sn.users.every((u) => UUID.test(u.Username))).toBe(true);
      expect(sn.pool.userPool.UsernameAttributes).toEqual(['email']);
      const usernames = new Set(sn.users.map((u) => u.Username));
      expect(sn.memberships).toHaveLength(s.memberships);
      expect(sn.memberships.every((m) => usernames.has(m.username))).toBe(true);
      const want = [...lv.members].flatMap(([g, us]) => us.map((u) => `${g}/${u}`)).sort();
      expect(sn.memberships.map((m) => `${m.group}/${m.username}`).sort()).toEqual(want);
      expect((await sn.reader.verify()).ok).toBe(true);
    } finally {
      gw.destroy();
    }
  });
});
