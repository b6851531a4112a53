import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { OPTION_NAMES, opt } from '../../src/core/options.js';
import { registerBackup } from '../../src/cli/backup.js';
import { oneLine } from '../../src/cli/common.js';
import { registerDiff } from '../../src/cli/diff.js';
import { registerExportCsv } from '../../src/cli/export-csv.js';
import { registerForget } from '../../src/cli/forget.js';
import { registerList } from '../../src/cli/list.js';
import { OPTION_FLAGS, renderOptionNames } from '../../src/cli/option-flags.js';
import { registerPrune } from '../../src/cli/prune.js';
import { registerRestore } from '../../src/cli/restore.js';
import { registerVerify } from '../../src/cli/verify.js';
import { resolveRegion } from '../../src/cognito/gateway.js';
import { loadArnMap } from '../../src/restore/preflight/arns.js';
import { legacyAttributeName } from '../../src/restore/pool/target.js';
import { forgetUser } from '../../src/snapshot/forget.js';
import { planRetention } from '../../src/snapshot/retention.js';
import { MemoryStorage } from '../../src/storage/memory.js';

/** The layers library callers use: their messages must not name CLI flags. */
const ENGINE_DIRS = [
  'src/core',
  'src/cognito',
  'src/storage',
  'src/snapshot',
  'src/backup',
  'src/restore',
  'src/compare',
  'src/lambda',
];

/** Literals that look like a flag but are not one: S3's reserved bucket-name suffixes. */
const NOT_FLAGS = new Set(
  ['--ol-s3', '--x-s3', '--table-s3'].map((s) => `src/storage/location.ts: ${s}`),
);

const FLAG = /(?:^|[^-\w])(--[a-z][a-z0-9-]*)/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Every `--flag` in a string or template literal of `file` (comments are not literals). */
function flagsInLiterals(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if (
      ts.isStringLiteral(n) ||
      ts.isNoSubstitutionTemplateLiteral(n) ||
      ts.isTemplateHead(n) ||
      ts.isTemplateMiddle(n) ||
      ts.isTemplateTail(n)
    ) {
      for (const m of n.text.matchAll(FLAG)) {
        const where = `${file.split(path.sep).join('/')}: ${m[1]}`;
        if (!NOT_FLAGS.has(where)) found.push(where);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return found;
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('engine messages name options, not CLI flags', () => {
  it('no string in the engine layers names a CLI flag (write opt(name) instead)', () => {
    const files = ENGINE_DIRS.flatMap(tsFiles);
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap(flagsInLiterals)).toEqual([]);
  });

  it('the scan finds a flag in a literal, not in a comment', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cv-flags-'));
    try {
      const file = path.join(dir, 'x.ts');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(
        file,
        "// pass --merge\nthrow new Error(`use ${a} --state-dir`);\nconst s = 'x --domain';\nconst n = 'a--b';\n",
      );
      expect(flagsInLiterals(file).map((f) => f.split(': ')[1])).toEqual([
        '--state-dir',
        '--domain',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('errors about one option name it and carry it as context.option', async () => {
    const keep = thrown(() => planRetention([], { keepLast: 0 }));
    expect(keep).toBeInstanceOf(UsageError);
    expect((keep as UsageError).message).toMatch(/^`keepLast` must be a whole number/);
    expect((keep as UsageError).context.option).toBe('keepLast');

    const legacy = thrown(() => legacyAttributeName('has spaces in it'));
    expect((legacy as UsageError).context.option).toBe('legacySubAttribute');
    expect((legacy as UsageError).message).not.toContain('--');

    const map = await loadArnMap('/nonexistent/map.json').catch((e: unknown) => e);
    expect((map as UsageError).context).toMatchObject({
      option: 'mapArns',
      path: '/nonexistent/map.json',
    });
    expect((map as UsageError).message).toBe(
      'cannot read `mapArns` /nonexistent/map.json (ENOENT)',
    );

    const region = thrown(() => resolveRegion('us-east-1_abc', 'eu-west-1'));
    expect((region as UsageError).message).toBe(
      'user pool us-east-1_abc is in us-east-1, not in `region` eu-west-1',
    );
  });

  it('the CLI prints the flag where the engine named the option', async () => {
    const keep = thrown(() => planRetention([], { keepLast: 0 })) as UsageError;
    expect(oneLine(keep.message)).toBe(
      '--keep-last must be a whole number ≥ 1 (the newest snapshot is never pruned)',
    );
    expect(renderOptionNames(`use ${opt('target.userPoolId')} or ${opt('usersPath')} auto`)).toBe(
      'use --to-user-pool-id or --users auto',
    );
    const forget = await forgetUser(new MemoryStorage(), 'us-east-1_abc', {}).catch(
      (e: unknown) => e,
    );
    expect(forget).toBeInstanceOf(UsageError);
    expect(oneLine((forget as UsageError).message)).toBe(
      "give exactly one of --user (the user's username) or --sub (their sub)",
    );
    // Other backquoted text is left alone.
    expect(renderOptionNames('run `cognito-vault policy import-role` or `notAnOption`')).toBe(
      'run `cognito-vault policy import-role` or `notAnOption`',
    );
  });

  it('every option engine messages can name maps to a flag some command has', () => {
    const program = new Command('cognito-vault');
    for (const register of [
      registerBackup,
      registerVerify,
      registerList,
      registerPrune,
      registerRestore,
      registerExportCsv,
      registerDiff,
      registerForget,
    ])
      register(program);
    const flags = new Set(program.commands.flatMap((c) => c.options.map((o) => o.long)));
    for (const name of OPTION_NAMES) expect(flags, name).toContain(OPTION_FLAGS[name]);
  });
});
