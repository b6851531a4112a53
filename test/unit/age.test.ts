import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isX25519Identity,
  isX25519Recipient,
  parseIdentityText,
  parseRecipient,
  parseRecipientList,
} from '../../src/core/age-keys.js';
import {
  ExitCode,
  InterruptedError,
  SnapshotInvalidError,
  UsageError,
} from '../../src/core/errors.js';
import {
  AgeKeyring,
  AgeRecipients,
  DecryptError,
  KeyMismatchError,
  KeyRequiredError,
} from '../../src/snapshot/age.js';
import {
  FILES,
  MANIFEST_FILE,
  MembershipRecord,
  parseManifest,
  partPath,
  PART_DIRS,
  PoolDocument,
  SnapshotReader,
  SnapshotWriter,
  UserRecord,
  type ManifestDraft,
} from '../../src/snapshot/index.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { FaultyStorage } from '../support/faulty-storage.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

interface Key {
  identity: string;
  recipient: string;
}
async function newKey(): Promise<Key> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

function user(i: number): UserRecord {
  return {
    Username: `person-${i}@example.com`,
    Attributes: [
      { Name: 'sub', Value: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` },
      { Name: 'email', Value: `person-${i}@example.com` },
      // Random-ish text so gzip leaves parts larger than one 64 KiB age chunk.
      { Name: 'custom:note', Value: createHash('sha256').update(String(i)).digest('base64') },
    ],
    Enabled: true,
    UserStatus: 'CONFIRMED',
  };
}

const USERS = 3000;

function draft(): ManifestDraft {
  return manifestDraft({
    snapshotId: '2026-01-01T00-00-00-000Z',
    userPool: { id: 'us-east-1_Test', name: 'pool' },
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    counts: { users: USERS, memberships: 2 },
    options: { sharding: { mode: 'sub-prefix', shards: 2 } },
  });
}

async function writeSnapshot(recipients?: string[]): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  const w = new SnapshotWriter(
    storage,
    undefined,
    recipients ? new AgeRecipients(recipients) : undefined,
  );
  await w.writeJson(FILES.pool, 'pool', { userPool: { Id: 'us-east-1_Test', Name: 'pool' } }, 1);
  const all = Array.from({ length: USERS }, (_, i) => user(i));
  await w.writeJsonLines(partPath(PART_DIRS.users, 0), 'users', all.slice(0, 2000));
  await w.writeJsonLines(partPath(PART_DIRS.users, 1), 'users', all.slice(2000));
  await w.writeJsonLines(partPath(PART_DIRS.memberships, 0), 'memberships', [
    { group: 'admins', username: 'person-1@example.com' },
    { group: 'admins', username: 'person-2@example.com' },
  ]);
  await w.commit(draft());
  return storage;
}

async function keyringOf(...keys: Key[]): Promise<AgeKeyring> {
  return AgeKeyring.fromKeys(
    keys.map((k) => k.identity),
    'test-keys',
  );
}

async function readAllUsers(reader: SnapshotReader): Promise<UserRecord[]> {
  const out: UserRecord[] = [];
  for await (const u of reader.records('users', UserRecord)) out.push(u);
  return out;
}

async function storedBytes(storage: MemoryStorage, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await storage.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

let alice: Key;
let bob: Key;
let mallory: Key;
beforeAll(async () => {
  [alice, bob, mallory] = await Promise.all([newKey(), newKey(), newKey()]);
});

describe('age key syntax (src/core/age-keys.ts)', () => {
  it('accepts age-keygen keys and refuses mistyped ones with exit 2', async () => {
    expect(isX25519Recipient(alice.recipient)).toBe(true);
    expect(isX25519Identity(alice.identity)).toBe(true);
    expect(parseRecipient(` ${alice.recipient} `)).toBe(alice.recipient);
    // One character changed: the Bech32 checksum fails.
    const last = alice.recipient.at(-1) === 'q' ? 'p' : 'q';
    const typo = `${alice.recipient.slice(0, -1)}${last}`;
    for (const bad of [
      typo,
      alice.recipient.toUpperCase(),
      alice.recipient.slice(0, -2),
      'age1',
      '',
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI',
      alice.identity,
      `age1pq1${'q'.repeat(60)}`,
    ]) {
      let err: unknown;
      try {
        parseRecipient(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(ExitCode.Usage);
      expect((err as UsageError).code).toBe('BAD_RECIPIENT');
      // A secret key pasted by mistake is never echoed whole.
      expect((err as Error).message).not.toContain(alice.identity.slice(10));
    }
    expect(
      parseRecipientList(`${alice.recipient}, ${bob.recipient} ${alice.recipient}`, 'X'),
    ).toEqual([alice.recipient, bob.recipient]);
  });

  it('reads identity files as age-keygen writes them, and names only the line of a bad one', () => {
    const text = `# created: 2026-01-01T00:00:00Z\r\n# public key: ${alice.recipient}\r\n${alice.identity}\r\n\n  # another\n${bob.identity}\n`;
    expect(parseIdentityText(text, 'k.txt')).toEqual([alice.identity, bob.identity]);
    const broken = `# c\n${alice.identity.slice(0, -1)}${alice.identity.endsWith('Q') ? 'P' : 'Q'}\n`;
    expect(() => parseIdentityText(broken, 'k.txt')).toThrow(/k\.txt: line 2: not an age X25519/);
    try {
      parseIdentityText(broken, 'k.txt');
    } catch (e) {
      expect((e as UsageError).exitCode).toBe(ExitCode.Usage);
      expect((e as Error).message).not.toContain(alice.identity.slice(16, 40));
    }
    expect(() => parseIdentityText('# only comments\n\n', 'k.txt')).toThrow(/no identity/);
    expect(() => parseIdentityText(`${alice.recipient}\n`, 'k.txt')).toThrow(/public recipient/);
    expect(() => parseIdentityText('AGE-SECRET-KEY-PQ-1ABC\n', 'k.txt')).toThrow(/post-quantum/);
  });
});

describe('identity files (AgeKeyring.fromFile)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cv-age-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('warns about a group/world-readable file, not about a 0600 one', async () => {
    const f = path.join(dir, 'key.txt');
    await writeFile(f, `# public key: ${alice.recipient}\n${alice.identity}\n`, { mode: 0o600 });
    await chmod(f, 0o600);
    const warnings: string[] = [];
    const k = await AgeKeyring.fromFile(f, (code) => warnings.push(code));
    expect(k.recipients).toEqual([alice.recipient]);
    expect(warnings).toEqual([]);
    await chmod(f, 0o644);
    await AgeKeyring.fromFile(f, (code) => warnings.push(code));
    expect(warnings).toEqual(['IDENTITY_FILE_PERMISSIONS']);
  });

  it('a missing file, a directory, a huge file: usage errors (exit 2)', async () => {
    const sub = path.join(dir, 'sub');
    await mkdir(sub, { recursive: true });
    const huge = path.join(dir, 'huge');
    await writeFile(huge, Buffer.alloc(200 * 1024, 0x41));
    for (const [f, code] of [
      [path.join(dir, 'nope'), 'IDENTITY_UNREADABLE'],
      [sub, 'BAD_IDENTITY'],
      [huge, 'BAD_IDENTITY'],
    ] as const) {
      const err = await AgeKeyring.fromFile(f).catch((e: unknown) => e);
      expect(err, f).toBeInstanceOf(UsageError);
      expect((err as UsageError).code).toBe(code);
    }
  });
});

describe('encrypted snapshots (writer and reader)', () => {
  it('round trip: v2 manifest, .age files without plaintext, verify without and with the key', async () => {
    const storage = await writeSnapshot([alice.recipient]);
    const manifestText = (await storedBytes(storage, MANIFEST_FILE)).toString('utf8');
    const m = parseManifest(manifestText, 'mem');
    expect(m.formatVersion).toBe(2);
    expect(m.encryption).toEqual({
      scheme: 'age-encryption.org/v1',
      recipients: [alice.recipient],
    });
    expect(m.files.map((f) => f.path)).toEqual([
      'memberships/part-00000.jsonl.gz.age',
      'pool.json.age',
      'users/part-00000.jsonl.gz.age',
      'users/part-00001.jsonl.gz.age',
    ]);
    for (const f of m.files) {
      expect(f.encryption).toBe('age');
      const stored = await storedBytes(storage, f.path);
      expect(stored.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
      expect(stored.length).toBe(f.bytes);
      expect(stored.toString('latin1')).not.toContain('person-');
      expect(f.plaintext?.bytes).toBeGreaterThan(0);
    }
    // The manifest names no user.
    expect(manifestText).not.toContain('person-');
    // A part is larger than one age chunk (64 KiB): the STREAM chunking is exercised.
    expect(m.files.find((f) => f.path.startsWith('users/part-00000'))?.bytes).toBeGreaterThan(
      64 * 1024,
    );

    const blind = await SnapshotReader.open(storage);
    const v1 = await blind.verify();
    expect(v1).toMatchObject({ ok: true, encrypted: 'stored-only', records: 0 });
    expect(() => blind.assertCanDecrypt()).toThrow(KeyRequiredError);
    await expect(readAllUsers(blind)).rejects.toBeInstanceOf(KeyRequiredError);
    await expect(blind.readJson('pool', PoolDocument)).rejects.toBeInstanceOf(KeyRequiredError);

    const reader = await SnapshotReader.open(storage, { keyring: await keyringOf(alice) });
    reader.assertCanDecrypt();
    const v2 = await reader.verify();
    expect(v2).toMatchObject({ ok: true, encrypted: 'decrypted', records: USERS + 2 + 1 });
    const users = await readAllUsers(reader);
    expect(users).toHaveLength(USERS);
    expect(users[2500]).toEqual(UserRecord.parse(user(2500)));
    const members: MembershipRecord[] = [];
    for await (const x of reader.records('memberships', MembershipRecord)) members.push(x);
    expect(members).toHaveLength(2);
    expect((await reader.readJson('pool', PoolDocument)).userPool.Id).toBe('us-east-1_Test');
  });

  it('an unencrypted snapshot stays format version 1, without .age files', async () => {
    const storage = await writeSnapshot();
    const m = parseManifest((await storedBytes(storage, MANIFEST_FILE)).toString(), 'mem');
    expect(m.formatVersion).toBe(1);
    expect(m.encryption).toBeUndefined();
    expect(m.files.every((f) => !f.path.endsWith('.age') && !f.encryption)).toBe(true);
    const r = await SnapshotReader.open(storage, { keyring: await keyringOf(alice) });
    r.assertCanDecrypt();
    expect((await r.verify()).encrypted).toBeUndefined();
  });

  it('a wrong key is KEY_MISMATCH (exit 3) naming public keys only', async () => {
    const storage = await writeSnapshot([alice.recipient]);
    const reader = await SnapshotReader.open(storage, { keyring: await keyringOf(mallory) });
    let err: unknown;
    try {
      reader.assertCanDecrypt();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KeyMismatchError);
    expect((err as KeyMismatchError).exitCode).toBe(ExitCode.SnapshotInvalid);
    expect((err as KeyMismatchError).code).toBe('KEY_MISMATCH');
    expect((err as Error).message).toContain(alice.recipient);
    expect((err as Error).message).not.toContain(mallory.identity);
    await expect(reader.verify()).rejects.toBeInstanceOf(KeyMismatchError);
    await expect(readAllUsers(reader)).rejects.toBeInstanceOf(KeyMismatchError);
  });

  it('a manifest that lies about its recipients still fails on the file (KEY_MISMATCH)', async () => {
    const storage = await writeSnapshot([alice.recipient]);
    const text = (await storedBytes(storage, MANIFEST_FILE)).toString();
    await storage.put(MANIFEST_FILE, text.replace(alice.recipient, mallory.recipient));
    const reader = await SnapshotReader.open(storage, { keyring: await keyringOf(mallory) });
    reader.assertCanDecrypt();
    await expect(readAllUsers(reader)).rejects.toBeInstanceOf(KeyMismatchError);
    await expect(reader.verify()).rejects.toBeInstanceOf(KeyMismatchError);
  });

  it('two recipients: either identity opens it', async () => {
    const storage = await writeSnapshot([alice.recipient, bob.recipient]);
    for (const k of [alice, bob]) {
      const reader = await SnapshotReader.open(storage, { keyring: await keyringOf(k) });
      expect((await reader.verify()).ok).toBe(true);
      expect(await readAllUsers(reader)).toHaveLength(USERS);
    }
    // A keyring with a wrong key and a right one opens it too.
    const both = await SnapshotReader.open(storage, { keyring: await keyringOf(mallory, bob) });
    expect(await readAllUsers(both)).toHaveLength(USERS);
  });

  it('tampered ciphertext: verify without the key sees the sha256 mismatch, readers fail exit 3', async () => {
    const storage = await writeSnapshot([alice.recipient]);
    const m = parseManifest((await storedBytes(storage, MANIFEST_FILE)).toString(), 'mem');
    const part = m.files.find((f) => f.path.startsWith('users/part-00000')) ?? m.files[0];
    const stored = await storedBytes(storage, part!.path);
    const flipped = Buffer.from(stored);
    flipped[flipped.length - 100]! ^= 0x01;
    await storage.put(part!.path, flipped);

    const blind = await (await SnapshotReader.open(storage)).verify();
    expect(blind.ok).toBe(false);
    expect(blind.problems).toEqual([`${part!.path}: sha256 mismatch`]);

    const reader = await SnapshotReader.open(storage, { keyring: await keyringOf(alice) });
    const keyed = await reader.verify();
    expect(keyed.ok).toBe(false);
    expect(keyed.problems.join('\n')).toMatch(/sha256 mismatch/);
    expect(keyed.problems.join('\n')).toMatch(/does not decrypt/);
    const err = await readAllUsers(reader).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecryptError);
    expect((err as SnapshotInvalidError).exitCode).toBe(ExitCode.SnapshotInvalid);
    expect((err as Error).message).not.toContain('person-');

    // Truncated (a chunk cut off) and a damaged header.
    await storage.put(part!.path, stored.subarray(0, stored.length - 70_000));
    await expect(readAllUsers(reader)).rejects.toBeInstanceOf(DecryptError);
    const header = Buffer.from(stored);
    header[30]! ^= 0x20;
    await storage.put(part!.path, header);
    await expect(readAllUsers(reader)).rejects.toBeInstanceOf(SnapshotInvalidError);
    const r2 = await reader.verify();
    expect(r2.ok).toBe(false);
  });

  it('a version 2 manifest without an encryption block, or v1 with one, is refused (exit 3)', async () => {
    const storage = await writeSnapshot([alice.recipient]);
    const m = JSON.parse((await storedBytes(storage, MANIFEST_FILE)).toString()) as Record<
      string,
      unknown
    >;
    const noBlock = { ...m };
    delete noBlock.encryption;
    expect(() => parseManifest(JSON.stringify(noBlock), 'mem')).toThrow(SnapshotInvalidError);
    expect(() => parseManifest(JSON.stringify({ ...m, formatVersion: 1 }), 'mem')).toThrow(
      SnapshotInvalidError,
    );
    expect(() => parseManifest(JSON.stringify({ ...m, formatVersion: 3 }), 'mem')).toThrow(
      /unsupported snapshot formatVersion 3/,
    );
  });
});

describe('encrypting writer: failures and interruptions end the write, never hang', () => {
  async function* endless(signalAfter?: () => void): AsyncGenerator<UserRecord> {
    for (let i = 0; ; i++) {
      if (i === 5000) signalAfter?.();
      yield user(i);
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
  }

  it('an abort mid-file rejects the write (InterruptedError) and writes no manifest', async () => {
    const storage = new MemoryStorage();
    const ac = new AbortController();
    const w = new SnapshotWriter(storage, ac.signal, new AgeRecipients([alice.recipient]));
    const err = await w
      .writeJsonLines(
        partPath(PART_DIRS.users, 0),
        'users',
        endless(() => ac.abort(new InterruptedError())),
      )
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('INTERRUPTED');
    expect(await storage.exists(MANIFEST_FILE)).toBe(false);
  });

  it('a failing record source fails the write with its own error', async () => {
    const w = new SnapshotWriter(
      new MemoryStorage(),
      undefined,
      new AgeRecipients([alice.recipient]),
    );
    async function* failing(): AsyncGenerator<UserRecord> {
      for (let i = 0; i < 3000; i++) yield user(i);
      throw new UsageError('SOURCE_BROKE', 'the source broke');
    }
    await expect(
      w.writeJsonLines(partPath(PART_DIRS.users, 0), 'users', failing()),
    ).rejects.toMatchObject({ code: 'SOURCE_BROKE' });
  });

  it('a storage that refuses the put without reading fails the write (no stall on a full buffer)', async () => {
    const broken = new FaultyStorage(new MemoryStorage(), (op) =>
      op === 'put' ? new UsageError('PUT_REFUSED', 'refused') : undefined,
    );
    for (const enc of [new AgeRecipients([alice.recipient]), undefined]) {
      const w = new SnapshotWriter(broken, undefined, enc);
      await expect(
        w.writeJsonLines(partPath(PART_DIRS.users, 0), 'users', endless()),
      ).rejects.toMatchObject({ code: 'PUT_REFUSED' });
    }
  }, 20_000);
});
