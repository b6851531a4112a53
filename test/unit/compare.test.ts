import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type {
  GroupType,
  IdentityProviderType,
  ResourceServerType,
  UserPoolClientType,
  UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakePool, fakeCognitoClient } from '../../testing/fake-cognito.mjs';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import {
  type CompareSide,
  compareSides,
  diffSnapshot,
  type PoolDifference,
  poolSide,
  RESTORED_STATUS,
  restoredStatus,
  type UserLike,
} from '../../src/compare/index.js';
import { InterruptedError } from '../../src/core/errors.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { MemoryStorage } from '../../src/storage/memory.js';

/**
 * The streaming comparison (src/compare) on a fake pool of a few thousand users: a snapshot is
 * taken, the pool is changed in every class, and diff must count each change exactly.
 */
const POOL = 'us-east-1_DiffUnit';
const USERS = 4000;

const subFor = (i: number, gen = 0): string =>
  createHash('sha1')
    .update(`${gen}:${i}`)
    .digest('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/, '$1-$2-$3-$4-$5');

interface Mutable {
  pool: FakePool;
  /** Per-user overrides: undefined = generated user, null = deleted. */
  override: Map<number, UserType | null>;
  extra: UserType[];
  members: Map<string, string[]>;
}

function user(i: number, gen = 0): UserType {
  return {
    Username: `user-${i}`,
    Attributes: [
      { Name: 'sub', Value: subFor(i, gen) },
      { Name: 'email', Value: `user-${i}@example.com` },
      { Name: 'custom:tier', Value: i % 3 ? 'gold' : 'silver' },
      { Name: 'name', Value: i % 2 ? 'Zoë' : '山田' },
    ],
    Enabled: i % 17 !== 3,
    UserStatus: 'CONFIRMED',
  };
}

function makePool(gen = 0): Mutable {
  const m: Mutable = {
    override: new Map(),
    extra: [],
    members: new Map([
      ['admins', Array.from({ length: 40 }, (_, i) => `user-${i * 7}`)],
      [
        'everyone',
        Array.from({ length: USERS }, (_, i) => `user-${i}`).filter((_, i) => i % 2 === 0),
      ],
      ['beta', []],
    ]),
    pool: undefined as unknown as FakePool,
  };
  m.pool = {
    id: POOL,
    describe: {
      Name: 'diff-unit',
      Policies: { PasswordPolicy: { MinimumLength: 8 } },
      MfaConfiguration: 'OFF',
      SchemaAttributes: [{ Name: 'custom:tier', AttributeDataType: 'String', Mutable: true }],
    },
    groups: [
      { GroupName: 'admins', Description: 'the admins', Precedence: 1 },
      { GroupName: 'everyone', Description: 'all of them' },
      { GroupName: 'beta' },
    ],
    clients: [
      { ClientId: 'c-web', ClientName: 'web', ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'] },
      { ClientId: 'c-ios', ClientName: 'ios', RefreshTokenValidity: 30 },
    ],
    identityProviders: [
      {
        ProviderName: 'Google',
        ProviderType: 'Google',
        ProviderDetails: { client_id: 'gid', client_secret: 'shh', authorize_scopes: 'openid' },
        AttributeMapping: { email: 'email' },
      },
    ],
    resourceServers: [
      {
        Identifier: 'https://api',
        Name: 'api',
        Scopes: [{ ScopeName: 'read', ScopeDescription: 'r' }],
      },
    ],
    get userCount() {
      return USERS + m.extra.length;
    },
    userAt(i) {
      if (i >= USERS) return m.extra[i - USERS];
      const o = m.override.get(i);
      if (o === null) return undefined;
      return o ?? user(i, gen);
    },
    members(group) {
      const l = m.members.get(group) ?? [];
      return { count: l.length, at: (j) => l[j] ?? '' };
    },
  };
  return m;
}

let work: string;
let fake: Mutable;
let gw: CognitoGateway;
let root: MemoryStorage;

async function snapshot(): Promise<SnapshotReader> {
  const r = await backupPool(gw, root, { userPoolId: POOL, shards: 16 });
  return SnapshotReader.open(root.child(r.snapshot.replace('memory://', '')));
}

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cv-compare-'));
  fake = makePool();
  gw = new CognitoGateway(fakeCognitoClient(fake.pool), { rate: { unlimited: true } });
  root = new MemoryStorage();
});

afterEach(async () => {
  gw.destroy();
  await rm(work, { recursive: true, force: true });
});

const setAttr = (u: UserType, name: string, value: string): UserType => ({
  ...u,
  Attributes: (u.Attributes ?? []).map((a) => (a.Name === name ? { Name: name, Value: value } : a)),
});

describe('diff: snapshot vs live pool (streaming)', () => {
  it('an unchanged pool is equal; every partition count gives the same answer', async () => {
    const reader = await snapshot();
    for (const partitions of [undefined, 1, 7]) {
      const r = await diffSnapshot(reader, gw, POOL, {
        ...(partitions ? { partitions } : {}),
        tempDir: work,
      });
      expect(r.equal, JSON.stringify(r)).toBe(true);
      expect(r.users).toEqual({
        snapshot: USERS,
        pool: USERS,
        matched: USERS,
        externalProviderInSnapshot: 0,
      });
      expect(r.memberships).toEqual({ snapshot: 40 + USERS / 2, pool: 40 + USERS / 2 });
      expect(r.changed.total).toBe(0);
    }
    expect(await readdir(work)).toEqual([]); // the spill directory is gone
  });

  it('counts every class of change, names resources, and keeps values out of the result', async () => {
    const reader = await snapshot();
    // Users: 3 deleted, 2 added, 4 attribute changes, 2 status, 1 disabled, 3 group removals.
    for (const i of [10, 2000, 3999]) fake.override.set(i, null);
    fake.extra.push(user(90_001), user(90_002));
    for (const i of [1, 501, 1501, 2501])
      fake.override.set(i, setAttr(user(i), 'custom:tier', 'platinum'));
    for (const i of [5, 6]) fake.override.set(i, { ...user(i), UserStatus: 'RESET_REQUIRED' });
    fake.override.set(8, { ...user(8), Enabled: false });
    const everyone = fake.members.get('everyone') ?? [];
    fake.members.set(
      'everyone',
      everyone.filter((u) => !['user-100', 'user-102', 'user-104'].includes(u)),
    );
    // Resources.
    fake.pool.groups[0] = { ...fake.pool.groups[0], Description: 'changed' };
    fake.pool.groups.push({ GroupName: 'new-group' });
    fake.pool.clients.splice(1, 1);
    fake.pool.identityProviders[0] = {
      ...fake.pool.identityProviders[0],
      AttributeMapping: { email: 'email', name: 'name' },
    };
    fake.pool.resourceServers[0] = { ...fake.pool.resourceServers[0], Scopes: [] };
    fake.pool.describe = {
      ...fake.pool.describe,
      Policies: { PasswordPolicy: { MinimumLength: 12 } },
    };

    const details: PoolDifference[] = [];
    const r = await diffSnapshot(reader, gw, POOL, {
      partitions: 5,
      tempDir: work,
      onDifference: (d) => details.push(d),
    });
    expect(r.equal).toBe(false);
    expect(r.onlyInSnapshot).toBe(3);
    expect(r.onlyInPool).toBe(2);
    expect(r.changed).toEqual({ attributes: 4, status: 2, enabled: 1, groups: 3, total: 10 });
    expect(r.resources.group).toEqual({
      onlyInSnapshot: [],
      onlyInPool: ['new-group'],
      changed: ['admins'],
    });
    expect(r.resources.client).toEqual({ onlyInSnapshot: ['ios'], onlyInPool: [], changed: [] });
    expect(r.resources.identityProvider.changed).toEqual(['Google']);
    expect(r.resources.resourceServer.changed).toEqual(['https://api']);
    expect(r.resources.pool.changed).toEqual(['Policies']);
    // The result has counts and resource names: no username, no attribute value.
    const text = JSON.stringify(r);
    expect(text).not.toMatch(/user-\d|platinum|example\.com/);
    // The details name every user and field (for the 0600 file), still without values.
    const users = details.filter((d) => d.kind === 'user' || d.kind === 'membership');
    expect(
      users
        .filter((d) => d.only === 'A')
        .map((d) => d.key)
        .sort(),
    ).toEqual(['user-10', 'user-2000', 'user-3999']);
    expect(
      users
        .filter((d) => d.class === 'groups')
        .map((d) => d.key)
        .sort(),
    ).toEqual(['user-100', 'user-102', 'user-104']);
    expect(users.find((d) => d.key === 'user-501')).toMatchObject({
      class: 'attributes',
      field: 'custom:tier',
    });
    expect(JSON.stringify(details)).not.toContain('platinum');
    expect(r.differenceCount).toBe(details.length);
  });

  it('matches users through a sub map when the pool gave everyone a new sub', async () => {
    const reader = await snapshot();
    fake = makePool(1); // same usernames, new subs (as after a restore)
    fake.override.set(3, { ...user(3, 1), Username: 'renamed-3' });
    gw.destroy();
    gw = new CognitoGateway(fakeCognitoClient(fake.pool), { rate: { unlimited: true } });
    const subMap = new Map(Array.from({ length: USERS }, (_, i) => [subFor(i, 0), subFor(i, 1)]));
    subMap.delete(subFor(7, 0)); // one user the map does not know
    const r = await diffSnapshot(reader, gw, POOL, { subMap, partitions: 3, tempDir: work });
    // By sub, the renamed user still matches; its username is not compared.
    expect(r.matchedBy).toBe('sub-map');
    expect(r.users.matched).toBe(USERS - 1);
    expect(r.onlyInSnapshot).toBe(1);
    expect(r.onlyInPool).toBe(1);
    // By username, every user "changed" its sub — which is not compared — so all match but one.
    const byName = await diffSnapshot(reader, gw, POOL, { partitions: 3, tempDir: work });
    expect(byName.onlyInSnapshot).toBe(1);
    expect(byName.onlyInPool).toBe(1);
    expect(byName.changed.total).toBe(0);
  });

  it('takes a status mapping: what a restore leaves is accepted, anything else is a change', async () => {
    const reader = await snapshot();
    fake.override.set(9, { ...user(9), UserStatus: 'FORCE_CHANGE_PASSWORD' });
    const strict = await diffSnapshot(reader, gw, POOL, { tempDir: work });
    expect(strict.changed.status).toBe(1);
    // The restore's rule (sign-in-ready by default): CONFIRMED stays CONFIRMED.
    const restored = await diffSnapshot(reader, gw, POOL, {
      userStatus: 'restored',
      tempDir: work,
    });
    expect(restored.changed.status).toBe(1);
    // With --password-state force-change every restored user is FORCE_CHANGE_PASSWORD.
    const forced = await diffSnapshot(reader, gw, POOL, {
      userStatus: restoredStatus('force-change'),
      tempDir: work,
    });
    expect(forced.changed.status).toBe(USERS - 1);
    const either = await diffSnapshot(reader, gw, POOL, {
      userStatus: (s) => [...RESTORED_STATUS(s), ...restoredStatus('force-change')(s)],
      tempDir: work,
    });
    expect(either.changed.status).toBe(0);
  });

  it('spills to a private directory (0700) of private files (0600), removed afterwards, also on abort', async () => {
    const reader = await snapshot();
    fake.override.set(0, null);
    const seen: { dir: number; files: number[] }[] = [];
    const r = await diffSnapshot(reader, gw, POOL, {
      tempDir: work,
      partitions: 4,
      onDifference: () => {
        if (seen.length) return;
        // Called (synchronously) while the partitions are compared: the spill files are there.
        const [dir] = readdirSync(work);
        if (!dir) return;
        const d = path.join(work, dir);
        seen.push({
          dir: statSync(d).mode & 0o777,
          files: readdirSync(d).map((f) => statSync(path.join(d, f)).mode & 0o777),
        });
      },
    });
    expect(r.onlyInSnapshot).toBe(1);
    expect(seen[0]?.dir).toBe(0o700);
    expect(seen[0]?.files.length).toBeGreaterThan(0);
    expect(new Set(seen[0]?.files)).toEqual(new Set([0o600]));
    expect(await readdir(work)).toEqual([]);

    const controller = new AbortController();
    controller.abort(new InterruptedError());
    await expect(
      diffSnapshot(reader, gw, POOL, { tempDir: work, signal: controller.signal }),
    ).rejects.toBeInstanceOf(InterruptedError);
    expect(await readdir(work)).toEqual([]);
  });
});

describe('compareSides: pool vs pool', () => {
  it('reports differences with the A/B wording the demo and restore tests use', async () => {
    const other = makePool();
    other.override.set(42, null);
    const gwB = new CognitoGateway(fakeCognitoClient(other.pool), { rate: { unlimited: true } });
    try {
      const c = await compareSides(poolSide(gw, POOL, 'A'), poolSide(gwB, POOL, 'B'), {
        tempDir: work,
      });
      expect(c.differences.map((d) => d.message)).toEqual(['user user-42 is only in A']);
      expect(c.summary.users).toMatchObject({ a: USERS, b: USERS - 1, matched: USERS - 1 });
    } finally {
      gwB.destroy();
    }
  });
});

describe('compareSides: a side that fails', () => {
  it('rejects with that failure once both sides stopped, and leaves no spill files', async () => {
    const base = poolSide(gw, POOL, 'A');
    const boom = new Error('ListUsers failed mid-way');
    let membershipsRead = 0;
    let membershipsClosed = false;
    const failing: CompareSide = {
      label: 'B',
      resources: (settings) => base.resources(settings),
      async *users() {
        let n = 0;
        for await (const u of base.users()) {
          if (++n > 300) throw boom;
          yield u;
        }
      },
      async *memberships(groups) {
        try {
          for await (const m of base.memberships(groups)) {
            membershipsRead++;
            yield m;
            await new Promise((r) => setTimeout(r, 0));
          }
        } finally {
          membershipsClosed = true;
        }
      },
    };
    await expect(
      compareSides(poolSide(gw, POOL, 'A'), failing, { tempDir: work, partitions: 3 }),
    ).rejects.toBe(boom);
    // The other branch had stopped before the rejection (not still reading memberships into
    // removed files): its generator was closed, so no membership can be read after this point.
    expect(membershipsClosed).toBe(true);
    expect(membershipsRead).toBeLessThan(40 + USERS / 2);
    expect(await readdir(work)).toEqual([]);
  });
});

describe('compareSides: the settings restore writes after CreateUserPool', () => {
  type Extras = Map<string, Record<string, unknown> | undefined>;
  const side = (label: string, extras?: Extras): CompareSide => ({
    label,
    resources: () =>
      Promise.resolve({
        pool: {},
        mfa: {},
        groups: [],
        clients: [],
        identityProviders: [],
        resourceServers: [],
        ...(extras ? { extras } : {}),
      }),
    async *users() {},
    async *memberships() {},
  });
  const ui = (css: string) => ({ CSS: css, HasImage: false });

  it('a different value is a difference; unreadable on one side is one; on both, listed', async () => {
    const c = await compareSides(
      side(
        'A',
        new Map<string, Record<string, unknown> | undefined>([
          ['UICustomization', ui('a')],
          ['RiskConfiguration', undefined],
          ['LogDeliveryConfiguration', undefined],
        ]),
      ),
      side(
        'B',
        new Map<string, Record<string, unknown> | undefined>([
          ['UICustomization', ui('b')],
          ['RiskConfiguration', {}],
          ['LogDeliveryConfiguration', undefined],
        ]),
      ),
      { tempDir: work },
    );
    expect(c.differences.map((d) => [d.key, d.message])).toEqual([
      ['UICustomization', 'pool setting UICustomization differs'],
      ['RiskConfiguration', 'pool setting RiskConfiguration could be read in B only'],
    ]);
    expect(c.summary.settingsNotCompared).toEqual(['LogDeliveryConfiguration']);
  });

  it('a side that does not hold a setting (an older snapshot) leaves it uncompared, not different', async () => {
    const c = await compareSides(
      side('the snapshot', new Map()),
      side('the pool', new Map([['UICustomization', ui('b')]])),
      { tempDir: work },
    );
    expect(c.equal).toBe(true);
    expect(c.summary.settingsNotCompared).toEqual(['UICustomization']);
  });
});

describe('compareSides: every direction, on either side', () => {
  interface Data {
    users: UserLike[];
    groups: GroupType[];
    members: [username: string, group: string][];
    clients: UserPoolClientType[];
    identityProviders: IdentityProviderType[];
    resourceServers: ResourceServerType[];
  }
  const base = (): Data => ({
    users: ['alice', 'bob'].map((n, i) => ({
      Username: n,
      Attributes: [
        { Name: 'sub', Value: `sub-${i}` },
        { Name: 'email', Value: `${n}@example.com` },
      ],
      Enabled: true,
      UserStatus: 'CONFIRMED',
    })),
    groups: [{ GroupName: 'admins' }, { GroupName: 'staff' }],
    members: [
      ['alice', 'admins'],
      ['bob', 'staff'],
    ],
    clients: [{ ClientId: 'c-web', ClientName: 'web' }],
    identityProviders: [{ ProviderName: 'Google', ProviderType: 'Google' }],
    resourceServers: [{ Identifier: 'https://api', Name: 'api' }],
  });
  const sideOf = (label: string, d: Data): CompareSide => ({
    label,
    resources: () =>
      Promise.resolve({
        pool: {},
        mfa: {},
        groups: d.groups,
        clients: d.clients,
        identityProviders: d.identityProviders,
        resourceServers: d.resourceServers,
      }),
    async *users() {
      yield* d.users;
    },
    async *memberships(groups) {
      for (const [username, group] of d.members)
        if (groups.includes(group)) yield { username, group };
    },
  });
  /** One thing more on one side; what the comparison must report, whichever side has it. */
  const extras: {
    what: string;
    add: (d: Data) => void;
    expected: (side: 'A' | 'B') => Partial<PoolDifference>;
  }[] = [
    {
      what: 'an attribute',
      add: (d) => d.users[0]?.Attributes?.push({ Name: 'custom:extra', Value: 'x' }),
      expected: (side) => ({
        kind: 'user',
        key: 'alice',
        class: 'attributes',
        field: 'custom:extra',
        message:
          side === 'A'
            ? 'user alice: attribute custom:extra is missing in B'
            : 'user alice: attribute custom:extra is only in B',
      }),
    },
    {
      what: 'a standard attribute',
      add: (d) => d.users[1]?.Attributes?.push({ Name: 'phone_number', Value: '+15555550100' }),
      expected: () => ({ kind: 'user', key: 'bob', class: 'attributes', field: 'phone_number' }),
    },
    {
      what: 'a linked identity',
      add: (d) =>
        d.users[1]?.Attributes?.push({
          Name: 'identities',
          Value: JSON.stringify([{ providerName: 'Google', userId: '123' }]),
        }),
      expected: () => ({ kind: 'user', key: 'bob', class: 'attributes', field: 'identities' }),
    },
    {
      what: 'a user',
      add: (d) =>
        d.users.push({ Username: 'carol', Attributes: [{ Name: 'sub', Value: 'sub-c' }] }),
      expected: (side) => ({ kind: 'user', key: 'carol', only: side }),
    },
    {
      what: 'a group',
      add: (d) => d.groups.push({ GroupName: 'beta' }),
      expected: (side) => ({ kind: 'group', key: 'beta', only: side }),
    },
    {
      what: 'a membership',
      add: (d) => d.members.push(['alice', 'staff']),
      expected: (side) => ({
        kind: 'membership',
        key: 'alice',
        class: 'groups',
        field: 'staff',
        message: `user alice is in group staff in ${side} only`,
      }),
    },
    {
      what: 'an app client',
      add: (d) => d.clients.push({ ClientId: 'c-ios', ClientName: 'ios' }),
      expected: (side) => ({ kind: 'client', key: 'ios', only: side }),
    },
    {
      what: 'an identity provider',
      add: (d) => d.identityProviders.push({ ProviderName: 'Okta', ProviderType: 'OIDC' }),
      expected: (side) => ({ kind: 'identityProvider', key: 'Okta', only: side }),
    },
    {
      what: 'a resource server',
      add: (d) => d.resourceServers.push({ Identifier: 'https://other', Name: 'other' }),
      expected: (side) => ({ kind: 'resourceServer', key: 'https://other', only: side }),
    },
  ];

  it("a sub map that sends a user to another user's new sub is wrong, both ways", async () => {
    const a = base();
    const b = base();
    // B: everyone got a new sub (as after a restore); the map swaps alice's and bob's.
    b.users.forEach((u, i) => u.Attributes?.splice(0, 1, { Name: 'sub', Value: `new-sub-${i}` }));
    const swapped = new Map([
      ['sub-0', 'new-sub-1'],
      ['sub-1', 'new-sub-0'],
    ]);
    const c = await compareSides(sideOf('A', a), sideOf('B', b), {
      tempDir: work,
      subMap: swapped,
    });
    expect(c.summary.subMap).toEqual({ entries: 2, checked: 2, wrong: 2 });
    expect(c.differences.map((d) => [d.kind, d.key])).toEqual([
      ['subMap', 'alice'],
      ['subMap', 'bob'],
    ]);
    const right = await compareSides(sideOf('A', a), sideOf('B', b), {
      tempDir: work,
      subMap: new Map([
        ['sub-0', 'new-sub-0'],
        ['sub-1', 'new-sub-1'],
      ]),
    });
    expect(right.equal).toBe(true);
    expect(right.summary.subMap).toEqual({ entries: 2, checked: 2, wrong: 0 });
  });

  it('two equal sides are equal', async () => {
    const c = await compareSides(sideOf('A', base()), sideOf('B', base()), { tempDir: work });
    expect(c.differences).toEqual([]);
    expect(c.equal).toBe(true);
  });

  for (const x of extras)
    for (const side of ['A', 'B'] as const)
      it(`${x.what} only in ${side} is exactly one difference`, async () => {
        const a = base();
        const b = base();
        x.add(side === 'A' ? a : b);
        const c = await compareSides(sideOf('A', a), sideOf('B', b), { tempDir: work });
        expect(c.equal).toBe(false);
        expect(c.differenceCount).toBe(1);
        expect(c.differences).toHaveLength(1);
        expect(c.differences[0]).toMatchObject(x.expected(side));
        if (x.what === 'a user')
          expect(c.summary.users).toMatchObject(
            side === 'A' ? { onlyInA: 1, onlyInB: 0 } : { onlyInA: 0, onlyInB: 1 },
          );
        if (x.what === 'an attribute' || x.what === 'a membership')
          expect(c.summary.users.changed.total).toBe(1);
      });
});
