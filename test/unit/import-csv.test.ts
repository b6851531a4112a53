import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { TargetIncompatibleError } from '../../src/core/errors.js';
import {
  AWS_STANDARD_COLUMNS,
  awsCsvHeader,
  readAwsCsvRow,
} from '../../testing/import-csv-rules.js';
import {
  decodeImportLine,
  deriveCsvHeader,
  IMPORT_LIMITS,
  ImportRowEncoder,
  type ImportableUser,
  writeImportFiles,
} from '../../src/snapshot/import-csv.js';
import type { PoolDocument } from '../../src/snapshot/format.js';
import { MemoryStorage } from '../../src/storage/memory.js';

/**
 * Rows are read back with the independent reader written from AWS's documented rules
 * (testing/import-csv-rules.ts), never with the encoder's own inverse (decodeImportLine), which
 * would agree with any mistake the encoder makes.
 */
function decode(line: string): string[] {
  const r = readAwsCsvRow(line);
  if ('problem' in r) throw new Error(`Cognito would refuse this row: ${r.problem}`);
  return r.values;
}

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'import-csv');

const STANDARD = [
  'sub',
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'email',
  'email_verified',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'phone_number',
  'phone_number_verified',
  'address',
  'updated_at',
  'identities',
];

function pool(
  over: Record<string, unknown> = {},
  mfa: 'OFF' | 'ON' | 'OPTIONAL' = 'OFF',
): PoolDocument {
  return {
    userPool: {
      Id: 'us-east-1_Src',
      Name: 'src',
      SchemaAttributes: [
        ...STANDARD.map((Name) => ({ Name, Required: Name === 'sub' })),
        { Name: 'custom:tier', Required: false },
        { Name: 'custom:legacy_id', Required: false },
      ],
      AutoVerifiedAttributes: ['email'],
      ...over,
    },
    mfaConfig: { MfaConfiguration: mfa },
  };
}

function u(
  username: string,
  attrs: Record<string, string>,
  extra: Partial<ImportableUser> = {},
): ImportableUser {
  return {
    Username: username,
    Attributes: Object.entries(attrs).map(([Name, Value]) => ({ Name, Value })),
    UserStatus: 'CONFIRMED',
    MFAOptions: [],
    ...extra,
  };
}

const ok = { email: 'a@example.com', email_verified: 'true' };

async function* iter<T>(xs: T[]): AsyncGenerator<T> {
  for (const x of xs) yield x;
}

async function text(s: MemoryStorage, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await s.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('deriveCsvHeader', () => {
  it('standard columns in GetCSVHeader order, then mfa, username, custom; never sub/identities', () => {
    const h = deriveCsvHeader(pool());
    // GetCSVHeader's documented list (testing/import-csv-rules.ts), then the custom attributes.
    expect(h).toEqual([...AWS_STANDARD_COLUMNS, 'custom:tier', 'custom:legacy_id']);
  });
  it('is the header GetCSVHeader documents (independent list, testing/import-csv-rules.ts)', () => {
    const p = pool();
    expect(deriveCsvHeader(p)).toEqual(awsCsvHeader(p.userPool.SchemaAttributes ?? []));
  });
  it('skips developer-only attributes', () => {
    const p = pool();
    (p.userPool as unknown as { SchemaAttributes: unknown[] }).SchemaAttributes.push({
      Name: 'dev:x',
    });
    expect(deriveCsvHeader(p)).not.toContain('dev:x');
  });
});

describe('ImportRowEncoder', () => {
  const header = deriveCsvHeader(pool());
  const enc = new ImportRowEncoder(header, pool());
  const col = (line: string, name: string): string | undefined =>
    decode(line)[header.indexOf(name)];

  it('writes every header column in header order, with username, mfa and verified flags', () => {
    const r = enc.encode(
      u('alice', { ...ok, name: 'Alice, Jr.', 'custom:tier': 'gold', sub: 's' }),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const fields = decode(r.line);
    expect(fields).toHaveLength(header.length);
    expect(col(r.line, 'cognito:username')).toBe('alice');
    expect(col(r.line, 'cognito:mfa_enabled')).toBe('false');
    expect(col(r.line, 'email_verified')).toBe('true');
    expect(col(r.line, 'phone_number_verified')).toBe(''); // no phone_number_verified attribute: blank, not a false the user never had
    expect(col(r.line, 'name')).toBe('Alice, Jr.');
    expect(r.line).toContain('Alice\\, Jr.');
    expect(r.line).not.toContain('"');
    expect(r.line).not.toContain('sub');
  });

  it('follows a header given in another order (GetCSVHeader of a live pool)', () => {
    const shuffled = [...header].reverse();
    const e = new ImportRowEncoder(shuffled, pool());
    const r = e.encode(u('bob', { ...ok, given_name: 'Bob' }));
    expect(r.ok && decode(r.line)[shuffled.indexOf('given_name')]).toBe('Bob');
    expect(e.headerLine()).toBe(shuffled.join(','));
  });

  it('mfa_enabled follows the pool: ON true, OFF false, OPTIONAL per legacy SMS option', () => {
    const on = new ImportRowEncoder(header, pool({}, 'ON'));
    const opt = new ImportRowEncoder(header, pool({}, 'OPTIONAL'));
    const line = (e: ImportRowEncoder, x: ImportableUser): string => {
      const r = e.encode(x);
      if (!r.ok) throw new Error(r.reason);
      return r.line;
    };
    expect(col(line(on, u('a', ok)), 'cognito:mfa_enabled')).toBe('true');
    expect(col(line(opt, u('a', ok)), 'cognito:mfa_enabled')).toBe('false');
    expect(
      col(
        line(
          opt,
          u('a', ok, { MFAOptions: [{ DeliveryMedium: 'SMS', AttributeName: 'phone_number' }] }),
        ),
        'cognito:mfa_enabled',
      ),
    ).toBe('true');
  });

  it('username-attribute pools: cognito:username is the email, else the phone number', () => {
    const p = pool({
      UsernameAttributes: ['email', 'phone_number'],
      AutoVerifiedAttributes: ['email', 'phone_number'],
    });
    const e = new ImportRowEncoder(header, p);
    const a = e.encode(u('6f1c-uuid', ok));
    expect(a.ok && col(a.line, 'cognito:username')).toBe('a@example.com');
    expect(a.ok && a.username).toBe('a@example.com');
    const b = e.encode(
      u('7a2d-uuid', { phone_number: '+15550100', phone_number_verified: 'true' }),
    );
    expect(b.ok && col(b.line, 'cognito:username')).toBe('+15550100');
    expect(e.encode(u('8b3e-uuid', { name: 'x' }))).toMatchObject({
      ok: false,
      reason: 'no-username-attribute-value',
    });
  });

  it('birthdate YYYY-MM-DD becomes mm/dd/yyyy; other forms are refused; updated_at epoch seconds', () => {
    const r = enc.encode(u('a', { ...ok, birthdate: '1985-02-01', updated_at: '1471453471' }));
    expect(r.ok && col(r.line, 'birthdate')).toBe('02/01/1985');
    expect(r.ok && col(r.line, 'updated_at')).toBe('1471453471');
    const same = enc.encode(u('a', { ...ok, birthdate: '02/01/1985' }));
    expect(same.ok && col(same.line, 'birthdate')).toBe('02/01/1985');
    expect(enc.encode(u('a', { ...ok, birthdate: '1985' }))).toMatchObject({
      reason: 'birthdate-format',
    });
    expect(enc.encode(u('a', { ...ok, updated_at: '2026-01-01' }))).toMatchObject({
      reason: 'updated-at-format',
    });
  });

  it.each([
    ['external-provider', u('Google_1', ok, { UserStatus: 'EXTERNAL_PROVIDER' })],
    [
      'no-verified-auto-verified-attribute',
      u('a', { email: 'a@example.com', email_verified: 'false' }),
    ],
    [
      'no-verified-auto-verified-attribute',
      u('a', { phone_number: '+1555', phone_number_verified: 'true' }),
    ],
    ['verified-without-value', u('a', { email_verified: 'true' })],
    ['column-not-in-header', u('a', { ...ok, 'custom:gone': 'x' })],
    ['newline-in-value', u('a', { ...ok, name: 'two\nlines' })],
    ['newline-in-value', u('a', { ...ok, name: 'cr\rhere' })],
    ['backslash-in-value', u('a', { ...ok, name: 'back\\slash' })],
    ['quote-in-value', u('a', { ...ok, name: 'say "hi"' })],
    ['surrounding-whitespace', u('a', { ...ok, name: ' padded' })],
    ['surrounding-whitespace', u('a', { ...ok, name: 'tab\t' })],
    ['username-has-whitespace', u('has space', ok)],
    ['row-too-long', u('a', { ...ok, 'custom:tier': 'x'.repeat(IMPORT_LIMITS.maxRowChars) })],
  ])('refuses %s', (reason, user) => {
    expect(enc.encode(user)).toMatchObject({ ok: false, reason });
  });

  it('a row of exactly the limit is accepted, one more byte is refused (UTF-8 counted)', () => {
    const base = enc.encode(u('a', { ...ok, 'custom:tier': '' }));
    if (!base.ok) throw new Error('base refused');
    const room = IMPORT_LIMITS.maxRowChars - base.line.length;
    expect(enc.encode(u('a', { ...ok, 'custom:tier': 'x'.repeat(room) })).ok).toBe(true);
    expect(enc.encode(u('a', { ...ok, 'custom:tier': 'x'.repeat(room + 1) })).ok).toBe(false);
    // 'é' is 2 bytes in UTF-8: half as many fit
    expect(
      enc.encode(u('a', { ...ok, 'custom:tier': 'é'.repeat(Math.ceil((room + 1) / 2)) })).ok,
    ).toBe(false);
  });

  it('required attributes must have a value', () => {
    const p = pool();
    const schema = (
      p.userPool as unknown as { SchemaAttributes: { Name: string; Required: boolean }[] }
    ).SchemaAttributes;
    schema.find((a) => a.Name === 'given_name')!.Required = true;
    const e = new ImportRowEncoder(deriveCsvHeader(p), p);
    expect(e.encode(u('a', ok))).toMatchObject({ reason: 'missing-required-attribute' });
    expect(e.encode(u('a', { ...ok, given_name: 'A' })).ok).toBe(true);
  });

  it('a pool with no auto-verified attribute makes every user ineligible', () => {
    const e = new ImportRowEncoder(header, pool({ AutoVerifiedAttributes: [] }));
    expect(e.poolBlockers()).toEqual(['pool-has-no-auto-verified-attribute']);
    expect(e.encode(u('a', ok))).toMatchObject({ reason: 'pool-has-no-auto-verified-attribute' });
  });

  it('a header without cognito:username, or missing the auto-verified columns, is refused', () => {
    expect(
      () =>
        new ImportRowEncoder(
          header.filter((h) => h !== 'cognito:username'),
          pool(),
        ),
    ).toThrow(TargetIncompatibleError);
    expect(
      () =>
        new ImportRowEncoder(
          header.filter((h) => h !== 'email_verified'),
          pool(),
        ),
    ).toThrow(/email_verified/);
  });
});

// ---- property test: random values encode then decode to themselves, or are refused rightly ----

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [
  'a',
  'b',
  'c',
  'd',
  'Z',
  '0',
  '1',
  '-',
  ',',
  ',',
  ',',
  'ä',
  '∑',
  '\u00e9',
  'x',
  'y',
  'a',
  'Z',
  '0',
  ',',
  ',',
  '\\',
  ' ',
  '\t',
  '"',
  '\n',
  '\r',
  'é',
  '山',
  '🙂',
  '\u00a0',
  ';',
  "'",
  '=',
  '@',
  '.',
];

function expectedReason(values: string[]): string | undefined {
  for (const v of values) {
    if (/[\r\n\u2028\u2029]/.test(v)) return 'newline-in-value';
    if (v.includes('\\')) return 'backslash-in-value';
    if (v.includes('"')) return 'quote-in-value';
    if (v !== v.trim()) return 'surrounding-whitespace';
  }
  return undefined;
}

describe('encode/decode round trip (property)', () => {
  it('2000 random rows: decoded fields equal the input, or the row is refused with the right reason', () => {
    const header = deriveCsvHeader(pool());
    const enc = new ImportRowEncoder(header, pool());
    const cols = ['name', 'nickname', 'address', 'custom:tier', 'custom:legacy_id'];
    const rand = rng(20261129);
    let accepted = 0;
    for (let n = 0; n < 2000; n++) {
      const values = cols.map(() => {
        const len = Math.floor(rand() * 5);
        let s = '';
        for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
        return s;
      });
      const attrs: Record<string, string> = { ...ok };
      cols.forEach((c, i) => (attrs[c] = values[i] as string));
      const r = enc.encode(u('user', attrs));
      const want = expectedReason(values);
      if (want) {
        expect(r).toMatchObject({ ok: false, reason: want });
        continue;
      }
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      accepted++;
      const fields = decode(r.line);
      expect(fields).toHaveLength(header.length);
      cols.forEach((c, i) => expect(fields[header.indexOf(c)]).toBe(values[i]));
    }
    expect(accepted).toBeGreaterThan(200);
  });

  it("the product's decodeImportLine agrees with the independent reader on accepted rows", () => {
    const header = deriveCsvHeader(pool());
    const enc = new ImportRowEncoder(header, pool());
    const rand = rng(7);
    for (let n = 0; n < 500; n++) {
      let name = '';
      for (let i = 0; i < 6; i++) name += ALPHABET[Math.floor(rand() * ALPHABET.length)];
      const r = enc.encode(u('user', { ...ok, name }));
      if (!r.ok) continue;
      expect(decodeImportLine(r.line)).toEqual(decode(r.line));
    }
  });

  it('rows without commas in values parse the same with csv-parse (plain CSV subset)', () => {
    const header = deriveCsvHeader(pool());
    const enc = new ImportRowEncoder(header, pool());
    const r = enc.encode(u('plain', { ...ok, name: 'Zoë Müller', 'custom:tier': '山田' }));
    if (!r.ok) throw new Error(r.reason);
    const rows = parse(`${enc.headerLine()}\n${r.line}\n`, { columns: true }) as Record<
      string,
      string
    >[];
    expect(rows[0]?.name).toBe('Zoë Müller');
    expect(rows[0]?.['cognito:username']).toBe('plain');
    expect(rows[0]?.['custom:tier']).toBe('山田');
  });
});

describe('writeImportFiles', () => {
  const users = [
    u('alice', {
      sub: 's1',
      ...ok,
      name: 'Alice, Jr.',
      birthdate: '1985-02-01',
      'custom:tier': 'gold',
    }),
    u('bob', { sub: 's2', email: 'b@example.com', email_verified: 'false' }),
    u('carol', { sub: 's3', email: 'c@example.com', email_verified: 'true', nickname: 'Zoë' }),
    u('Google_123', { sub: 's4', ...ok }, { UserStatus: 'EXTERNAL_PROVIDER' }),
    u('dave', {
      sub: 's5',
      email: 'd@example.com',
      email_verified: 'true',
      address: '1 Main St,\nApt 2',
    }),
    u('erin', {
      sub: 's6',
      email: 'e@example.com',
      email_verified: 'TRUE',
      'custom:legacy_id': '42',
    }),
  ];

  it('golden file: exact bytes of the CSV, its index and the ineligible report', async () => {
    const sink = new MemoryStorage();
    const p = pool();
    const set = await writeImportFiles(
      iter(users),
      new ImportRowEncoder(deriveCsvHeader(p), p),
      sink,
    );
    expect(set.eligible).toBe(3);
    expect(set.ineligible).toEqual({
      total: 3,
      byReason: {
        'no-verified-auto-verified-attribute': 1,
        'external-provider': 1,
        'newline-in-value': 1,
      },
    });
    expect(set.files.map((f) => [f.name, f.rows])).toEqual([['users-00001.csv', 3]]);
    const csv = await text(sink, 'users-00001.csv');
    expect(csv).toBe(await readFile(path.join(FIXTURES, 'golden.csv'), 'utf8'));
    expect(csv.charCodeAt(0)).not.toBe(0xfeff);
    expect(set.files[0]?.bytes).toBe(Buffer.byteLength(csv));
    expect(await text(sink, 'users-00001.index.jsonl')).toBe(
      await readFile(path.join(FIXTURES, 'golden.index.jsonl'), 'utf8'),
    );
    expect(await text(sink, 'users-ineligible.jsonl')).toBe(
      await readFile(path.join(FIXTURES, 'golden.ineligible.jsonl'), 'utf8'),
    );
  });

  it('splits files at the row limit and the byte limit, each with the header', async () => {
    const p = pool();
    const enc = new ImportRowEncoder(deriveCsvHeader(p), p);
    const many = Array.from({ length: 25 }, (_, i) =>
      u(`user-${i}`, { email: `u${i}@example.com`, email_verified: 'true' }),
    );
    const byRows = new MemoryStorage();
    const r1 = await writeImportFiles(iter(many), enc, byRows, { maxRows: 10 });
    expect(r1.files.map((f) => f.rows)).toEqual([10, 10, 5]);
    for (const f of r1.files) {
      const t = await text(byRows, f.name);
      expect(t.startsWith(`${enc.headerLine()}\n`)).toBe(true);
      expect(t.split('\n').length - 2).toBe(f.rows);
    }
    const idx = (await text(byRows, 'users-00002.index.jsonl'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(idx[0]).toEqual({ line: 2, row: 1, username: 'user-10', importUsername: 'user-10' });

    const byBytes = new MemoryStorage();
    const lineBytes = Buffer.byteLength(`${(enc.encode(many[0]!) as { line: string }).line}\n`);
    const maxBytes = Buffer.byteLength(`${enc.headerLine()}\n`) + lineBytes * 4 + 3;
    const r2 = await writeImportFiles(iter(many), enc, byBytes, { maxBytes });
    for (const f of r2.files) expect(f.bytes).toBeLessThanOrEqual(maxBytes);
    expect(r2.files.reduce((n, f) => n + f.rows, 0)).toBe(25);
    expect(r2.files.length).toBeGreaterThan(5);
  });
});
