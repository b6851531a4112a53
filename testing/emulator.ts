import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import {
  type ImportJobDouble,
  type ImportJobDoubleOptions,
  startImportJobDouble,
} from './import-job-double.js';
import type { Violation } from './request-guard.js';
import { startValidatingProxy, type ValidatingProxy } from './validating-proxy.js';

/**
 * Why the emulator could not start. Its own class (testing/ imports nothing of src, so that the
 * doubles check the product instead of sharing its code): the demo (src/demo/run.ts) turns it
 * into the product's VaultError with the same code.
 */
export class EmulatorError extends Error {
  constructor(
    readonly code: 'EMULATOR_MISSING' | 'EMULATOR_FAILED' | 'EMULATOR_INTERRUPTED',
    message: string,
    readonly program: string,
  ) {
    super(message);
    this.name = 'EmulatorError';
  }
}

/** A moto server (the local AWS emulator) on a free loopback port, stopped by PID. */
export interface Emulator {
  /**
   * The Cognito endpoint to use: the request-validating front when started with
   * `validateRequests`, else the import-job double when started with `importJobs`, else moto.
   * Fronts chain: client → validating front → import-job double → moto.
   */
  endpoint: string;
  /** moto itself (also its S3 and CloudWatch Logs). */
  motoEndpoint: string;
  /** The import-job double in front of moto, when asked for. */
  importJobs?: ImportJobDouble;
  /** Present when started with `validateRequests`: the model check of every Cognito request. */
  requestCheck?: { checked(): number; violations(): Violation[] };
  port: number;
  pid: number;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(
  endpoint: string,
  child: ChildProcess,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted)
      throw new EmulatorError('EMULATOR_INTERRUPTED', 'interrupted', 'moto_server');
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`);
    try {
      const r = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (r.status < 500) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not start within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts `moto_server -H 127.0.0.1 -p PORT` (the MOTO_SERVER environment variable names another
 * program). Fails with a clear message when the program is not installed.
 */
export async function startEmulator(
  opts: {
    timeoutMs?: number;
    program?: string;
    /**
     * Put the CSV import-job double (testing/import-job-double.ts) in front of moto: `endpoint`
     * is then the double's, which forwards everything else to moto. Off by default.
     */
    importJobs?: boolean | Omit<ImportJobDoubleOptions, 'upstream'>;
    /**
     * Put a front before everything else that checks every Cognito request against Cognito's
     * API model (botocore's, installed with moto; see validating-proxy.ts). Fails to start when
     * the model cannot be found. `reject` answers violations as AWS would instead of only
     * recording them.
     */
    validateRequests?: boolean | { reject: boolean };
    /** Stops waiting for the emulator to come up (SIGINT/SIGTERM). */
    signal?: AbortSignal;
  } = {},
): Promise<Emulator> {
  const program = opts.program ?? process.env.MOTO_SERVER ?? 'moto_server';
  const port = await freePort();
  const child = spawn(program, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const spawned = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (e) => resolve(e));
  });
  if (spawned) {
    throw new EmulatorError(
      'EMULATOR_MISSING',
      spawned.code === 'ENOENT'
        ? `${program} is not installed: the demo needs the moto AWS emulator (pip install "moto[server]")`
        : `cannot start ${program}: ${spawned.message}`,
      program,
    );
  }
  // However this process ends (an error, SIGTERM's deadline, process.exit), the emulator ends
  // with it: an 'exit' listener runs synchronously even then.
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(endpoint, child, opts.timeoutMs ?? 30_000, opts.signal);
  } catch (e) {
    child.kill('SIGKILL');
    if (e instanceof EmulatorError) throw e;
    throw new EmulatorError(
      'EMULATOR_FAILED',
      `${(e as Error).message}: ${stderr.trim().split('\n').pop() ?? ''}`,
      program,
    );
  }
  const pid = child.pid ?? 0;
  let importJobs: ImportJobDouble | undefined;
  if (opts.importJobs) {
    try {
      importJobs = await startImportJobDouble({
        logs: { endpoint },
        ...(typeof opts.importJobs === 'object' ? opts.importJobs : {}),
        upstream: endpoint,
      });
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
  }
  let front: ValidatingProxy | undefined;
  if (opts.validateRequests) {
    try {
      front = await startValidatingProxy({
        upstream: importJobs?.endpoint ?? endpoint,
        reject: typeof opts.validateRequests === 'object' && opts.validateRequests.reject,
      });
    } catch (e) {
      await importJobs?.stop();
      child.kill('SIGKILL');
      throw new EmulatorError(
        'EMULATOR_FAILED',
        `cannot start the request-validating front: ${(e as Error).message}`,
        program,
      );
    }
  }
  return {
    endpoint: front?.endpoint ?? importJobs?.endpoint ?? endpoint,
    motoEndpoint: endpoint,
    ...(importJobs ? { importJobs } : {}),
    ...(front ? { requestCheck: { checked: front.checked, violations: front.violations } } : {}),
    port,
    pid,
    async reset() {
      await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    },
    async stop() {
      await front?.stop();
      await importJobs?.stop();
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      process.kill(pid, 'SIGTERM');
      const t = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Credentials the emulator accepts; never valid anywhere else. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;
