export { canonical } from '../cognito/fields.js';
export {
  compareSides,
  partitionsFor,
  RESTORED_STATUS,
  restoredStatus,
  type CompareOptions,
  type DifferenceKind,
  type PoolComparison,
  type PoolDifference,
  type StatusMapping,
  type SubMapEntry,
  type UserChangeClass,
} from './engine.js';
export { comparePools } from './pools.js';
export {
  diffSnapshot,
  readSubMapFile,
  type DiffOptions,
  type DiffResult,
  type ResourceDiff,
  type ResourceKind,
} from './diff.js';
export {
  poolSide,
  snapshotSide,
  type CompareSide,
  type SideResources,
  type UserLike,
} from './sides.js';
export { differenceSelection, type Differences } from './selection.js';
