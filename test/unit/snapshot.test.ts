import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SnapshotInvalidError } from '../../src/core/errors.js';
import {
  FILES,
  FORMAT_VERSION_PLAIN,
  GroupRecord,
  listSnapshots,
  MANIFEST_FILE,
  MembershipRecord,
  newSnapshotId,
  parseManifest,
  partPath,
  PART_DIRS,
  SnapshotReader,
  SnapshotWriter,
  UserRecord,
  type ManifestDraft,
} from '../../src/snapshot/index.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

const NAMES = ['José Núñez', 'Zoë Müller', '山田 太郎', 'Ольга Иванова', 'O’Brien', '🙂 emoji'];

function user(i: number): UserRecord {
  return {
    Username: `user-${String(i).padStart(6, '0')}`,
    Attributes: [
      { Name: 'sub', Value: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` },
      { Name: 'name', Value: NAMES[i % NAMES.length] ?? '' },
      { Name: 'custom:tier', Value: 'bronze, plus "quoted"\nnewline' },
    ],
    UserCreateDate: new Date('2026-01-01T00:00:00.000Z'),
    UserLastModifiedDate: new Date('2026-01-02T00:00:00.000Z'),
    Enabled: i % 13 !== 5,
    UserStatus: 'CONFIRMED',
    MFAOptions: [],
  };
}

function draft(counts: Partial<ManifestDraft['counts']> = {}): ManifestDraft {
  return manifestDraft({
    snapshotId: '2026-01-01T00-00-00-000Z',
    userPool: { id: 'us-east-1_Test', name: 'pöol' },
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    counts,
    options: { sharding: { mode: 'sub-prefix', shards: 2 } },
  });
}

const USERS_A = 3000;
const USERS_B = 1234;

/** A complete snapshot in memory: 2 user parts (4,234 users), 1 membership part, JSON docs. */
async function writeSample(): Promise<{ root: MemoryStorage; snap: MemoryStorage }> {
  const root = new MemoryStorage();
  const snap = root.child('us-east-1_Test/2026-01-01T00-00-00-000Z') as MemoryStorage;
  const w = new SnapshotWriter(snap);
  const groups = [
    { GroupName: 'everyone', Description: 'Ünïcode — group', Precedence: 0 },
    { GroupName: 'admins', RoleArn: 'arn:aws:iam::123456789012:role/admins' },
  ];
  await w.writeJson(FILES.pool, 'pool', { userPool: { Id: 'us-east-1_Test', Name: 'pöol' } }, 1);
  await w.writeJson(FILES.groups, 'groups', groups, groups.length);
  // The other required documents (a snapshot lacking one is not structurally complete).
  await w.writeJson(FILES.clients, 'clients', [], 0);
  await w.writeJson(FILES.identityProviders, 'identityProviders', [], 0);
  await w.writeJson(FILES.resourceServers, 'resourceServers', [], 0);
  async function* gen(from: number, n: number): AsyncGenerator<UserRecord> {
    for (let i = from; i < from + n; i++) yield user(i);
  }
  await Promise.all([
    w.writeJsonLines(partPath(PART_DIRS.users, 0), 'users', gen(0, USERS_A)),
    w.writeJsonLines(partPath(PART_DIRS.users, 1), 'users', gen(USERS_A, USERS_B)),
    w.writeJsonLines(partPath(PART_DIRS.memberships, 0), 'memberships', [
      { group: 'everyone', username: 'user-000001' },
      { group: 'admins', username: 'user-000002' },
      { group: 'everyone', username: 'user-000002' },
    ]),
  ]);
  await w.commit(draft({ users: USERS_A + USERS_B, groups: 2, memberships: 3 }));
  return { root, snap };
}

async function verifyProblems(snap: MemoryStorage): Promise<string[]> {
  return (await (await SnapshotReader.open(snap)).verify()).problems;
}

async function openError(snap: MemoryStorage): Promise<SnapshotInvalidError> {
  const e = await SnapshotReader.open(snap).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SnapshotInvalidError);
  return e as SnapshotInvalidError;
}

function setManifest(snap: MemoryStorage, value: unknown): Promise<void> {
  return snap.put(MANIFEST_FILE, typeof value === 'string' ? value : JSON.stringify(value));
}

function manifestOf(snap: MemoryStorage): Record<string, unknown> {
  return JSON.parse(snap.bytes(MANIFEST_FILE)?.toString('utf8') ?? '') as Record<string, unknown>;
}

describe('SnapshotWriter → SnapshotReader round trip (MemoryStorage)', () => {
  it('reads back every record, unicode intact, in part order', async () => {
    const { snap } = await writeSample();
    const r = await SnapshotReader.open(snap);
    const users: UserRecord[] = [];
    for await (const u of r.records('users', UserRecord)) users.push(u);
    expect(users).toHaveLength(USERS_A + USERS_B);
    expect(users).toEqual(Array.from({ length: USERS_A + USERS_B }, (_, i) => user(i)));
    expect(users.map((u) => u.Attributes[1]?.Value)).toContain('山田 太郎');
    expect(users.map((u) => u.Attributes[1]?.Value)).toContain('🙂 emoji');

    const members: MembershipRecord[] = [];
    for await (const m of r.records('memberships', MembershipRecord)) members.push(m);
    expect(members).toEqual([
      { group: 'everyone', username: 'user-000001' },
      { group: 'admins', username: 'user-000002' },
      { group: 'everyone', username: 'user-000002' },
    ]);
    const groups = await r.readJson('groups', GroupRecord.array());
    expect(groups[0]).toEqual({
      GroupName: 'everyone',
      Description: 'Ünïcode — group',
      Precedence: 0,
    });
  });

  it('writes a manifest with format version, counts, and per-file bytes/sha256/records', async () => {
    const { snap } = await writeSample();
    const m = (await SnapshotReader.open(snap)).manifest;
    // Unencrypted snapshots stay version 1: readers that know only 1 read them.
    expect(m.formatVersion).toBe(FORMAT_VERSION_PLAIN);
    expect(m.counts).toMatchObject({ users: USERS_A + USERS_B, groups: 2, memberships: 3 });
    expect(m.files.map((f) => f.path)).toEqual([
      'clients.json',
      'groups.json',
      'identity-providers.json',
      'memberships/part-00000.jsonl.gz',
      'pool.json',
      'resource-servers.json',
      'users/part-00000.jsonl.gz',
      'users/part-00001.jsonl.gz',
    ]);
    for (const f of m.files) {
      const raw = snap.bytes(f.path);
      expect(raw, f.path).toBeDefined();
      expect(f.bytes, f.path).toBe(raw?.length);
      expect(f.sha256, f.path).toBe(
        createHash('sha256')
          .update(raw ?? '')
          .digest('hex'),
      );
    }
    const byPath = new Map(m.files.map((f) => [f.path, f]));
    expect(byPath.get('users/part-00000.jsonl.gz')).toMatchObject({
      kind: 'users',
      encoding: 'jsonl+gzip',
      records: USERS_A,
    });
    expect(byPath.get('users/part-00001.jsonl.gz')?.records).toBe(USERS_B);
    expect(byPath.get('groups.json')).toMatchObject({ encoding: 'json', records: 2 });
    // Parts really are gzip'd JSON Lines, one record per line.
    const text = gunzipSync(snap.bytes('users/part-00001.jsonl.gz') ?? Buffer.alloc(0)).toString();
    const lines = text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(USERS_B);
    expect(JSON.parse(lines[0] ?? '')).toEqual(JSON.parse(JSON.stringify(user(USERS_A))));
  });

  it('verifies clean', async () => {
    const { snap } = await writeSample();
    const v = await (await SnapshotReader.open(snap)).verify();
    expect(v).toMatchObject({ ok: true, problems: [], files: 8 });
    // Users, memberships, and the documents' items (pool 1, groups 2, the others 0).
    expect(v.records).toBe(USERS_A + USERS_B + 3 + 1 + 2);
  });

  it('writes the manifest last and refuses files after commit', async () => {
    const snap = new MemoryStorage();
    const order: string[] = [];
    const spy = {
      ...snap,
      location: snap.location,
      put: async (k: string, b: Parameters<MemoryStorage['put']>[1]) => {
        await snap.put(k, b);
        order.push(k);
      },
      stat: (k: string) => snap.stat(k),
    } as unknown as MemoryStorage;
    const w = new SnapshotWriter(spy);
    await w.writeJson(FILES.pool, 'pool', { userPool: { Id: 'x' } }, 1);
    await w.writeJsonLines(partPath('users', 0), 'users', [user(1)]);
    await w.commit(draft({ users: 1 }));
    expect(order.at(-1)).toBe(MANIFEST_FILE);
    await expect(w.writeJson('late.json', 'clients', [], 0)).rejects.toThrow(/committed/);
  });

  it('an empty JSON Lines part is valid and counts zero records', async () => {
    const snap = new MemoryStorage();
    const w = new SnapshotWriter(snap);
    await w.writeJsonLines(partPath('users', 0), 'users', []);
    await w.commit(draft());
    const r = await SnapshotReader.open(snap);
    expect(r.manifest.files[0]).toMatchObject({ records: 0 });
    expect((await r.verify()).ok).toBe(true);
  });

  it('snapshot ids are sortable UTC times safe in paths', () => {
    expect(newSnapshotId(new Date('2026-11-27T17:22:00.123Z'))).toBe('2026-11-27T17-22-00-123Z');
  });
});

describe('manifest validation on read', () => {
  it('a manifest missing required fields is SnapshotInvalidError naming the field', async () => {
    const { snap } = await writeSample();
    const m = manifestOf(snap);
    delete m.counts;
    await setManifest(snap, m);
    const e = await openError(snap);
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/manifest\.json is malformed/);
    expect(e.message).toMatch(/counts/);
    expect(e.problems.join('\n')).toMatch(/manifest counts/);
  });

  it('a file entry with a bad sha256 is refused by the schema', async () => {
    const { snap } = await writeSample();
    const m = manifestOf(snap) as { files: { sha256: string }[] };
    (m.files[0] as { sha256: string }).sha256 = 'not-hex';
    await setManifest(snap, m);
    const e = await openError(snap);
    expect(e.problems.join('\n')).toMatch(/files\.0\.sha256/);
  });

  it('a manifest that is not JSON says so', async () => {
    const { snap } = await writeSample();
    await setManifest(snap, '{"formatVersion": 1, "tool": ');
    const e = await openError(snap);
    expect(e.message).toMatch(/manifest\.json is not valid JSON/);
  });

  it('an unknown formatVersion is refused before schema validation', async () => {
    const { snap } = await writeSample();
    await setManifest(snap, { formatVersion: 3, files: 'garbage', counts: null, tool: 7 });
    const e = await openError(snap);
    expect(e.message).toMatch(/unsupported snapshot formatVersion 3/);
    expect(e.message).toMatch(/reads 1 and 2/);
    expect(e.message).not.toMatch(/malformed/);
    expect(e.context.formatVersion).toBe('3');
    // parseManifest itself, too
    expect(() => parseManifest('{"formatVersion":"1"}', 'x')).toThrow(/formatVersion "1"/);
  });

  it('a directory with files but no manifest is an incomplete snapshot', async () => {
    const { snap } = await writeSample();
    await snap.delete(MANIFEST_FILE);
    const e = await openError(snap);
    expect(e.message).toMatch(/incomplete snapshot: it has no manifest\.json/);
    expect((await openError(new MemoryStorage())).message).toMatch(/not a snapshot/);
  });
});

describe('verify finds damage', () => {
  it('a flipped byte in a part is a sha256 problem', async () => {
    const { snap } = await writeSample();
    const key = 'users/part-00001.jsonl.gz';
    const raw = Buffer.from(snap.bytes(key) ?? Buffer.alloc(0));
    const at = Math.floor(raw.length / 2);
    raw[at] = (raw[at] ?? 0) ^ 0x01;
    await snap.put(key, raw);
    const problems = await verifyProblems(snap);
    expect(problems).toContain(`${key}: sha256 mismatch`);
    expect(problems.every((p) => p.startsWith(key))).toBe(true);
  });

  it('a flipped byte in a JSON document is a sha256 problem', async () => {
    const { snap } = await writeSample();
    const raw = Buffer.from(snap.bytes('groups.json') ?? Buffer.alloc(0));
    raw[10] = (raw[10] ?? 0) ^ 0x20;
    await snap.put('groups.json', raw);
    expect(await verifyProblems(snap)).toEqual(['groups.json: sha256 mismatch']);
  });

  it('a missing file is reported', async () => {
    const { snap } = await writeSample();
    await snap.delete('users/part-00000.jsonl.gz');
    const problems = await verifyProblems(snap);
    expect(problems).toContain('users/part-00000.jsonl.gz: missing');
    await expect((await SnapshotReader.open(snap)).assertValid()).rejects.toThrow(
      /failed verification: users\/part-00000\.jsonl\.gz: missing/,
    );
  });

  it('a truncated gzip part reports size, checksum and the decoding failure', async () => {
    const { snap } = await writeSample();
    const key = 'users/part-00000.jsonl.gz';
    const raw = snap.bytes(key) ?? Buffer.alloc(0);
    await snap.put(key, raw.subarray(0, Math.floor(raw.length * 0.6)));
    const problems = await verifyProblems(snap);
    expect(problems).toContain(`${key}: sha256 mismatch`);
    expect(
      problems.some((p) => p.startsWith(`${key}: ${Math.floor(raw.length * 0.6)} bytes`)),
    ).toBe(true);
    expect(problems.some((p) => p.startsWith(`${key}: not valid gzip`))).toBe(true);
    // Reading the records fails loudly rather than yielding a short list silently.
    const r = await SnapshotReader.open(snap);
    await expect(
      (async () => {
        for await (const _ of r.records('users', UserRecord)) void _;
      })(),
    ).rejects.toMatchObject({
      name: 'SnapshotInvalidError',
      exitCode: 3,
      message: expect.stringMatching(/users\/part-00000\.jsonl\.gz is not valid gzip/),
    });
  });

  it('a part re-gzipped with a line removed has a wrong record count', async () => {
    const { snap } = await writeSample();
    const key = 'memberships/part-00000.jsonl.gz';
    const text = gunzipSync(snap.bytes(key) ?? Buffer.alloc(0)).toString();
    const shorter = gzipSync(text.split('\n').slice(1).join('\n'));
    await snap.put(key, shorter);
    // Keep size and checksum consistent so only the count disagrees.
    const m = manifestOf(snap) as {
      files: { path: string; bytes: number; sha256: string }[];
    };
    const entry = m.files.find((f) => f.path === key);
    if (!entry) throw new Error('no entry');
    entry.bytes = shorter.length;
    entry.sha256 = createHash('sha256').update(shorter).digest('hex');
    await setManifest(snap, m);
    expect(await verifyProblems(snap)).toEqual([`${key}: 2 records, manifest says 3`]);
  });

  it('counts that disagree with the files are reported', async () => {
    const { snap } = await writeSample();
    const m = manifestOf(snap) as { counts: { users: number } };
    m.counts.users += 1;
    await setManifest(snap, m);
    expect(await verifyProblems(snap)).toEqual([
      `users: files hold ${USERS_A + USERS_B}, counts say ${USERS_A + USERS_B + 1}`,
    ]);
  });

  it('a record that does not match the format fails when read', async () => {
    const snap = new MemoryStorage();
    const w = new SnapshotWriter(snap);
    await w.writeJsonLines(partPath('users', 0), 'users', [user(1), { Username: '' }]);
    await w.commit(draft({ users: 2 }));
    const r = await SnapshotReader.open(snap);
    // verify reads every username (duplicates): a record without one fails it already.
    expect((await r.verify()).problems.join()).toMatch(/line 2 has no Username/);
    await expect(
      (async () => {
        for await (const _ of r.records('users', UserRecord)) void _;
      })(),
    ).rejects.toThrow(/part-00000\.jsonl\.gz line 2 does not match the format/);
  });
});

describe('listSnapshots', () => {
  it('lists complete and incomplete snapshots under a root', async () => {
    const { root } = await writeSample();
    await root.child('us-east-1_Test/2026-01-02T00-00-00-000Z').put('pool.json', '{}');
    const bad = root.child('us-east-1_Other/2026-01-03T00-00-00-000Z');
    await bad.put(MANIFEST_FILE, JSON.stringify({ formatVersion: 9 }));
    const items = await listSnapshots(root);
    expect(items.map((i) => [i.path, i.complete])).toEqual([
      ['us-east-1_Other/2026-01-03T00-00-00-000Z', false],
      ['us-east-1_Test/2026-01-01T00-00-00-000Z', true],
      ['us-east-1_Test/2026-01-02T00-00-00-000Z', false],
    ]);
    expect(items[0]?.problem).toMatch(/formatVersion 9/);
    expect(items[1]?.manifest?.counts.users).toBe(USERS_A + USERS_B);
    expect(items[2]?.problem).toMatch(/incomplete/);
  });
});
