import { gzipSync } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatViolation,
  locateCognitoModel,
  loadModel,
  RequestGuard,
  translatePattern,
} from '../../testing/request-guard.js';

// The real model (botocore, as installed with moto): the guard must find it, loudly.
const guard = RequestGuard.fromBotocore();
const POOL = 'us-east-1_AbC123';

const rules = (op: string, input: unknown): string[] =>
  guard.validate(op, input).map((v) => `${v.path}: ${v.rule}`);

describe('request guard: the model', () => {
  it("finds botocore's Cognito model and compiles every pattern in it", () => {
    expect(guard.operations).toContain('CreateUserPool');
    expect(guard.operations.length).toBeGreaterThan(100);
    // Every pattern in the model translates (the constructor throws otherwise).
    expect(guard.patternCount).toBeGreaterThan(40);
  });

  it('fails loudly, naming what it tried, when the model cannot be found', () => {
    expect(() => locateCognitoModel({ PYTHON: '/nonexistent/python3' })).toThrow(
      /cannot find botocore's Cognito model/,
    );
    expect(() => locateCognitoModel({ COGNITO_VAULT_BOTOCORE_MODEL: '/nonexistent.json' })).toThrow(
      /missing file/,
    );
  });

  describe('with a model file', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'cv-guard-'));
    });
    afterAll(async () => rm(dir, { recursive: true, force: true }));

    it('reads a gzipped model and refuses a file that is not one', async () => {
      const model = {
        metadata: { targetPrefix: 'X', endpointPrefix: 'x', apiVersion: '1' },
        operations: { Op: { input: { shape: 'In' } } },
        shapes: { In: { type: 'structure', members: {} } },
      };
      const gz = path.join(dir, 'service-2.json.gz');
      await writeFile(gz, gzipSync(JSON.stringify(model)));
      expect(new RequestGuard(loadModel(gz)).operations).toEqual(['Op']);
      const junk = path.join(dir, 'junk.json');
      await writeFile(junk, '{"a":1}');
      expect(() => loadModel(junk)).toThrow(/not a botocore service model/);
    });
  });
});

describe('request guard: each rule', () => {
  it('accepts a valid request', () => {
    expect(
      rules('CreateUserPoolClient', {
        UserPoolId: POOL,
        ClientName: 'web',
        GenerateSecret: true,
        ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH', 'ALLOW_USER_SRP_AUTH'],
        RefreshTokenValidity: 30,
        TokenValidityUnits: { RefreshToken: 'days' },
        CallbackURLs: ['https://example.com/cb'],
      }),
    ).toEqual([]);
  });

  it('unknown operation and unknown member', () => {
    expect(rules('NoSuchOperation', {})).toEqual([': unknown operation']);
    expect(rules('DescribeUserPool', { UserPoolId: POOL, Extra: 1 })).toEqual([
      'Extra: unknown member of DescribeUserPoolRequest',
    ]);
  });

  it('required members, nested too', () => {
    expect(rules('DescribeUserPool', {})).toEqual(['UserPoolId: required member missing']);
    expect(rules('DescribeUserPool', { UserPoolId: null })).toEqual([
      'UserPoolId: required member missing',
    ]);
    expect(
      rules('AdminCreateUser', { UserPoolId: POOL, Username: 'u', UserAttributes: [{}] }),
    ).toEqual(['UserAttributes[0].Name: required member missing']);
  });

  it('types: string, integer, boolean, list, map, structure, blob, timestamp', () => {
    expect(rules('DescribeUserPool', { UserPoolId: 5 })).toEqual([
      'UserPoolId: type: expected string, got number',
    ]);
    expect(rules('ListUsers', { UserPoolId: POOL, Limit: 1.5 })[0]).toMatch(
      /Limit: type: expected integer/,
    );
    expect(rules('ListUsers', { UserPoolId: POOL, Limit: '5' })[0]).toMatch(
      /Limit: type: expected integer, got string/,
    );
    expect(
      rules('CreateUserPoolClient', { UserPoolId: POOL, ClientName: 'c', GenerateSecret: 'yes' }),
    ).toEqual(['GenerateSecret: type: expected boolean, got string']);
    expect(
      rules('CreateUserPoolClient', { UserPoolId: POOL, ClientName: 'c', CallbackURLs: 'x' }),
    ).toEqual(['CallbackURLs: type: expected list, got string']);
    expect(
      rules('CreateIdentityProvider', {
        UserPoolId: POOL,
        ProviderName: 'Google',
        ProviderType: 'Google',
        ProviderDetails: ['a'],
      }),
    ).toEqual(['ProviderDetails: type: expected map, got list']);
    expect(rules('CreateUserPool', { PoolName: 'p', Policies: 'strict' })).toEqual([
      'Policies: type: expected structure, got string',
    ]);
    expect(rules('SetUICustomization', { UserPoolId: POOL, ImageFile: 'not base64!' })).toEqual([
      'ImageFile: type: expected blob (base64 string)',
    ]);
    expect(rules('SetUICustomization', { UserPoolId: POOL, ImageFile: 'aGVsbG8=' })).toEqual([]);
  });

  it('timestamps are epoch seconds', () => {
    // Only output shapes carry timestamps in today's model: exercise the rule on a small model.
    const g = new RequestGuard({
      metadata: { targetPrefix: 'X', endpointPrefix: 'x', apiVersion: '1' },
      operations: { Op: { input: { shape: 'In' } } },
      shapes: {
        In: { type: 'structure', members: { At: { shape: 'T' } } },
        T: { type: 'timestamp' },
      },
    });
    expect(g.validate('Op', { At: 1700000000 })).toEqual([]);
    expect(g.validate('Op', { At: '2026-01-01' }).map((v) => v.rule)).toEqual([
      'type: expected timestamp (epoch seconds), got string',
    ]);
  });

  it('enum values', () => {
    expect(rules('CreateUserPool', { PoolName: 'p', MfaConfiguration: 'SOMETIMES' })).toEqual([
      'MfaConfiguration: enum: not one of UserPoolMfaType (3 values)',
    ]);
    expect(rules('CreateUserPool', { PoolName: 'p', MfaConfiguration: 'OPTIONAL' })).toEqual([]);
  });

  it('string length in code points, list and map sizes', () => {
    expect(rules('CreateUserPool', { PoolName: '' })).toEqual([
      'PoolName: length 0 < min 1 (UserPoolNameType)',
      'PoolName: pattern [\\w\\s+=,.@-]+ (UserPoolNameType)',
    ]);
    expect(rules('CreateUserPool', { PoolName: 'p'.repeat(129) })).toEqual([
      'PoolName: length 129 > max 128 (UserPoolNameType)',
    ]);
    // 128 astral characters are 256 UTF-16 units but 128 code points: accepted.
    expect(rules('AdminGetUser', { UserPoolId: POOL, Username: '😀'.repeat(128) })).toEqual([]);
    expect(rules('AdminGetUser', { UserPoolId: POOL, Username: '😀'.repeat(129) })).toEqual([
      'Username: length 129 > max 128 (UsernameType)',
    ]);
    expect(
      rules('CreateUserPoolClient', {
        UserPoolId: POOL,
        ClientName: 'c',
        CallbackURLs: Array.from({ length: 101 }, (_, i) => `https://e.com/${i}`),
      }),
    ).toEqual(['CallbackURLs: list length 101 > max 100 (CallbackURLsListType)']);
    const links = (n: number) =>
      rules('CreateTerms', {
        UserPoolId: POOL,
        ClientId: 'abcdefghijklmnopqrstuvwxy',
        TermsName: 'terms-of-use',
        TermsSource: 'LINK',
        Enforcement: 'NONE',
        Links: Object.fromEntries(
          ['cognito:default', 'cognito:french', 'cognito:german']
            .slice(0, n)
            .map((k) => [k, 'https://e.com/t']),
        ),
      });
    expect(links(1)).toEqual([]);
    expect(links(0)).toEqual(['Links: map size 0 < min 1 (LinksType)']);
  });

  it('numeric ranges', () => {
    expect(
      rules('CreateUserPool', {
        PoolName: 'p',
        Policies: { PasswordPolicy: { MinimumLength: 5 } },
      }),
    ).toEqual([
      'Policies.PasswordPolicy.MinimumLength: value 5 < min 6 (PasswordPolicyMinLengthType)',
    ]);
    expect(rules('ListUsers', { UserPoolId: POOL, Limit: 61 })).toEqual([
      'Limit: value 61 > max 60 (QueryLimitType)',
    ]);
  });

  it('patterns, whole-value, with Unicode classes', () => {
    // [\w+]+ : a client secret with a dash is refused by AWS.
    const secret = (s: string) =>
      rules('CreateUserPoolClient', { UserPoolId: POOL, ClientName: 'c', ClientSecret: s });
    expect(secret('abcdefghijklmnopqrstuvwx+_09')).toEqual([]);
    expect(secret('abcdefghijklmnopqrstuvwx-09')).toEqual([
      'ClientSecret: pattern [\\w+]+ (ClientSecretType)',
    ]);
    // [\w-]+_[0-9a-zA-Z]+ : pool ids; a partial match is not a match.
    expect(rules('DescribeUserPool', { UserPoolId: 'bad id us-east-1_abc' })[0]).toMatch(
      /UserPoolId: pattern/,
    );
    // Unicode letters are letters (\p{L} needs the u flag).
    const user = (u: string) => rules('AdminGetUser', { UserPoolId: POOL, Username: u });
    expect(user('jürgen.ñandú@exämple.com')).toEqual([]);
    expect(user('two words')[0]).toMatch(/Username: pattern/);
    // Pool names are ASCII word characters: a non-ASCII letter is refused.
    expect(rules('CreateUserPool', { PoolName: 'Pööl' })[0]).toMatch(/PoolName: pattern/);
    expect(rules('CreateUserPool', { PoolName: 'tab\tname ok' })).toEqual([]);
  });

  it('values never appear in a violation', () => {
    const secretValue = 'hunter2-hunter2-hunter2-hunter2';
    const v = guard.validate('CreateUserPoolClient', {
      UserPoolId: POOL,
      ClientName: 'c',
      ClientSecret: secretValue,
      [`x-${secretValue}`]: 1,
    });
    expect(v.length).toBeGreaterThan(0);
    for (const x of v) expect(formatViolation(x)).not.toContain('hunter2');
    const m = guard.validate('CreateIdentityProvider', {
      UserPoolId: POOL,
      ProviderName: 'Google',
      ProviderType: 'Google',
      ProviderDetails: { ['p'.repeat(200) + 'hunter2']: 'v'.repeat(200_000) },
    });
    expect(m.map(formatViolation).join()).not.toContain('hunter2');
    expect(m.length).toBeGreaterThan(0);
  });
});

describe('translatePattern (Java regex → JavaScript)', () => {
  it('anchors, maps (?s) to the s flag, and keeps Java ASCII whitespace for \\s and \\S', () => {
    expect(translatePattern('[0-9]+').test('12a')).toBe(false);
    expect(translatePattern('(?s).*').test('a\nb')).toBe(true);
    expect(translatePattern('[\\p{L}\\s]+').test('a b')).toBe(true);
    expect(translatePattern('[\\p{L}\\s]+').test('a\u2003b')).toBe(false); // em space: not Java \s
    expect(translatePattern('[\\S]+').test('ab')).toBe(true);
    expect(translatePattern('[\\S]+').test('a b')).toBe(false);
    expect(translatePattern('[\\S]+').test('a\u2003b')).toBe(true); // Java \S accepts em space
    expect(translatePattern('^[0-9A-Za-z\\.\\-_]*(?<!\\.)$').test('a.b')).toBe(true);
    expect(translatePattern('^[0-9A-Za-z\\.\\-_]*(?<!\\.)$').test('ab.')).toBe(false);
  });

  it('refuses constructs it cannot translate faithfully instead of guessing', () => {
    expect(() => translatePattern('[a-z&&[^b]]')).toThrow(/unsupported/);
    expect(() => translatePattern('\\p{IsAlphabetic}+')).toThrow(/unsupported/);
    expect(() => translatePattern('(?i)abc')).toThrow(/unsupported inline flag/);
    expect(() => translatePattern('[a[b]]')).toThrow(/nested character class/);
  });
});
