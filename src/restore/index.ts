export { restoreSnapshot, restoreExitCode, DOMAIN_PREFIX } from './engine.js';
export { legacyAttributeName } from './pool/target.js';
export { loadIdpSecrets, type IdpSecrets } from './preflight/idp-secrets.js';
export { defaultStateDir } from './state/outputs.js';
export type * from './types.js';
export { cloudWatchLogReader } from './users/import/jobs.js';
