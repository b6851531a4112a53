import { MOTO_ENV } from './moto.js';

/** Puts moto's fake credentials into this test process's environment. */
export function useMotoEnv(): void {
  for (const [k, v] of Object.entries(MOTO_ENV)) process.env[k] = v;
  delete process.env.AWS_PROFILE;
}

/**
 * For a test that needs something of the machine (mount rights, /proc): when it is missing the
 * test is skipped on a developer's machine, but FAILS when `CI` is set — a CI run must never pass
 * by skipping what it was meant to check.
 */
export function requireOrSkip(ctx: { skip: (note?: string) => void }, ok: boolean, what: string) {
  if (ok) return;
  if (process.env.CI) throw new Error(`this machine lacks ${what}; CI must not skip the test`);
  ctx.skip(`needs ${what}`);
}
