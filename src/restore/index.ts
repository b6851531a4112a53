export { restoreSnapshot, restoreExitCode, DOMAIN_PREFIX } from './engine.js';
export { legacyAttributeName } from './pool.js';
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
