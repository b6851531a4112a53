import { startEmulator, type Emulator } from '../../testing/emulator.js';
import type { ImportJobDoubleOptions } from '../../testing/import-job-double.js';
import { formatViolation, type Violation } from '../../testing/request-guard.js';

export { freePort } from '../../testing/emulator.js';
export { startValidatingProxy } from '../../testing/validating-proxy.js';
export type { Violation } from '../../testing/request-guard.js';

/**
 * A moto server on a free loopback port, started by the test and stopped by PID, behind the
 * request-validating front: `endpoint` is the front, so every Cognito request a test sends —
 * through the gateway, a raw SDK client or a CLI child process given `--endpoint-url` — is
 * checked against Cognito's API model (botocore's). `stop()` fails the test file when any
 * request violated the model; `violations()` reads them earlier.
 */
export interface MotoServer extends Emulator {
  violations(): Violation[];
  /** Cognito requests checked so far (a test can assert the guard actually saw traffic). */
  checked(): number;
}

/**
 * Starts `moto_server -H 127.0.0.1 -p PORT` (MOTO_SERVER overrides the program) with the
 * validating front (and, with `importJobs`, the CSV import-job double between the front and
 * moto). Fails (never skips) when botocore's Cognito model cannot be found.
 * `allowViolations` is for tests that send invalid requests on purpose.
 */
export async function startMoto(
  opts: {
    timeoutMs?: number;
    /** Put the CSV import-job double in front of moto (behind the validating front). */
    importJobs?: boolean | Omit<ImportJobDoubleOptions, 'upstream'>;
    allowViolations?: boolean;
  } = {},
): Promise<MotoServer> {
  const emu = await startEmulator({
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.importJobs ? { importJobs: opts.importJobs } : {}),
    validateRequests: true,
  });
  const check = emu.requestCheck;
  if (!check) throw new Error('the emulator started without the request-validating front');
  return {
    ...emu,
    violations: check.violations,
    checked: check.checked,
    async stop() {
      await emu.stop();
      const found = check.violations();
      if (found.length > 0 && !opts.allowViolations) {
        throw new Error(
          `${found.length} request(s) violated Cognito's API model (real AWS would refuse them):\n  ${[...new Set(found.map(formatViolation))].join('\n  ')}`,
        );
      }
    },
  };
}

/** Environment for talking to moto: fake credentials, no instance-metadata lookups. */
export const MOTO_ENV = {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
} as const;
