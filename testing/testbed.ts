/**
 * The demo's entry into testing/ (src/demo/testbed.ts is the contract; `npm run build` compiles
 * this folder to testing/dist/, which the npm package never carries). Nothing here imports src:
 * the doubles judge the product, they do not share its code.
 */
import { EMULATOR_CREDENTIALS, startEmulator as startMoto } from './emulator.js';
import { formatViolation } from './request-guard.js';

export { seedPool } from './seed.js';

export const credentials = EMULATOR_CREDENTIALS;

export async function startEmulator(opts: {
  validateRequests: boolean;
  importJobs?: { jobDelayMs: number };
  signal?: AbortSignal;
}): Promise<{
  endpoint: string;
  motoEndpoint: string;
  requestCheck?: { checked(): number; violationMessages(): string[] };
  stop(): Promise<void>;
}> {
  const emulator = await startMoto(opts);
  const check = emulator.requestCheck;
  return {
    endpoint: emulator.endpoint,
    motoEndpoint: emulator.motoEndpoint,
    ...(check
      ? {
          requestCheck: {
            checked: () => check.checked(),
            violationMessages: () => [...new Set(check.violations().map(formatViolation))],
          },
        }
      : {}),
    stop: () => emulator.stop(),
  };
}
