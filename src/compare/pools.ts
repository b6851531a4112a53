import type { CognitoGateway } from '../cognito/gateway.js';
import { type CompareOptions, compareSides, type PoolComparison } from './engine.js';
import { poolSide } from './sides.js';

/**
 * Compares two user pools through the API (A: the source, B: e.g. the restored pool). Used by
 * the demo's summary and the restore tests. Streams both pools (see compareSides); only a sub
 * map to check (`subMap`) is held in memory.
 */
export async function comparePools(
  gwA: CognitoGateway,
  poolA: string,
  gwB: CognitoGateway,
  poolB: string,
  opts: CompareOptions = {},
): Promise<PoolComparison> {
  // The comparison's signal on every call (the gateways may be shared with other runs).
  const a = opts.signal ? gwA.withSignal(opts.signal) : gwA;
  const b = opts.signal ? gwB.withSignal(opts.signal) : gwB;
  return compareSides(poolSide(a, poolA, 'A'), poolSide(b, poolB, 'B'), opts);
}
