import { startEmulator, type Emulator } from '../../src/demo/emulator.js';
import type { ImportJobDoubleOptions } from '../../src/demo/import-job-double.js';

export { freePort } from '../../src/demo/emulator.js';

/** A moto server on a free loopback port, started by the test and stopped by PID. */
export type MotoServer = Emulator;

/** Starts `moto_server -H 127.0.0.1 -p PORT` (MOTO_SERVER overrides the program). */
export function startMoto(
  opts: {
    timeoutMs?: number;
    /** Put the CSV import-job double in front of moto (`endpoint` is then the double's). */
    importJobs?: boolean | Omit<ImportJobDoubleOptions, 'upstream'>;
  } = {},
): Promise<MotoServer> {
  return startEmulator(opts);
}

/** Environment for talking to moto: fake credentials, no instance-metadata lookups. */
export const MOTO_ENV = {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
} as const;
