import { describe, expect, it } from 'vitest';
import * as testbed from '../../testing/testbed.js';
import { fromTestbedError, loadTestbed, type Testbed } from '../../src/demo/testbed.js';
import { EmulatorError } from '../../testing/emulator.js';
import { ExitCode, InterruptedError, VaultError } from '../../src/core/errors.js';

describe('the demo testbed (testing/, loaded at run time, never shipped)', () => {
  it('testing/testbed.ts implements the contract src/demo/testbed.ts loads it by', async () => {
    // By type: a mismatch is a compile error here (tsc --noEmit covers test/ and testing/).
    const typed: Testbed = testbed;
    expect(Object.keys(typed).sort()).toEqual(['credentials', 'seedPool', 'startEmulator']);
    // From the sources, the loader finds testing/testbed.ts (from dist/, testing/dist/).
    const loaded = await loadTestbed();
    expect(loaded.startEmulator).toBe(testbed.startEmulator);
  });

  it("turns the testbed's own errors into the product's (same code, exit 1)", () => {
    const missing = fromTestbedError(
      new EmulatorError('EMULATOR_MISSING', 'moto_server is not installed', 'moto_server'),
    );
    expect(missing).toBeInstanceOf(VaultError);
    expect(missing).toMatchObject({
      code: 'EMULATOR_MISSING',
      exitCode: ExitCode.Unexpected,
      context: { program: 'moto_server' },
    });
    const ac = new AbortController();
    ac.abort();
    expect(fromTestbedError(new Error('x'), ac.signal)).toBeInstanceOf(InterruptedError);
  });
});
