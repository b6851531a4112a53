import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
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
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import type { StackMock } from '../support/stack-mock.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { findResumableBackup } from '../../src/backup/resume.js';
import { InterruptedError, type VaultError } from '../../src/core/errors.js';
import { AgeKeyring } from '../../src/snapshot/age.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { acquireLease } from '../../src/snapshot/lease.js';
import {
  MembershipRecord,
  PLAN_FILE,
  prune,
  SnapshotReader,
  UserRecord,
} from '../../src/snapshot/index.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import { unitGateway } from '../support/unit-gateway.js';

const POOL = 'us-east-1_ResumeUnit';

function makeUsers(n: number): UserType[] {
  return Array.from({ length: n }, (_, i) => ({
    Username: `user-${i}`,
    Attributes: [{ Name: 'sub', Value: randomUUID() }],
    Enabled: true,
    UserStatus: 'CONFIRMED',
    UserCreateDate: new Date(1_700_000_000_000 + i),
    UserLastModifiedDate: new Date(1_700_000_000_000 + i),
  }));
}
const subOf = (u: UserType): string => u.Attributes?.find((a) => a.Name === 'sub')?.Value ?? '';

let client: CognitoIdentityProviderClient;
let mock: StackMock;
let gw: CognitoGateway;
let users: UserType[];
/** Shards whose ListUsers calls wait until `release` (or until the test's abort). */
let held: Set<string>;
let release: () => void;
let released: Promise<void>;
let listCalls: string[];

function newGate(): void {
  released = new Promise<void>((r) => {
    release = r;
  });
}

beforeEach(() => {
  ({ client, mock, gw } = unitGateway({ retry: { baseDelayMs: 1, maxDelayMs: 2 } }));
  users = makeUsers(400);
  held = new Set();
  listCalls = [];
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
  mock.on(DescribeUserPoolClientCommand).callsFake(async () => ({
    UserPoolClient: { ClientId: 'c1', ClientName: 'm' },
  }));
  mock
    .on(DescribeManagedLoginBrandingByClientCommand)
    .rejects(new ResourceNotFoundException({ message: 'none', $metadata: {} }));
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
  mock.on(DescribeIdentityProviderCommand).resolves({});
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock
    .on(ListGroupsCommand)
    .resolves({ Groups: [{ GroupName: 'everyone' }, { GroupName: 'admins' }] });
  mock.on(ListUsersInGroupCommand).callsFake(async (input: ListUsersInGroupCommandInput) => ({
    Users: input.GroupName === 'everyone' ? users.slice(0, 70) : users.slice(0, 2),
  }));
  mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
    const prefix = input.Filter ? (/"(.*)"/.exec(input.Filter)?.[1] ?? '') : '';
    listCalls.push(`${prefix}:${input.PaginationToken ?? ''}`);
    if (held.has(prefix)) await released;
    const matching = users.filter((u) => subOf(u).startsWith(prefix));
    const start = Number(input.PaginationToken ?? 0);
    const limit = input.Limit ?? 60;
    const next = start + limit < matching.length ? String(start + limit) : undefined;
    return {
      Users: matching.slice(start, start + limit),
      ...(next ? { PaginationToken: next } : {}),
    };
  });
});

afterEach(() => {
  release();
  mock.restore();
  client.destroy();
});

async function keys(s: Storage): Promise<string[]> {
  const out: string[] = [];
  for await (const e of s.list()) out.push(e.key);
  return out.sort();
}

async function until(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Starts a 16-shard backup whose shards 8…f hang, waits until every other unit is recorded,
 * then aborts it as the CLI's SIGTERM or the Lambda's deadline does.
 */
async function interrupted(root: MemoryStorage): Promise<{ id: string; snap: Storage }> {
  for (const p of '89abcdef') held.add(p);
  const controller = new AbortController();
  const run = backupPool(gw, root, { userPoolId: POOL, shards: 16, signal: controller.signal });
  const outcome = run.then(
    () => undefined,
    (e: unknown) => e,
  );
  const recorded = async (): Promise<number> =>
    (await keys(root)).filter((k) => k.includes('/progress/units/')).length;
  // 8 users shards (0…7), resources, memberships.
  await until(async () => (await recorded()) === 10);
  controller.abort();
  const e = (await outcome) as VaultError;
  expect(e).toBeInstanceOf(InterruptedError);
  const id = String(e.context.snapshotId);
  expect(id).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  held.clear();
  release();
  newGate();
  return { id, snap: root.child(`${POOL}/${id}`) };
}

async function usernames(snap: Storage): Promise<string[]> {
  const out: string[] = [];
  for await (const u of (await SnapshotReader.open(snap)).records('users', UserRecord))
    out.push(u.Username);
  return out.sort();
}

const allNames = (): string[] => users.map((u) => u.Username ?? '').sort();

async function failure(p: Promise<unknown>): Promise<VaultError> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as VaultError,
  );
}

describe('backup --resume', () => {
  it('an interrupted backup leaves completion records and InterruptedError { snapshotId }; the resume runs only unfinished shards and verifies', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await interrupted(root);
    const before = await keys(snap);
    expect(before).not.toContain('manifest.json');
    expect(before).toContain(PLAN_FILE);
    expect(before.filter((k) => k.startsWith('locks/'))).toEqual([]);
    expect(await findResumableBackup(root, POOL)).toBe(id);

    listCalls = [];
    const r = await backupPool(gw, root, { userPoolId: POOL, resume: id });
    expect(r.snapshotId).toBe(id);
    expect(r.resumed).toEqual({ count: 1, unitsKept: 10 });
    // Only shards 8…f were listed again, each from its first page (no old token reused).
    const shardsListed = new Set(listCalls.map((c) => c.split(':')[0]));
    expect([...shardsListed].sort()).toEqual('89abcdef'.split(''));
    for (const p of '89abcdef') expect(listCalls).toContain(`${p}:`);
    expect(mock.commandCalls(ListUsersInGroupCommand)).toHaveLength(2); // first run only

    const reader = await SnapshotReader.open(snap);
    expect((await reader.verify()).ok).toBe(true);
    expect(reader.manifest.resumes).toHaveLength(1);
    expect(reader.manifest.resumes?.[0]).toMatchObject({ unitsKept: 10, unitsRedone: 0 });
    expect(reader.manifest.startedAt).toBe(r.manifest.startedAt);
    expect(await usernames(snap)).toEqual(allNames());
    expect(reader.manifest.counts.users).toBe(users.length);
    expect(reader.manifest.counts.memberships).toBe(72);
    const paths = reader.manifest.files.map((f) => f.path);
    expect(paths).toContain('users/part-00000.jsonl.gz');
    expect(paths).toContain('users/part-00008-r1.jsonl.gz');
    expect(paths).not.toContain('users/part-00008.jsonl.gz');
    // Complete: the records are gone, and nothing is left to resume.
    expect((await keys(snap)).some((k) => k.startsWith('progress/'))).toBe(false);
    expect(await findResumableBackup(root, POOL)).toBeUndefined();
  });

  it('a record whose file vanished (or changed size) is redone under a new part name', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await interrupted(root);
    await snap.delete('users/part-00002.jsonl.gz');
    await snap.put('users/part-00005.jsonl.gz', 'short');
    listCalls = [];
    const r = await backupPool(gw, root, { userPoolId: POOL, resume: id });
    expect(new Set(listCalls.map((c) => c.split(':')[0]))).toEqual(new Set('2589abcdef'));
    const reader = await SnapshotReader.open(snap);
    expect((await reader.verify()).ok).toBe(true);
    expect(reader.manifest.resumes?.[0]).toMatchObject({ unitsKept: 8, unitsRedone: 2 });
    const paths = reader.manifest.files.map((f) => f.path);
    expect(paths).toContain('users/part-00002-r1.jsonl.gz');
    expect(paths).toContain('users/part-00005-r1.jsonl.gz');
    expect(paths).not.toContain('users/part-00005.jsonl.gz');
    // The damaged old part is removed, not left beside the new one.
    expect(await snap.exists('users/part-00005.jsonl.gz')).toBe(false);
    expect(await usernames(snap)).toEqual(allNames());
    expect(r.users).toBe(users.length);
  });

  it('no duplicate users when a shard restarted: an unrecorded part of the killed run never mixes in', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await interrupted(root);
    // The killed run had written shard 9's part but died before its record (and left a
    // .partial- file of another): both are leftovers, never part of the snapshot.
    // No manifest yet: the reader refuses it as incomplete (and for no other reason).
    await expect(SnapshotReader.open(snap)).rejects.toThrow(
      /incomplete snapshot: it has no manifest/,
    );
    const stale = users.filter((u) => subOf(u).startsWith('9'));
    const { gzipJsonLines } = await import('../../src/snapshot/index.js');
    await snap.put(
      'users/part-00009.jsonl.gz',
      gzipJsonLines(
        stale.map((u) => ({ Username: u.Username })),
        { records: 0 },
      ),
    );
    await snap.put('users/part-00010.jsonl.gz.partial-0badf00d', 'half');
    await backupPool(gw, root, { userPoolId: POOL, resume: id });
    const names = await usernames(snap);
    expect(names).toEqual(allNames());
    expect(new Set(names).size).toBe(names.length);
    const k = await keys(snap);
    expect(k).not.toContain('users/part-00009.jsonl.gz');
    expect(k.some((x) => x.includes('.partial-'))).toBe(false);
  });

  it('a resume interrupted again resumes again; the manifest counts every resume', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await interrupted(root);
    held.add('f');
    const controller = new AbortController();
    const second = backupPool(gw, root, {
      userPoolId: POOL,
      resume: id,
      signal: controller.signal,
    });
    await until(
      async () => (await keys(snap)).filter((x) => x.startsWith('progress/units/')).length === 17,
    );
    controller.abort();
    const e = await failure(second);
    expect(e.code).toBe('INTERRUPTED');
    expect(e.context.snapshotId).toBe(id);
    held.clear();
    release();
    listCalls = [];
    const r = await backupPool(gw, root, { userPoolId: POOL, resume: id });
    expect(new Set(listCalls.map((c) => c.split(':')[0]))).toEqual(new Set(['f']));
    expect(r.resumed?.count).toBe(2);
    const reader = await SnapshotReader.open(snap);
    expect((await reader.verify()).ok).toBe(true);
    expect(reader.manifest.resumes).toHaveLength(2);
    expect(reader.manifest.files.map((f) => f.path)).toContain('users/part-00015-r2.jsonl.gz');
    expect(await usernames(snap)).toEqual(allNames());
  });

  it('memberships recorded against resources that must be redone are redone too', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await interrupted(root);
    await snap.delete('groups.json');
    mock.on(ListGroupsCommand).resolves({ Groups: [{ GroupName: 'everyone' }] });
    await backupPool(gw, root, { userPoolId: POOL, resume: id });
    const reader = await SnapshotReader.open(snap);
    expect((await reader.verify()).ok).toBe(true);
    const groups = new Set<string>();
    for await (const m of reader.records('memberships', MembershipRecord)) groups.add(m.group);
    expect([...groups]).toEqual(['everyone']);
    expect(reader.manifest.counts.memberships).toBe(70);
  });

  it('refuses a complete snapshot (exit 2), another pool (exit 2), a bad id (exit 2)', async () => {
    const root = new MemoryStorage();
    const done = await backupPool(gw, root, { userPoolId: POOL, shards: 1 });
    const e1 = await failure(backupPool(gw, root, { userPoolId: POOL, resume: done.snapshotId }));
    expect([e1.code, e1.exitCode]).toEqual(['SNAPSHOT_COMPLETE', 2]);
    const { id, snap } = await interrupted(root);
    // The same directory under another pool: its plan names the pool it belongs to.
    const other = 'us-east-1_OtherPool';
    for (const k of await keys(snap)) {
      const chunks: Buffer[] = [];
      for await (const c of await snap.get(k)) chunks.push(Buffer.from(c as Buffer));
      await root.child(`${other}/${id}`).put(k, Buffer.concat(chunks));
    }
    mock.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: other, Name: 'other' } });
    const e2 = await failure(backupPool(gw, root, { userPoolId: other, resume: id }));
    expect([e2.code, e2.exitCode]).toEqual(['SNAPSHOT_OTHER_POOL', 2]);
    const e3 = await failure(
      backupPool(gw, root, { userPoolId: other, resume: '2020-01-01T00-00-00-000Z' }),
    );
    expect([e3.code, e3.exitCode]).toEqual(['SNAPSHOT_NOT_FOUND', 2]);
    // Not under this pool but under another one: said so.
    const e5 = await failure(
      backupPool(gw, root, { userPoolId: 'us-east-1_ThirdPool', resume: id }),
    );
    expect([e5.code, e5.exitCode]).toEqual(['SNAPSHOT_OTHER_POOL', 2]);
    expect(e5.message).toMatch(
      /is one of pool us-east-1_(ResumeUnit|OtherPool), not us-east-1_ThirdPool/,
    );
    const e4 = await failure(backupPool(gw, root, { userPoolId: other, resume: '../x' }));
    expect([e4.code, e4.exitCode]).toEqual(['BAD_SNAPSHOT_ID', 2]);
  });

  it('refuses progress records of a newer version (exit 3) and a snapshot without records (exit 3)', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await interrupted(root);
    const chunks: Buffer[] = [];
    for await (const c of await snap.get(PLAN_FILE)) chunks.push(Buffer.from(c as Buffer));
    const plan = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
    await snap.put(PLAN_FILE, JSON.stringify({ ...plan, progressVersion: 2 }));
    const e1 = await failure(backupPool(gw, root, { userPoolId: POOL, resume: id }));
    expect([e1.code, e1.exitCode]).toEqual(['UNKNOWN_FORMAT', 3]);
    expect(await findResumableBackup(root, POOL)).toBeUndefined();
    await snap.delete(PLAN_FILE);
    const e2 = await failure(backupPool(gw, root, { userPoolId: POOL, resume: id }));
    expect([e2.code, e2.exitCode]).toEqual(['NOT_RESUMABLE', 3]);
    // Nothing was written by the refused resumes (no lease left behind either).
    expect((await keys(snap)).some((k) => k.startsWith('locks/'))).toBe(false);
  });

  it('refuses a snapshot leased by a live backup (exit 8); findResumableBackup skips it', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await interrupted(root);
    const lease = await acquireLease(snap, 'backup');
    try {
      const e = await failure(backupPool(gw, root, { userPoolId: POOL, resume: id }));
      expect([e.code, e.exitCode]).toEqual(['SNAPSHOT_IN_USE', 8]);
      expect(await findResumableBackup(root, POOL)).toBeUndefined();
    } finally {
      await lease.release();
    }
    expect(await findResumableBackup(root, POOL)).toBe(id);
    // The lease of a killed run on this machine (its process is gone) neither blocks the
    // resume nor survives it.
    const t = new Date();
    const stale = {
      kind: 'backup',
      host: hostname(),
      pid: 99_999_999, // above any pid_max: no such process
      bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      pidNamespace: readlinkSync('/proc/self/ns/pid'),
      createdAt: t.toISOString(),
      refreshedAt: t.toISOString(),
      expiresAt: new Date(t.getTime() + 1_800_000).toISOString(),
    };
    await snap.put('locks/backup-00000000000000aa.json', JSON.stringify(stale));
    await backupPool(gw, root, { userPoolId: POOL, resume: id });
    expect((await keys(snap)).filter((k) => k.startsWith('locks/'))).toEqual([]);
  });

  it('an encrypted backup resumes to the same recipients (others refused) and decrypts whole', async () => {
    const identity = await generateX25519Identity();
    const recipient = await identityToRecipient(identity);
    const other = await identityToRecipient(await generateX25519Identity());
    const root = new MemoryStorage();
    for (const p of '89abcdef') held.add(p);
    const controller = new AbortController();
    const first = backupPool(gw, root, {
      userPoolId: POOL,
      shards: 16,
      encryptTo: [recipient],
      signal: controller.signal,
    }).then(
      () => undefined,
      (e: unknown) => e as VaultError,
    );
    await until(
      async () => (await keys(root)).filter((k) => k.includes('/progress/units/')).length === 10,
    );
    controller.abort();
    const id = String((await first)?.context.snapshotId);
    held.clear();
    release();
    newGate();
    const e = await failure(
      backupPool(gw, root, { userPoolId: POOL, resume: id, encryptTo: [other] }),
    );
    expect(e.code).toBe('RESUME_OPTIONS_DIFFER');
    expect(await findResumableBackup(root, POOL, { encryptTo: [] })).toBeUndefined();
    expect(await findResumableBackup(root, POOL, { encryptTo: [recipient] })).toBe(id);
    const r = await backupPool(gw, root, { userPoolId: POOL, resume: id });
    expect(r.manifest.encryption?.recipients).toEqual([recipient]);
    const snap = root.child(`${POOL}/${id}`);
    const reader = await SnapshotReader.open(snap, {
      keyring: await AgeKeyring.fromKeys([identity], 'test-keys'),
    });
    expect((await reader.verify()).ok).toBe(true);
    const names: string[] = [];
    for await (const u of reader.records('users', UserRecord)) names.push(u.Username);
    expect(names.sort()).toEqual(allNames());
  });

  it('refuses options other than those the snapshot started with', async () => {
    const root = new MemoryStorage();
    const { id } = await interrupted(root);
    const e = await failure(
      backupPool(gw, root, { userPoolId: POOL, resume: id, includeSecrets: true }),
    );
    expect([e.code, e.exitCode]).toEqual(['RESUME_OPTIONS_DIFFER', 2]);
    const e2 = await failure(backupPool(gw, root, { userPoolId: POOL, resume: id, shards: 256 }));
    expect(e2.code).toBe('RESUME_OPTIONS_DIFFER');
    expect(await findResumableBackup(root, POOL, { includeSecrets: true })).toBeUndefined();
    expect(await findResumableBackup(root, POOL, { includeSecrets: false })).toBe(id);
  });

  it('findResumableBackup: the newest resumable one, within maxAge', async () => {
    const root = new MemoryStorage();
    const { id } = await interrupted(root);
    const started = Date.parse(
      id.replace(/^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/, '$1T$2:$3:$4.$5Z'),
    );
    const at = new Date(started + 3_600_000);
    expect(await findResumableBackup(root, POOL, { maxAgeMs: 2 * 3_600_000, now: at })).toBe(id);
    expect(await findResumableBackup(root, POOL, { maxAgeMs: 1_800_000, now: at })).toBeUndefined();
    // A newer complete snapshot does not hide it; a newer interrupted one is preferred.
    await backupPool(gw, root, { userPoolId: POOL, shards: 1 });
    expect(await findResumableBackup(root, POOL)).toBe(id);
    const second = await interrupted(root);
    expect(await findResumableBackup(root, POOL)).toBe(second.id);
    expect(await findResumableBackup(root, 'us-east-1_Nobody')).toBeUndefined();
  });

  it('prune keeps a snapshot being resumed (live lease) and never counts it as complete', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await interrupted(root);
    held.add('a');
    const resuming = backupPool(gw, root, { userPoolId: POOL, resume: id });
    await until(
      async () =>
        listCalls.includes('a:') && (await keys(snap)).some((k) => k.startsWith('locks/')),
    );
    // Eight days later by prune's clock: past the grace period, yet the lease holds it.
    const later = new Date(Date.now() + 8 * 86_400_000);
    const r = await prune(root, { keepLast: 1 }, { userPoolId: POOL, now: () => later });
    const d = r.decisions.find((x) => x.snapshotId === id);
    expect(d).toMatchObject({ keep: true, complete: false, reasons: ['in-use'] });
    expect(await snap.exists(PLAN_FILE)).toBe(true);
    release();
    await resuming;
    expect((await (await SnapshotReader.open(snap)).verify()).ok).toBe(true);
  });
});
