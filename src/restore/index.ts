export { restoreSnapshot, restoreExitCode, DOMAIN_PREFIX } from './engine.js';
export { legacyAttributeName } from './pool.js';
export { loadIdpSecrets, type IdpSecrets } from './idp-secrets.js';
export { defaultStateDir } from './outputs.js';
export type * from './types.js';
export { cloudWatchLogReader } from './import-jobs.js';
