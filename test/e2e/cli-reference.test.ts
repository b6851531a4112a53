import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/core/errors.js';
import { CLI, cliEnv } from '../support/cli.js';

/**
 * The built CLI's help, against the documents an operator reads: every flag of every command
 * (walked from `--help`'s command list, so commands added later are covered once documented) is
 * in docs/cli.md, every flag docs/cli.md names exists, the exit-code table of --help is the
 * README's, and the CLI never fights its user: parse errors honour --json, every flag is checked
 * before anything is read, environment defaults apply.
 */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
// Made at collection: the command tree is walked while the tests are collected.
const home = mkdtempSync(path.join(tmpdir(), 'cv-cli-ref-'));

afterAll(() => rmSync(home, { recursive: true, force: true }));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): Ran {
  // No endpoint: nothing here may get as far as an AWS call (it would fail to connect).
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: cliEnv(home, 'http://127.0.0.1:9', { COLUMNS: '200', ...env }),
    encoding: 'utf8',
    timeout: 30_000,
    ...(cwd ? { cwd } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The long flags an `Options:` section of a help text lists. */
function flagsOf(help: string): string[] {
  const section = help.split(/^Options:$/m)[1]?.split(/^\S/m)[0] ?? '';
  const flags: string[] = [];
  for (const line of section.split('\n')) {
    const m = /^ {2}(?:-\w, )?(--[a-z0-9-]+)/.exec(line);
    if (m) flags.push(m[1] as string);
  }
  return flags;
}

/** The subcommands a help text lists (`help` excluded). */
function commandsOf(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  const names: string[] = [];
  for (const line of section.split('\n')) {
    const m = /^ {2}([a-z][a-z0-9-]*)/.exec(line);
    if (m && m[1] !== 'help') names.push(m[1] as string);
  }
  return names;
}

/** Every command path (e.g. ['backup']) with its flags, walked from the top-level help. */
function commandTree(prefix: string[] = []): { path: string[]; flags: string[] }[] {
  const help = run([...prefix, '--help']);
  expect(help.code, help.stderr).toBe(0);
  const out = prefix.length ? [{ path: prefix, flags: flagsOf(help.stdout) }] : [];
  for (const c of commandsOf(help.stdout)) out.push(...commandTree([...prefix, c]));
  return out;
}

const GLOBAL = new Set(['--help', '--version']);
const doc = readFileSync('docs/cli.md', 'utf8');

/** docs/cli.md's section of a command: from `## \`cognito-vault NAME` to the next `## `. */
function sectionOf(name: string): string | undefined {
  const start = doc.search(new RegExp(`^## \`cognito-vault ${name}\\b`, 'm'));
  if (start < 0) return undefined;
  const rest = doc.slice(start + 3);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The shared sections every command's flags may be documented in. */
const SHARED = ['Common flags', 'S3 flags', 'Environment']
  .map((h) => {
    const start = doc.search(new RegExp(`^## ${h}\\b`, 'm'));
    if (start < 0) throw new Error(`docs/cli.md has no "## ${h}" section`);
    const rest = doc.slice(start + 3);
    const end = rest.search(/^## /m);
    return end < 0 ? rest : rest.slice(0, end);
  })
  .join('\n');

const mentions = (text: string, flag: string): boolean =>
  new RegExp(`${flag.replace(/-/g, '\\-')}(?![a-z0-9-])`).test(text);

describe('docs/cli.md and the help agree', () => {
  const tree = commandTree();

  it('walks every command', () => {
    expect(tree.map((c) => c.path.join(' '))).toEqual(
      expect.arrayContaining(['backup', 'restore', 'verify', 'list', 'diff', 'prune', 'policy']),
    );
    const backup = tree.find((c) => c.path.join(' ') === 'backup')?.flags ?? [];
    expect(backup).toEqual(
      expect.arrayContaining(['--user-pool-id', '--to', '--json', '--region']),
    );
    // The flags of wrapped help lines are read too (commander wraps at 80 columns in a pipe).
    expect(tree.find((c) => c.path.join(' ') === 'diff')?.flags).toContain(
      '--expected-bucket-owner',
    );
  });

  it('every flag of every command is documented under that command (or among the shared flags)', () => {
    const missing: string[] = [];
    for (const c of tree) {
      const name = c.path.join(' ');
      const own = sectionOf(name);
      if (own === undefined) {
        missing.push(`${name}: no "## \`cognito-vault ${name}" section`);
        continue;
      }
      for (const f of c.flags) {
        if (GLOBAL.has(f)) continue;
        if (!mentions(own, f) && !mentions(SHARED, f)) missing.push(`${name} ${f}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every flag docs/cli.md names exists, and each synopsis names its own command’s flags only', () => {
    const all = new Set([...GLOBAL, ...tree.flatMap((c) => c.flags)]);
    const named = new Set(doc.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? []);
    expect([...named].filter((f) => !all.has(f)).sort()).toEqual([]);
    for (const c of tree) {
      const own = sectionOf(c.path.join(' '));
      const synopsis = own?.match(/```\n(cognito-vault [\s\S]*?)```/)?.[1];
      if (!synopsis) continue;
      // Only the lines that invoke this command (an example block may show others).
      const lines = synopsis
        .split(/\n(?=cognito-vault )/)
        .filter((l) => l.startsWith(`cognito-vault ${c.path.join(' ')}`));
      const flags = new Set(c.flags);
      const foreign = lines
        .flatMap((l) => l.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? [])
        .filter((f) => !flags.has(f) && !GLOBAL.has(f));
      expect(foreign, c.path.join(' ')).toEqual([]);
    }
  });

  it('the help’s exit-code table is the README’s, and lists every exit code', () => {
    const help = run(['--help']).stdout;
    const table = help.slice(help.indexOf('Exit codes:\n') + 'Exit codes:\n'.length).trimEnd();
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Exit codes'));
    const block = /```text\n([\s\S]*?)```/.exec(section)?.[1]?.trimEnd();
    expect(block).toBe(table);
    for (const code of Object.values(ExitCode))
      expect(table, `exit code ${code}`).toMatch(new RegExp(`^ {2}${code} `, 'm'));
  });

  it('--help lists the COGNITO_VAULT_* defaults, and docs/cli.md documents each', () => {
    const help = run(['--help']).stdout;
    const vars = help.match(/COGNITO_VAULT_[A-Z_]+/g) ?? [];
    expect(vars.length).toBeGreaterThanOrEqual(4);
    for (const v of vars) expect(doc, v).toContain(v);
    expect(run(['backup', '--help']).stdout).toMatch(/env: COGNITO_VAULT_TO\)/);
  });
});

describe('the CLI never fights its user', () => {
  it('parse errors honour --json: one JSON object on stdout, one line on stderr, exit 2', () => {
    for (const args of [
      ['backup', '--bogus', '--json'],
      ['list', '--json', '--region', 'nowhere'],
      ['restore', '--json', '--federated-users', 'sometimes'],
      ['backup', '--json', '--encrypt-to', 'not-a-key'],
      ['verify', '--json'],
    ]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(ExitCode.Usage);
      const out = JSON.parse(r.stdout) as { error: { code: string; exitCode: number } };
      expect(out.error.exitCode).toBe(ExitCode.Usage);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^cognito-vault: error: /);
    }
    // Without --json, nothing on stdout.
    expect(run(['backup', '--bogus']).stdout).toBe('');
  });

  it('restore checks every flag before the snapshot is read (a bad flag wins over a missing snapshot)', () => {
    const missing = path.join(home, 'no-such-snapshot');
    for (const [args, says] of [
      [['--federated-users', 'sometimes'], /federated-users/],
      [['--target-account', '12345'], /target-account/],
      [['--without-triggers'], /without-triggers/],
    ] as const) {
      const r = run([
        'restore',
        '--from',
        missing,
        '--to-user-pool-id',
        'us-east-1_abcdefghi',
        ...args,
      ]);
      expect(r.code, r.stderr).toBe(ExitCode.Usage);
      expect(r.stderr).toMatch(says);
    }
  });

  it('policy errors carry one prefix', () => {
    for (const args of [
      ['policy', 'backup', '--s3', 'bucket-without-scheme'],
      ['policy', 'import-role', '--account-id', '12'],
    ]) {
      const r = run(args);
      expect(r.code).toBe(ExitCode.Usage);
      expect(r.stderr.match(/cognito-vault: error:/g)).toHaveLength(1);
    }
  });

  it('list: a root that does not exist is an error (exit 8); an empty one lists nothing', () => {
    const gone = run(['list', path.join(home, 'nothing-here')]);
    expect(gone.code).toBe(ExitCode.Storage);
    expect(gone.stderr).toMatch(/does not exist/);
    const empty = path.join(home, 'empty-root');
    mkdirSync(empty);
    const r = run(['list', empty, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ snapshots: [] });
  });

  it('COGNITO_VAULT_TO is the default root; an environment bucket owner or KMS key is ignored for a directory, the flag is not', () => {
    const root = path.join(home, 'env-root');
    mkdirSync(root);
    const r = run(['list', '--json'], {
      COGNITO_VAULT_TO: root,
      COGNITO_VAULT_EXPECTED_BUCKET_OWNER: '123456789012',
      COGNITO_VAULT_KMS_KEY_ID: 'alias/backups',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ root, snapshots: [] });
    const flag = run(['list', root, '--expected-bucket-owner', '123456789012']);
    expect(flag.code).toBe(ExitCode.Usage);
    const badEnv = run(['list', root], { COGNITO_VAULT_EXPECTED_BUCKET_OWNER: 'nope' });
    expect(badEnv.code).toBe(ExitCode.Usage);
    // Recipients from the environment are checked like the flag's, before anything runs, and
    // never echoed (a secret key pasted by mistake).
    const secret = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';
    const badRecipients = run(['backup', '--user-pool-id', 'us-east-1_abcdefghi', '--json'], {
      COGNITO_VAULT_TO: root,
      COGNITO_VAULT_ENCRYPT_TO: `age1notakey, ${secret}`,
    });
    expect(badRecipients.code).toBe(ExitCode.Usage);
    expect(`${badRecipients.stdout}${badRecipients.stderr}`).not.toContain(secret);
    expect(JSON.parse(badRecipients.stdout)).toMatchObject({ error: { exitCode: 2 } });
  });
});
