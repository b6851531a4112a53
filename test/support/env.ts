import { MOTO_ENV } from './moto.js';

/** Puts moto's fake credentials into this test process's environment. */
export function useMotoEnv(): void {
  for (const [k, v] of Object.entries(MOTO_ENV)) process.env[k] = v;
  delete process.env.AWS_PROFILE;
}
