import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { renderOptionNames } from '../../src/cli/option-flags.js';
import { attributeRevert } from '../../src/restore/selective/compare.js';
import { PlanBuilder, type UserWork } from '../../src/restore/selective/plan.js';
import {
  readUsersFrom,
  resolveSelection,
  selectorName,
} from '../../src/restore/selective/selection.js';
import { chooseLatest } from '../../src/snapshot/choose.js';
import {
  ERASURE_LEDGER_FILE,
  ErasureLedger,
  poolDirOf,
} from '../../src/snapshot/erasure-ledger.js';
import type { UserRecord } from '../../src/snapshot/format.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { tinySnapshot } from '../support/tiny-snapshot.js';

const user = (attrs: Record<string, string>, over: Partial<UserRecord> = {}): UserRecord =>
  ({
    Username: 'alice',
    Enabled: true,
    UserStatus: 'CONFIRMED',
    Attributes: Object.entries(attrs).map(([Name, Value]) => ({ Name, Value })),
    ...over,
  }) as UserRecord;

const live = (attrs: Record<string, string>) => ({
  Username: 'alice',
  Attributes: Object.entries(attrs).map(([Name, Value]) => ({ Name, Value })),
});

const SCHEMA = new Map([
  ['custom:plan', { Name: 'custom:plan', Mutable: true }],
  ['custom:fixed', { Name: 'custom:fixed', Mutable: false }],
  ['name', { Name: 'name', Required: true, Mutable: true }],
]);

describe('attributeRevert', () => {
  it('writes only what differs; never sub, identities or cognito:*; removes what was added', () => {
    const r = attributeRevert(
      user({ sub: 'old', 'custom:plan': 'pro', name: 'A', identities: '[]' }),
      live({
        sub: 'new',
        'custom:plan': 'free',
        name: 'A',
        'custom:extra': 'x',
        'cognito:mfa_enabled': '1',
      }),
      SCHEMA,
      new Set(),
    );
    expect(r.set).toEqual([{ Name: 'custom:plan', Value: 'pro' }]);
    expect(r.remove).toEqual(['custom:extra']);
    expect(r.differing).toEqual(['custom:extra', 'custom:plan']);
    expect(r.unwritable).toEqual([]);
  });

  it('reports immutable and required attributes instead of writing them', () => {
    const r = attributeRevert(
      user({ 'custom:fixed': 'a' }),
      live({ 'custom:fixed': 'b', name: 'added' }),
      SCHEMA,
      new Set(),
    );
    expect(r.set).toEqual([]);
    expect(r.remove).toEqual([]);
    expect(r.unwritable.sort()).toEqual(['custom:fixed', 'name']);
  });

  it('an email goes back with its verified flag in the same call (no verification message)', () => {
    const r = attributeRevert(
      user({ email: 'a@example.com', email_verified: 'true' }),
      live({ email: 'b@example.com', email_verified: 'true' }),
      SCHEMA,
      new Set(['email']),
    );
    expect(r.set).toEqual([
      { Name: 'email', Value: 'a@example.com' },
      { Name: 'email_verified', Value: 'true' },
    ]);
    expect(r.refused).toEqual([]);
  });

  it('an unverified email in a pool that verifies emails is refused: Cognito would send a code', () => {
    const r = attributeRevert(
      user({ email: 'a@example.com', email_verified: 'false', phone_number: '+15550000001' }),
      live({ email: 'b@example.com', email_verified: 'true', phone_number: '+15550000002' }),
      SCHEMA,
      new Set(['email', 'phone_number']),
    );
    expect(r.refused.sort()).toEqual(['email', 'phone_number']);
    expect(r.set.map((a) => a.Name)).toEqual(['email_verified']);
  });

  it('an unverified email in a pool that does not verify it goes back with email_verified false', () => {
    const r = attributeRevert(
      user({ email: 'a@example.com' }),
      live({ email: 'b@example.com', email_verified: 'true' }),
      SCHEMA,
      new Set(),
    );
    expect(r.set).toEqual([
      { Name: 'email', Value: 'a@example.com' },
      { Name: 'email_verified', Value: 'false' },
    ]);
    expect(r.remove).toEqual([]);
  });
});

describe('selection', () => {
  it('--users-from: plain names, comments, and diff --details lines (never users only in the pool)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cv-sel-'));
    const f = path.join(dir, 'u.txt');
    await writeFile(
      f,
      [
        '# incident',
        'alice',
        '',
        JSON.stringify({ kind: 'user', key: 'bob', class: 'attributes', message: 'x' }),
        JSON.stringify({ kind: 'user', key: 'carol', only: 'A', message: 'x' }),
        JSON.stringify({ kind: 'user', key: 'mallory', only: 'B', message: 'x' }),
        JSON.stringify({ kind: 'group', key: 'admins', message: 'x' }),
      ].join('\n'),
    );
    expect([...(await readUsersFrom(f, 0))]).toEqual(['alice', 'bob', 'carol']);
  });

  it('a bad line names the selector and the line number, never the content', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cv-sel-'));
    const f = path.join(dir, 'u.jsonl');
    await writeFile(f, 'alice\n{"kind": secret-value\n');
    const e = await readUsersFrom(f, 1).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).message).toBe('`selection.usersFrom` (2nd): line 2 is not JSON');
    const missing = await readUsersFrom(path.join(dir, 'nope'), 0).catch((x: unknown) => x);
    expect((missing as UsageError).code).toBe('BAD_USERS_FROM');
  });

  it('selectors are named by option and position (the CLI prints the flag)', async () => {
    expect(selectorName('users', 0)).toBe('`selection.users` (1st)');
    expect(renderOptionNames(selectorName('users', 0))).toBe('--user (1st)');
    expect(renderOptionNames(selectorName('groups', 10))).toBe('--group (11th)');
    expect(renderOptionNames(selectorName('clients', 21))).toBe('--client (22nd)');
    expect(renderOptionNames(selectorName('identityProviders', 2))).toBe(
      '--identity-provider (3rd)',
    );
    const r = await resolveSelection({ users: ['a', 'b', 'a'], groups: ['g', 'g'] });
    expect([...r.explicitUsers.keys()]).toEqual(['a', 'b']);
    expect(r.groups).toEqual(['g']);
    expect(r.narrowing).toBe(false);
  });
});

describe('plan hash', () => {
  const work = (over: Partial<UserWork> = {}): UserWork => ({
    username: 'alice',
    action: 'revert',
    target: 'alice',
    attrs: {
      set: [{ Name: 'custom:plan', Value: 'pro' }],
      remove: [],
      unwritable: [],
      refused: [],
      differing: ['custom:plan'],
    },
    addGroups: [],
    removeGroups: [],
    groups: [],
    ...over,
  });
  const hash = (w: UserWork, liveValue: string, existing: 'skip' | 'revert' = 'revert') => {
    const b = new PlanBuilder(existing);
    b.resource({ kind: 'group', name: 'admins', action: 'create', fields: [] });
    b.user(w, { Username: 'alice', Attributes: [{ Name: 'custom:plan', Value: liveValue }] });
    return b.digest();
  };

  it('is the same for the same plan and pool, and changes with the pool, the action or the mode', () => {
    const h = hash(work(), 'free');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(hash(work(), 'free')).toBe(h);
    expect(hash(work(), 'basic')).not.toBe(h);
    expect(hash(work({ action: 'skip' }), 'free')).not.toBe(h);
    expect(hash(work(), 'free', 'skip')).not.toBe(h);
    expect(hash(work({ enable: false }), 'free')).not.toBe(h);
  });
});

describe('--from latest', () => {
  it('picks the newest complete snapshot (before a time); never an incomplete or unreadable one', async () => {
    const root = new MemoryStorage();
    const pool = 'us-east-1_Abc';
    const old = await tinySnapshot(root, pool, '2026-11-30T10:00:00.000Z');
    const mid = await tinySnapshot(root, pool, '2026-12-01T09:00:00.000Z');
    await tinySnapshot(root, pool, '2026-12-02T09:00:00.000Z', false);
    const broken = await tinySnapshot(root, pool, '2026-12-03T09:00:00.000Z');
    await root.put(`${broken}/manifest.json`, '{not json');
    await tinySnapshot(root, 'us-east-1_Other', '2026-12-04T09:00:00.000Z');
    const latest = await chooseLatest(root, pool);
    expect(latest.path).toBe(mid);
    expect(latest.passedOver).toEqual({ incomplete: 1, unreadable: 1, after: 0 });
    expect((await chooseLatest(root, pool, new Date('2026-12-01T09:00:00.000Z'))).path).toBe(old);
    const none = await chooseLatest(root, pool, new Date('2026-01-01T00:00:00Z')).catch(
      (e: unknown) => e,
    );
    expect((none as UsageError).code).toBe('NO_SNAPSHOT');
  });
});

describe('erasure ledger', () => {
  it('records hashes only, and recognises a user by username or sub', async () => {
    const dir = new MemoryStorage().child('us-east-1_Abc');
    const ledger = await ErasureLedger.read(dir, 'us-east-1_Abc');
    expect(ledger.size).toBe(0);
    await ledger.record('username', 'alice@example.com', new Date('2026-12-07T00:00:00Z'));
    await ledger.record('sub', '1111-2222', new Date('2026-12-07T00:00:00Z'));
    expect(await ledger.record('sub', '1111-2222', new Date())).toBe(false);
    let text = '';
    for await (const c of await dir.get(ERASURE_LEDGER_FILE)) text += String(c);
    expect(text).not.toContain('alice');
    expect(text).not.toContain('1111');
    const again = await ErasureLedger.read(dir, 'us-east-1_Abc');
    expect(again.size).toBe(2);
    expect(again.has('alice@example.com', undefined)).toBe(true);
    expect(again.has('someone-else', '1111-2222')).toBe(true);
    expect(again.has('bob', 'x')).toBe(false);
    expect(again.erasedSeen).toBe(2);
    // Another pool's ledger does not match the same names.
    const other = await ErasureLedger.read(dir, 'us-east-1_Zzz');
    expect(other.has('alice@example.com', undefined)).toBe(false);
  });

  it('finds the pool directory of a snapshot location', () => {
    expect(poolDirOf('/b/us-east-1_Abc/2026-12-01T09-00-00-000Z')).toEqual({
      dir: '/b/us-east-1_Abc',
      userPoolId: 'us-east-1_Abc',
    });
    expect(poolDirOf('s3://bk/pre/us-east-1_Abc/2026-12-01T09-00-00-000Z/')).toEqual({
      dir: 's3://bk/pre/us-east-1_Abc',
      userPoolId: 'us-east-1_Abc',
    });
    expect(poolDirOf('/copied/snapshot')).toBeUndefined();
  });
});
