import { spawn } from 'node:child_process';
import path from 'node:path';
import { MOTO_ENV } from './moto.js';

/** The built CLI (dist/cli/main.js), run as a user runs it: a child process. */
export const CLI = path.resolve('dist/cli/main.js');

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Started {
  child: ReturnType<typeof spawn>;
  done: Promise<Run>;
  /** Resolves when stderr (or stdout) contains text matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
}

/**
 * Environment of a user with moto's credentials and nothing from this machine's AWS config;
 * `home` holds no AWS files. `endpoint` (moto) is also the default endpoint of every AWS
 * client, so nothing can reach a real AWS endpoint whatever the flags say.
 */
export function cliEnv(
  home: string,
  endpoint: string | undefined,
  overrides: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_CONFIG_FILE: path.join(home, 'no-such-dir', 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-such-dir', 'credentials'),
    ...MOTO_ENV,
    ...(endpoint ? { AWS_ENDPOINT_URL: endpoint } : {}),
    ...overrides,
  };
  for (const [k, v] of Object.entries(e)) if (v === undefined) delete e[k];
  return e;
}

export function startCli(
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number },
): Started {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    env: opts.env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.re.test(stderr) || w.re.test(stdout)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    check();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    check();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
  return {
    child,
    done,
    waitFor(re, timeoutMs = 30_000) {
      if (re.test(stderr) || re.test(stdout)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`no output matching ${re} within ${timeoutMs} ms:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
        void done.then(() => {
          clearTimeout(t);
          reject(new Error(`CLI exited before printing ${re}:\n${stderr}\n${stdout}`));
        });
      });
    },
  };
}

/** Non-empty lines of a run's stdout and stderr together. */
export function outputLines(r: Run): string[] {
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim().length > 0);
}
