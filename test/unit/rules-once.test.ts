import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Issue 19: rules about users and secrets live once in src — a second copy drifts. Each rule is
 * found by the text of its definition; every place it is defined is listed, so a copy shows up
 * with its file.
 */
const SRC = path.resolve(__dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const files = sources(SRC).map((f) => ({
  file: path.relative(SRC, f),
  text: readFileSync(f, 'utf8'),
}));

function definedIn(pattern: RegExp): string[] {
  return files.filter((f) => pattern.test(f.text)).map((f) => f.file);
}

describe('rules defined once in src', () => {
  it.each([
    [
      'loginOf (the username a user is created with)',
      /function loginOf\b/,
      'snapshot/user-record.ts',
    ],
    [
      'the Cognito-owned attributes (sub, identities, cognito:*)',
      /name === 'sub' \|\| name === 'identities'/,
      'snapshot/user-record.ts',
    ],
    ['the attributes a pool requires', /function requiredAttributes\b/, 'snapshot/user-record.ts'],
    ['the secret-key pattern of IdP details', /private_\?key/, 'snapshot/redaction.ts'],
    [
      'canonical JSON (sorted keys, set-like arrays sorted)',
      /\.sort\(\(\[a\], \[b\]\) => \(a < b \? -1/,
      'cognito/fields.ts',
    ],
  ])('%s: one definition', (_name, pattern, home) => {
    expect(definedIn(pattern)).toEqual([home]);
  });

  it('no other list of Cognito-owned attributes (a Set or array of sub and identities)', () => {
    expect(definedIn(/\[\s*'sub',\s*'identities'/)).toEqual([]);
  });
});
