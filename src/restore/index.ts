export { restoreSnapshot, restoreExitCode } from './engine.js';
export {
  comparePools,
  type CompareOptions,
  type PoolComparison,
  type PoolDifference,
  type SubMapEntry,
} from './compare.js';
export { loadIdpSecrets, type IdpSecrets } from './idp-secrets.js';
export { defaultStateDir } from './outputs.js';
export type * from './types.js';
