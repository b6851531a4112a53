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
  InvalidParameterException,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListTagsForResourceCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  ResourceNotFoundException,
  type ListUsersCommandInput,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupPool, NoProgressError } from '../../src/backup/engine.js';
import { InterruptedError, type VaultError } from '../../src/core/errors.js';
import type { CognitoGateway } from '../../src/cognito/gateway.js';
import { SnapshotReader, UserRecord } from '../../src/snapshot/index.js';
import { PageRecord, PAGES_DIR } from '../../src/snapshot/progress.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitGateway } from '../support/unit-gateway.js';

/**
 * Issue 15.2: progress below the shard. A users shard is stored segment by segment, each with a
 * page record holding the ListUsers token to continue from; a resume continues there (while
 * Cognito takes the token), restarts the shard cleanly when Cognito refuses it, and a run
 * stopped without storing anything can fail loudly (NoProgressError) instead of looping.
 * Cognito is a double on the SDK's middleware stack: ListUsers pages by an offset token, 60
 * users a page, as the SDK's paginator expects (a token on every page but the last).
 */
const POOL = 'us-east-1_CheckpointUnit';
const USERS = 400; // 7 pages of 60 in one chain

let client: CognitoIdentityProviderClient;
let mock: StackMock;
let gw: CognitoGateway;
let users: UserType[];
let listCalls: string[];
/** ListUsers calls whose token is in here wait until `release` (or the run's abort). */
let heldTokens: Set<string>;
let refusedTokens: Set<string>;
let release: () => void;
let released: Promise<void>;
/** ListUserPoolClients hangs until this signal aborts (as the SDK's HTTP handler would end). */
let hangResources: AbortSignal | undefined;

function newGate(): void {
  released = new Promise<void>((r) => {
    release = r;
  });
}

beforeEach(() => {
  ({ client, mock, gw } = unitGateway({ retry: { baseDelayMs: 1, maxDelayMs: 2 } }));
  users = Array.from({ length: USERS }, (_, i) => ({
    Username: `user-${i}`,
    Attributes: [{ Name: 'sub', Value: randomUUID() }],
    Enabled: true,
    UserStatus: 'CONFIRMED',
  }));
  listCalls = [];
  heldTokens = new Set();
  refusedTokens = new Set();
  hangResources = undefined;
  newGate();
  mock.on(DescribeUserPoolCommand).resolves({
    UserPool: { Id: POOL, Name: 'unit', EstimatedNumberOfUsers: USERS },
  });
  mock.on(GetUserPoolMfaConfigCommand).resolves({ MfaConfiguration: 'OFF' });
  mock.on(ListTagsForResourceCommand).resolves({ Tags: {} });
  mock.on(GetUICustomizationCommand).resolves({ UICustomization: {} });
  mock.on(GetLogDeliveryConfigurationCommand).resolves({});
  mock.on(DescribeRiskConfigurationCommand).resolves({ RiskConfiguration: {} });
  mock.on(ListUserPoolClientsCommand).callsFake(async () => {
    const hang = hangResources;
    if (hang)
      await new Promise((_, reject) =>
        hang.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
      );
    return { UserPoolClients: [] };
  });
  mock.on(DescribeUserPoolClientCommand).resolves({});
  mock
    .on(DescribeManagedLoginBrandingByClientCommand)
    .rejects(new ResourceNotFoundException({ message: 'none', $metadata: {} }));
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock.on(ListGroupsCommand).resolves({ Groups: [] });
  mock.on(ListUsersInGroupCommand).resolves({ Users: [] });
  mock.on(ListUsersCommand).callsFake(async (input: ListUsersCommandInput) => {
    const token = input.PaginationToken ?? '';
    listCalls.push(token);
    if (refusedTokens.delete(token)) {
      // Cognito's answer to a pagination token it no longer takes (once: a new chain's is new).
      throw new InvalidParameterException({ message: 'Invalid paging marker', $metadata: {} });
    }
    if (heldTokens.has(token)) await released;
    const start = Number(token || 0);
    const limit = input.Limit ?? 60;
    const next = start + limit < users.length ? String(start + limit) : undefined;
    return { Users: users.slice(start, start + limit), ...(next ? { PaginationToken: next } : {}) };
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

/**
 * A one-chain backup (a segment per page) stopped while its 4th page is held: pages 1–3 are
 * stored, each with its page record.
 */
async function stoppedAfterThreePages(
  root: MemoryStorage,
): Promise<{ id: string; snap: Storage; error: VaultError }> {
  heldTokens.add('180');
  const controller = new AbortController();
  const run = backupPool(gw, root, {
    userPoolId: POOL,
    shards: 1,
    checkpointEveryMs: 0,
    signal: controller.signal,
  });
  const pageRecords = async (): Promise<number> =>
    (await keys(root)).filter((k) => k.includes(`/${PAGES_DIR}/`)).length;
  await until(async () => (await pageRecords()) === 3);
  controller.abort();
  const error = await failure(run);
  heldTokens.clear();
  release();
  newGate();
  const id = String(error.context.snapshotId);
  return { id, snap: root.child(`${POOL}/${id}`), error };
}

describe('resume below the shard (page records)', () => {
  it('stores each segment with a page record, and a resume continues from the last token', async () => {
    const root = new MemoryStorage();
    const { id, snap, error } = await stoppedAfterThreePages(root);
    expect(error).toBeInstanceOf(InterruptedError);
    expect(error.context.progressMade).toBe(true);
    const pages = (await keys(snap)).filter((k) => k.startsWith(`${PAGES_DIR}/`));
    expect(pages).toEqual([
      `${PAGES_DIR}/users-00000/0000-00/000000.json`,
      `${PAGES_DIR}/users-00000/0000-00/000001.json`,
      `${PAGES_DIR}/users-00000/0000-00/000002.json`,
    ]);
    const last = PageRecord.parse(
      JSON.parse(
        Buffer.concat(
          await (
            await snap.get(pages[2] ?? '')
          )
            .toArray()
            .then((c) => c.map((x) => Buffer.from(x))),
        ).toString('utf8'),
      ),
    );
    expect(last).toMatchObject({ seq: 2, users: 180, pages: 3, nextToken: '180' });

    listCalls = [];
    const r = await backupPool(gw, root, { userPoolId: POOL, resume: id, checkpointEveryMs: 0 });
    // Only the pages not stored: from the stored token on, never from the start.
    expect(listCalls).toEqual(['180', '240', '300', '360']);
    expect(r.users).toBe(USERS);
    // Kept: the resources and memberships units; continued: the one users shard.
    expect(r.resumed).toEqual({ count: 1, unitsKept: 2, shardsContinued: 1 });
    const reader = await SnapshotReader.open(snap);
    expect((await reader.verify()).ok).toBe(true);
    expect(reader.manifest.counts.users).toBe(USERS);
    const names = await usernames(snap);
    expect(names).toEqual(allNames());
    // The earlier run's three segments and this run's four, in one unit.
    expect(reader.manifest.files.filter((f) => f.kind === 'users').map((f) => f.path)).toEqual([
      'users/part-00000-r1-s000003.jsonl.gz',
      'users/part-00000-r1-s000004.jsonl.gz',
      'users/part-00000-r1-s000005.jsonl.gz',
      'users/part-00000-r1-s000006.jsonl.gz',
      'users/part-00000-s000001.jsonl.gz',
      'users/part-00000-s000002.jsonl.gz',
      'users/part-00000.jsonl.gz',
    ]);
    expect((await keys(snap)).some((k) => k.startsWith('progress/'))).toBe(false);
  });

  it('a stored token Cognito refuses: the shard is listed again from its start into a clean chain, and says so', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await stoppedAfterThreePages(root);
    refusedTokens.add('180');
    listCalls = [];
    const r = await backupPool(gw, root, { userPoolId: POOL, resume: id, checkpointEveryMs: 0 });
    expect(listCalls).toEqual(['180', '', '60', '120', '180', '240', '300', '360'].map(String));
    expect(r.warnings).toContainEqual(
      expect.objectContaining({ code: 'LISTUSERS_CHAIN_RESTARTED', operation: 'ListUsers' }),
    );
    const names = await usernames(snap);
    expect(names).toEqual(allNames());
    expect(r.users).toBe(USERS);
    const reader = await SnapshotReader.open(snap);
    expect((await reader.verify()).ok).toBe(true);
    const paths = reader.manifest.files.map((f) => f.path);
    // None of the refused chain's segments; they are deleted, not left beside the new ones.
    expect(paths.filter((p) => p.startsWith('users/')).every((p) => p.includes('-r1'))).toBe(true);
    expect(await snap.exists('users/part-00000.jsonl.gz')).toBe(false);
    expect(reader.manifest.warnings.map((w) => w.code)).toContain('LISTUSERS_CHAIN_RESTARTED');
  });

  it('a chain is continued only as far as it links up: a segment gone cuts it there', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await stoppedAfterThreePages(root);
    await snap.delete('users/part-00000-s000001.jsonl.gz');
    listCalls = [];
    await backupPool(gw, root, { userPoolId: POOL, resume: id, checkpointEveryMs: 0 });
    expect(listCalls).toEqual(['60', '120', '180', '240', '300', '360']);
    const names = await usernames(snap);
    expect(names).toEqual(allNames());
    expect((await (await SnapshotReader.open(snap)).verify()).ok).toBe(true);
    // The records past the cut are gone: no later resume could take them up.
    expect(await snap.exists(`${PAGES_DIR}/users-00000/0000-00/000002.json`)).toBe(false);
  });

  it('a page record of another chain (a planted or stale one) is never spliced in', async () => {
    const root = new MemoryStorage();
    const { id, snap } = await stoppedAfterThreePages(root);
    // seq 3 claiming to follow seq 2, but naming another previous segment: not linked.
    const two = JSON.parse(
      Buffer.concat(
        (await (await snap.get(`${PAGES_DIR}/users-00000/0000-00/000002.json`)).toArray()).map(
          (x: Buffer) => Buffer.from(x),
        ),
      ).toString('utf8'),
    ) as PageRecord;
    await snap.put(
      `${PAGES_DIR}/users-00000/0000-00/000003.json`,
      JSON.stringify({ ...two, seq: 3, previous: 'f'.repeat(64), users: 240, nextToken: '360' }),
    );
    listCalls = [];
    await backupPool(gw, root, { userPoolId: POOL, resume: id, checkpointEveryMs: 0 });
    expect(listCalls[0]).toBe('180');
    expect(await usernames(snap)).toEqual(allNames());
  });

  it('stopped without storing anything: InterruptedError says progressMade false, and failWithoutProgress makes it NoProgressError', async () => {
    for (const failWithoutProgress of [false, true]) {
      const root = new MemoryStorage();
      heldTokens.add('');
      const controller = new AbortController();
      hangResources = controller.signal;
      const run = backupPool(gw, root, {
        userPoolId: POOL,
        shards: 1,
        signal: controller.signal,
        failWithoutProgress,
      });
      await until(async () => listCalls.length > 0);
      controller.abort();
      const e = await failure(run);
      release();
      newGate();
      if (failWithoutProgress) {
        expect(e).toBeInstanceOf(NoProgressError);
        expect(e.code).toBe('BACKUP_NO_PROGRESS');
        expect(e.name).toBe('NoProgressError');
      } else {
        expect(e).toBeInstanceOf(InterruptedError);
      }
      expect(e.context.progressMade).toBe(false);
      expect(e.context.snapshotId).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      listCalls = [];
    }
  });

  it('a run that stored a segment made progress, even with failWithoutProgress', async () => {
    const root = new MemoryStorage();
    heldTokens.add('60');
    const controller = new AbortController();
    hangResources = controller.signal;
    const run = backupPool(gw, root, {
      userPoolId: POOL,
      shards: 1,
      checkpointEveryMs: 0,
      signal: controller.signal,
      failWithoutProgress: true,
    });
    await until(async () => (await keys(root)).some((k) => k.includes(`/${PAGES_DIR}/`)));
    controller.abort();
    const e = await failure(run);
    expect(e).toBeInstanceOf(InterruptedError);
    expect(e.context.progressMade).toBe(true);
  });

  it('segments close at a page boundary after checkpointEveryMs: with a long interval, one part per shard', async () => {
    const root = new MemoryStorage();
    const r = await backupPool(gw, root, {
      userPoolId: POOL,
      shards: 1,
      checkpointEveryMs: 60_000,
    });
    expect(r.manifest.files.filter((f) => f.kind === 'users').map((f) => f.path)).toEqual([
      'users/part-00000.jsonl.gz',
    ]);
    expect(listCalls).toHaveLength(7);
  });
});
