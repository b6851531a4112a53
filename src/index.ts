/**
 * cognito-vault as a library: the same engines the CLI drives.
 *
 *   const gw = CognitoGateway.create({ region: 'eu-west-1' });
 *   const result = await backupPool(gw, openStorage('s3://my-bucket/cognito'), { userPoolId });
 */
export * from './core/errors.js';
export type { ProgressEvent, ProgressListener } from './core/progress.js';
export { TOOL_NAME, TOOL_VERSION } from './core/version.js';
export {
  CognitoGateway,
  createCognitoClient,
  items,
  paceClient,
  regionOfPoolId,
  resolveRegion,
  withCallOptions,
  type CallOptions,
  type ClientSettings,
  type GatewayOptions,
  type RetryPolicy,
} from './cognito/gateway.js';
export { QUOTA_CATEGORIES, OPERATION_CATEGORY, type QuotaCategory } from './cognito/quotas.js';
export {
  AdaptiveRateLimiter,
  RateController,
  type RateOptions,
  type CategoryReport,
} from './cognito/rate.js';
export {
  backupPool,
  backupAllPools,
  type BackupOptions,
  type BackupResult,
} from './backup/engine.js';
export { findResumableBackup, type FindResumableOptions } from './backup/resume.js';
export {
  backupRegions,
  regionsExitCode,
  type BackupRegionsOptions,
  type FailureInfo,
  type PoolOutcome,
  type RegionOutcome,
  type RegionPlan,
  type RegionProgressEvent,
  type RegionsResult,
} from './backup/regions.js';
export {
  COGNITO_REGIONS,
  isOptInRegion,
  parseRegionList,
  type RegionSelection,
} from './cognito/regions.js';
export * from './restore/index.js';
export * from './compare/index.js';
export * from './snapshot/index.js';
export * from './storage/index.js';
export { iamPolicy, type PolicyOptions } from './policy/iam.js';
