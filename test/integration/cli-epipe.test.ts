import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirStorage } from '../../src/storage/local.js';
import { CLI, cliEnv } from '../support/cli.js';
import { tinySnapshot } from '../support/tiny-snapshot.js';

/**
 * `cognito-vault … | head`: the reader of stdout goes away. The CLI must not crash with an
 * EPIPE stack trace: help ends with 0, a command with the exit code it has with a reader
 * (src/cli/pipes.ts). The child waits (test/support/hold-until-stdin.cjs) until its stdout is
 * closed here, so every write it makes fails: no race decides whether EPIPE happens.
 */
const HOLD = path.resolve('test/support/hold-until-stdin.cjs');

let work: string;
let root: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cv-epipe-'));
  root = path.join(work, 'root');
  const storage = new LocalDirStorage(root);
  for (let d = 1; d <= 3; d++)
    await tinySnapshot(storage, 'us-east-1_Pipe', `2026-11-0${d}T00:00:00Z`);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Closed {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the CLI with its stdout closed before it writes anything (or, `both`, stderr too). */
function withClosedOutput(args: string[], both = false): Promise<Closed> {
  const child = spawn(process.execPath, ['--require', HOLD, CLI, ...args], {
    env: cliEnv(work, undefined),
    cwd: work,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  if (!both) child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = [new Promise((r) => child.stdout.once('close', r))];
  child.stdout.destroy();
  if (both) {
    closed.push(new Promise((r) => child.stderr.once('close', r)));
    child.stderr.destroy();
  }
  // Only once the read ends are closed may the CLI start writing.
  void Promise.all(closed).then(() => child.stdin.end('go'));
  return new Promise((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
}

/** The same command with a reader: its exit code, for comparison. */
function withReader(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: cliEnv(work, undefined),
    cwd: work,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
}

const STACK = /EPIPE|Unhandled 'error'|\n\s+at /;

describe('a closed stdout ends the CLI quietly', () => {
  it.each(['--help', 'backup --help', 'restore --help', '--version'])(
    '%s: exit 0, nothing on stderr',
    async (command) => {
      const r = await withClosedOutput(command.split(' '));
      expect(r.stderr).not.toMatch(STACK);
      expect(r.stderr).toBe('');
      expect(r).toMatchObject({ code: 0, signal: null });
    },
  );

  it.each(['list --json', 'list --quiet'])(
    '%s: the exit code it has with a reader, no stack trace',
    async (command) => {
      const args = command.split(' ');
      const withIt = await withReader([...args, root]);
      expect(withIt.stdout).toContain('us-east-1_Pipe');
      const r = await withClosedOutput([...args, root]);
      expect(r.stderr).not.toMatch(STACK);
      expect(r).toMatchObject({ code: withIt.code, signal: null });
    },
  );

  it('stdout and stderr both closed (`2>&1 | head`): a usage error still exits 2, silently', async () => {
    const r = await withClosedOutput(['backup', '--no-such-flag'], true);
    expect(r).toMatchObject({ code: 2, signal: null });
  });
});
