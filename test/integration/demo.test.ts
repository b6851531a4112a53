import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = path.resolve('dist/cli/main.js');

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('cognito-vault demo', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('round-trips a seeded pool through backup and restore and finds both pools identical', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cv-demo-'));
    dirs.push(dir);
    // Every Cognito request the demo sends is checked against Cognito's API model.
    const r = await run(['demo', '--users', '150', '--groups', '65', '--dir', dir, '--json'], {
      COGNITO_VAULT_VALIDATE_REQUESTS: '1',
    });
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as {
      comparison: {
        equal: boolean;
        summary: { users: { a: number; matched: number }; memberships: { a: number; b: number } };
      };
      restore: {
        users: { created: number; imported: number; failed: number };
        disabled: number;
        usersPath: string;
        importJobs: unknown[];
        statuses: Record<string, number>;
      };
      seeded: { users: number; disabled: number; memberships: number };
      snapshot: string;
      emulator: string;
      requestValidation?: { checked: number; violations: string[] };
    };
    expect(result.requestValidation?.violations).toEqual([]);
    expect(result.requestValidation?.checked).toBeGreaterThan(300);
    expect(result.comparison.equal).toBe(true);
    expect(result.comparison.summary.users).toMatchObject({ a: 150, matched: 150 });
    expect(result.comparison.summary.memberships.b).toBe(result.seeded.memberships);
    // The recommended path: CSV import jobs (through the double) for every user they can take,
    // AdminCreateUser for the rest.
    expect(result.restore.usersPath).toBe('auto');
    expect(result.restore.users.failed).toBe(0);
    expect(result.restore.users.imported).toBeGreaterThan(0);
    expect(result.restore.users.imported + result.restore.users.created).toBe(150);
    expect(result.restore.importJobs).toHaveLength(1);
    expect(result.restore.statuses.RESET_REQUIRED).toBe(result.restore.users.imported);
    expect(result.restore.disabled).toBe(result.seeded.disabled);
    expect(await readdir(result.snapshot)).toContain('manifest.json');
    // The emulator was stopped: nothing is left listening on its port.
    await expect(fetch(`${result.emulator}/moto-api/`)).rejects.toMatchObject({
      cause: { code: 'ECONNREFUSED' },
    });
  });

  it('reads as a success: the emulator\'s "refused (HTTP 500)" reads are explained in one line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cv-demo-'));
    dirs.push(dir);
    const r = await run(['demo', '--users', '30', '--groups', '2', '--dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    const refused = `${r.stdout}\n${r.stderr}`.match(/^warning: .*refused \(HTTP 500\)/gm) ?? [];
    expect(refused.length).toBeGreaterThan(0);
    const note = r.stdout.split('\n').filter((l) => /emulator \(moto\) does not implement/.test(l));
    expect(note).toHaveLength(1);
    expect(note[0]).toContain(`the ${refused.length} "refused (HTTP 500)" warning(s) above`);
  });

  it('names the missing emulator program in one line when moto_server is not installed', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cv-demo-'));
    dirs.push(dir);
    const r = await run(['demo', '--dir', dir], { MOTO_SERVER: '/nonexistent/moto_server' });
    expect(r.code).toBe(1);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.includes('error:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\/nonexistent\/moto_server is not installed/);
  });
});
