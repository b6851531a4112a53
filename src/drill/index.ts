export { runDrill, drillExitCode, DEFAULT_SEED } from './engine.js';
export {
  cleanupDrillPools,
  deleteDrillPool,
  DRILL_TAG,
  HEARTBEAT_TAG,
  DRILL_POOL_PREFIX,
  STALE_AFTER_MS,
  DEFAULT_POOL_LIMIT,
  type CleanupResult,
} from './pools.js';
export { estimateRto, type RtoEstimate, type PathEstimate, type DrillMeasurements } from './rto.js';
export { drawSample, sampleKey } from './sample.js';
export type * from './types.js';
