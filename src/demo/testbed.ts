import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ExitCode, InterruptedError, UsageError, VaultError } from '../core/errors.js';
import type { CognitoGateway } from '../cognito/gateway.js';

/**
 * What the demo takes from the repository's testing/ folder — the moto emulator, the CSV
 * import-job double, the request guard and the pool seeder. Test doubles are not part of the
 * product: they are not in dist/ and not in the npm package (test/release/pack.test.ts). The
 * demo loads them at run time from a clone (`npm run build` compiles testing/ to
 * testing/dist/); an installed package says it needs a clone. testing/testbed.ts implements
 * this contract (test/unit/demo-testbed.test.ts checks that it does, by type).
 */
export interface SeedResult {
  userPoolId: string;
  clientIds: string[];
  users: number;
  groups: number;
  memberships: number;
  disabled: number;
}

export interface DemoEmulator {
  /** The Cognito endpoint (the fronts, when started with them). */
  endpoint: string;
  /** moto itself (also its CloudWatch Logs). */
  motoEndpoint: string;
  /** Present when started with validateRequests: requests checked, violations (no values). */
  requestCheck?: { checked(): number; violationMessages(): string[] };
  stop(): Promise<void>;
}

export interface Testbed {
  startEmulator(opts: {
    validateRequests: boolean;
    importJobs?: { jobDelayMs: number };
    signal?: AbortSignal;
  }): Promise<DemoEmulator>;
  /** Credentials the emulator accepts; never valid anywhere else. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  seedPool(
    gw: CognitoGateway,
    opts: { poolName: string; users: number; groups: number },
  ): Promise<SeedResult>;
}

/** Where the compiled testbed is, from dist/demo/ (or from src/demo/ when run from sources). */
function testbedUrl(): URL {
  return fileURLToPath(import.meta.url).endsWith('.ts')
    ? new URL('../../testing/testbed.ts', import.meta.url)
    : new URL('../../testing/dist/testbed.js', import.meta.url);
}

export async function loadTestbed(): Promise<Testbed> {
  const url = testbedUrl();
  if (!existsSync(fileURLToPath(url))) {
    throw new UsageError(
      'DEMO_NEEDS_CLONE',
      'the demo runs on a local AWS emulator (moto) and test doubles that are not part of the npm package: run it from a clone of the repository (npm ci && npm run demo)',
    );
  }
  return (await import(url.href)) as Testbed;
}

/** The testbed's own errors (it imports nothing of src) as the product's: same code, exit 1. */
export function fromTestbedError(e: unknown, signal?: AbortSignal): unknown {
  if (e instanceof VaultError) return e;
  if (signal?.aborted) return new InterruptedError();
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'EMULATOR_MISSING' || code === 'EMULATOR_FAILED') {
    const program = (e as { program?: unknown }).program;
    return new VaultError(code, (e as Error).message, ExitCode.Unexpected, {
      ...(typeof program === 'string' ? { program } : {}),
    });
  }
  return e;
}
