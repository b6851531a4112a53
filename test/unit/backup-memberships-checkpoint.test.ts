import { randomUUID } from 'node:crypto';
import {
  CognitoIdentityProviderClient,
  DescribeManagedLoginBrandingByClientCommand,
  DescribeRiskConfigurationCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  GetLogDeliveryConfigurationCommand,
  GetUICustomizationCommand,
  GetUserPoolMfaConfigCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListTagsForResourceCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  ResourceNotFoundException,
  type ListUsersCommandInput,
  type ListUsersInGroupCommandInput,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { InterruptedError, type VaultError } from '../../src/core/errors.js';
import type { CognitoGateway } from '../../src/cognito/gateway.js';
import { MembershipRecord, SnapshotReader } from '../../src/snapshot/index.js';
import {
  MEMBERSHIP_SEGMENTS_DIR,
  MembershipSegment,
  membershipSegmentPath,
  PAGES_DIR,
  PageRecord,
  PROGRESS_VERSION,
  UNITS_DIR,
} from '../../src/snapshot/progress.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitGateway } from '../support/unit-gateway.js';

/**
 * Issue 15 item 2, "resume always makes progress", below the memberships unit and the
 * resources unit: memberships are stored in segments of whole groups, each with a record
 * (progress/memberships/…), so a resume lists only the groups no stored segment holds; a stop
 * closes the open segment at its last whole group; the resources a run recorded are not read
 * again; and the sharding probe takes whichever shard's first page answers first, so a slow
 * shard "0" does not keep the others' pages from being stored. Cognito is a double on the SDK's
 * middleware stack (paging by offset tokens, 60 a page).
 */
const POOL = 'us-east-1_MembersUnit';
const GROUPS = ['g0', 'g1', 'g2', 'g3', 'g4'];
const MEMBERS = 70; // two ListUsersInGroup pages a group

let client: CognitoIdentityProviderClient;
let mock: StackMock;
let gw: CognitoGateway;
let users: UserType[];
/** Groups (and ListUsers sub prefixes) whose calls wait until `release` (or the run's abort). */
let held: Set<string>;
let release: () => void;
let released: Promise<void>;
/** Called with each ListUsers call's token before it answers. */
let onListUsers: ((token: string) => void) | undefined;

function newGate(): void {
  released = new Promise<void>((r) => {
    release = r;
  });
}

const subOf = (u: UserType): string => u.Attributes?.find((a) => a.Name === 'sub')?.Value ?? '';

beforeEach(() => {
  ({ client, mock, gw } = unitGateway({ retry: { baseDelayMs: 1, maxDelayMs: 2 } }));
  users = Array.from({ length: 400 }, (_, i) => ({
    Username: `user-${i}`,
    Attributes: [{ Name: 'sub', Value: randomUUID() }],
    Enabled: true,
    UserStatus: 'CONFIRMED',
  }));
  held = new Set();
  onListUsers = undefined;
  newGate();
  mock.on(DescribeUserPoolCommand).resolves({
    UserPool: { Id: POOL, Name: 'unit', EstimatedNumberOfUsers: users.length },
  });
  mock.on(GetUserPoolMfaConfigCommand).resolves({ MfaConfiguration: 'OFF' });
  mock.on(ListTagsForResourceCommand).resolves({ Tags: {} });
  mock.on(GetUICustomizationCommand).resolves({ UICustomization: {} });
  mock.on(GetLogDeliveryConfigurationCommand).resolves({});
  mock.on(DescribeRiskConfigurationCommand).resolves({ RiskConfiguration: {} });
  mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [{ ClientId: 'c1' }] });
  mock.on(DescribeUserPoolClientCommand).resolves({
    UserPoolClient: { ClientId: 'c1', ClientName: 'm' },
  });
  mock
    .on(DescribeManagedLoginBrandingByClientCommand)
    .rejects(new ResourceNotFoundException({ message: 'none', $metadata: {} }));
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock.on(ListGroupsCommand).resolves({ Groups: GROUPS.map((GroupName) => ({ GroupName })) });
  mock.on(ListUsersInGroupCommand).callsFake(async (input: ListUsersInGroupCommandInput) => {
    const g = input.GroupName ?? '';
    if (held.has(g)) await released;
    const members = users.slice(GROUPS.indexOf(g) * 10, GROUPS.indexOf(g) * 10 + MEMBERS);
    const start = Number(input.NextToken ?? 0);
    const next = start + 60 < members.length ? String(start + 60) : undefined;
    return { Users: members.slice(start, start + 60), ...(next ? { NextToken: next } : {}) };
  });
  mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
    const prefix = input.Filter ? (/"(.*)"/.exec(input.Filter)?.[1] ?? '') : '';
    if (held.has(prefix)) await released;
    onListUsers?.(input.PaginationToken ?? '');
    const matching = users.filter((u) => subOf(u).startsWith(prefix));
    const start = Number(input.PaginationToken ?? 0);
    const next = start + 60 < matching.length ? String(start + 60) : undefined;
    return {
      Users: matching.slice(start, start + 60),
      ...(next ? { PaginationToken: next } : {}),
    };
  });
});

afterEach(() => {
  release();
  mock.restore();
  client.destroy();
});

async function keys(s: Storage, under = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const e of s.list()) if (e.key.startsWith(under)) out.push(e.key);
  return out.sort();
}

async function until(cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function segments(snap: Storage): Promise<MembershipSegment[]> {
  const out: MembershipSegment[] = [];
  for (const k of await keys(snap, `${MEMBERSHIP_SEGMENTS_DIR}/`)) {
    const chunks: Buffer[] = [];
    for await (const c of await snap.get(k)) chunks.push(Buffer.from(c as Uint8Array));
    out.push(MembershipSegment.parse(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
  }
  return out;
}

/** ListUsersInGroup calls since the last resetHistory, by group. */
function groupCalls(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of mock.commandCalls(ListUsersInGroupCommand)) {
    const g = c.args[0].input.GroupName ?? '';
    out[g] = (out[g] ?? 0) + 1;
  }
  return out;
}

/** Every membership the pool has, as `group/username`. */
function allMemberships(): string[] {
  return GROUPS.flatMap((g, i) =>
    users.slice(i * 10, i * 10 + MEMBERS).map((u) => `${g}/${u.Username}`),
  ).sort();
}

async function storedMemberships(snap: Storage): Promise<string[]> {
  const reader = await SnapshotReader.open(snap);
  expect((await reader.verify()).ok).toBe(true);
  const out: string[] = [];
  for await (const m of reader.records('memberships', MembershipRecord))
    out.push(`${m.group}/${m.username}`);
  return out.sort();
}

/** Runs a backup until `ready`, then stops it as a Lambda deadline does. */
async function stopped(
  root: MemoryStorage,
  opts: { checkpointEveryMs: number; shards?: 1 | 16 },
  ready: () => Promise<boolean> | boolean,
): Promise<{ id: string; snap: Storage; error: VaultError }> {
  const controller = new AbortController();
  const outcome = backupPool(gw, root, {
    userPoolId: POOL,
    shards: opts.shards ?? 1,
    membershipWorkers: 1,
    checkpointEveryMs: opts.checkpointEveryMs,
    signal: controller.signal,
  }).then(
    () => undefined,
    (e: unknown) => e as VaultError,
  );
  await until(ready);
  controller.abort();
  const error = (await outcome) as VaultError;
  expect(error).toBeInstanceOf(InterruptedError);
  expect(error.context.progressMade).toBe(true);
  const id = String(error.context.snapshotId);
  held.clear();
  release();
  newGate();
  return { id, snap: root.child(`${POOL}/${id}`), error };
}

describe('memberships segments: a resume continues per group', () => {
  it('lists only the groups no stored segment holds, and reads the recorded settings not again', async () => {
    const root = new MemoryStorage();
    held.add('g3');
    let snapOf: Storage | undefined;
    const { id, snap } = await stopped(root, { checkpointEveryMs: 0 }, async () => {
      const pools = await keys(root, `${POOL}/`);
      const dir = pools[0]?.split('/').slice(0, 2).join('/');
      snapOf = dir ? root.child(dir) : undefined;
      return snapOf ? (await segments(snapOf)).length === 3 : false;
    });
    // One segment a group (checkpointEveryMs 0), g3 was being listed when the run stopped.
    const stored = await segments(snap);
    expect(stored.map((s) => s.groups)).toEqual([[0], [1], [2]]);
    expect(stored.map((s) => s.file.records)).toEqual([MEMBERS, MEMBERS, MEMBERS]);
    expect(await keys(snap, `${UNITS_DIR}/memberships`)).toEqual([]);
    expect(await keys(snap, `${UNITS_DIR}/resources`)).toHaveLength(1);
    // A planted record claiming g3 whose file is not there, and garbage: neither is taken.
    await snap.put(
      membershipSegmentPath('0000-00-000009'),
      JSON.stringify({
        ...stored[0],
        segment: '0000-00-000009',
        groups: [3],
        file: { ...stored[0]?.file, path: 'memberships/part-00000-s000009.jsonl.gz' },
      }),
    );
    await snap.put(membershipSegmentPath('0000-00-000010'), 'not json');

    mock.resetHistory();
    const r = await backupPool(gw, root, { userPoolId: POOL, resume: id });
    expect(r.snapshotId).toBe(id);
    // g0…g2 were not listed again; g3 and g4 from their first page (two pages each).
    expect(groupCalls()).toEqual({ g3: 2, g4: 2 });
    // The resources unit was recorded: its reads are not made again.
    for (const c of [GetUserPoolMfaConfigCommand, ListUserPoolClientsCommand, ListGroupsCommand])
      expect(mock.commandCalls(c)).toHaveLength(0);
    expect(await storedMemberships(snap)).toEqual(allMemberships());
    expect(r.manifest.counts.memberships).toBe(GROUPS.length * MEMBERS);
    expect(await keys(snap, 'progress/')).toEqual([]);
  });

  it('a stop closes the open segment at its last whole group and stores it', async () => {
    const root = new MemoryStorage();
    held.add('g3');
    // One segment for the whole run (checkpointEveryMs 60 s): only the stop closes it.
    const { id, snap } = await stopped(root, { checkpointEveryMs: 60_000 }, () =>
      mock.commandCalls(ListUsersInGroupCommand).some((c) => c.args[0].input.GroupName === 'g3'),
    );
    const stored = await segments(snap);
    expect(stored.map((s) => [s.progressVersion, s.groups, s.file.records])).toEqual([
      [PROGRESS_VERSION, [0, 1, 2], 3 * MEMBERS],
    ]);
    mock.resetHistory();
    await backupPool(gw, root, { userPoolId: POOL, resume: id });
    expect(groupCalls()).toEqual({ g3: 2, g4: 2 });
    expect(await storedMemberships(snap)).toEqual(allMemberships());
  });

  it('segments listed for other groups are not taken when the groups changed', async () => {
    const root = new MemoryStorage();
    held.add('g3');
    const { id, snap } = await stopped(root, { checkpointEveryMs: 0 }, () =>
      mock.commandCalls(ListUsersInGroupCommand).some((c) => c.args[0].input.GroupName === 'g3'),
    );
    expect((await segments(snap)).length).toBeGreaterThan(0);
    // groups.json gone: the resources are captured again, and the pool's groups are now others.
    await snap.delete('groups.json');
    GROUPS.reverse();
    mock.on(ListGroupsCommand).resolves({ Groups: GROUPS.map((GroupName) => ({ GroupName })) });
    try {
      mock.resetHistory();
      await backupPool(gw, root, { userPoolId: POOL, resume: id });
      expect(groupCalls()).toEqual(Object.fromEntries(GROUPS.map((g) => [g, 2])));
      expect(await storedMemberships(snap)).toEqual(allMemberships());
    } finally {
      GROUPS.reverse();
    }
  });
});

describe('the sharding probe', () => {
  it('takes the first shard page to answer: a slow shard "0" does not hold back the others', async () => {
    const root = new MemoryStorage();
    held.add('0');
    const { snap } = await stopped(root, { checkpointEveryMs: 0, shards: 16 }, async () => {
      const units = (await keys(root)).filter((k) => /\/progress\/units\/users-/.test(k));
      return units.length === 15;
    });
    const units = await keys(snap, `${UNITS_DIR}/users-`);
    expect(units).toHaveLength(15);
    expect(units).not.toContain(`${UNITS_DIR}/users-00000.json`);
  });
});

describe('a stop', () => {
  it('stores the ListUsers page that answered as the stop came', async () => {
    const root = new MemoryStorage();
    const controller = new AbortController();
    // The third page (token "120") answers just after the stop: listed, so stored.
    onListUsers = (token) => {
      if (token === '120') controller.abort();
    };
    const e = await backupPool(gw, root, {
      userPoolId: POOL,
      shards: 1,
      checkpointEveryMs: 60_000,
      signal: controller.signal,
    }).then(
      () => undefined,
      (x: unknown) => x as VaultError,
    );
    expect(e).toBeInstanceOf(InterruptedError);
    const snap = root.child(`${POOL}/${String(e?.context.snapshotId)}`);
    const pageKeys = await keys(snap, `${PAGES_DIR}/`);
    expect(pageKeys).toHaveLength(1);
    const chunks: Buffer[] = [];
    for await (const c of await snap.get(pageKeys[0] ?? ''))
      chunks.push(Buffer.from(c as Uint8Array));
    const record = PageRecord.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    expect([record.pages, record.users, record.nextToken]).toEqual([3, 180, '180']);
  });
});
