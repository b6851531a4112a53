import type { ProgressListener } from '../core/progress.js';
import type { RestoreOptions } from '../restore/index.js';
import type { CleanupResult } from './pools.js';
import type { RecoveryCheck } from './recovery.js';
import type { RtoEstimate } from './rto.js';

export type UsersPath = NonNullable<RestoreOptions['usersPath']>;
type ImportLogReader = NonNullable<RestoreOptions['importLogs']>;

export interface DrillOptions {
  /** Restore a deterministic sample of this many users (default: every user). */
  sample?: number;
  /** Changes which users the sample draws (default "cognito-vault"). */
  seed?: string;
  /** How users are written, as restore's `usersPath` (default auto). */
  usersPath?: UsersPath;
  /** CloudWatchLogsRoleArn for the import-job path. */
  importLogsRoleArn?: string;
  importLogs?: ImportLogReader;
  /** The account's user-pool quota in this Region (default 1,000). */
  poolLimit?: number;
  /** Where the restore's journal and maps go while the drill runs (default: a temp dir, removed). */
  workDir?: string;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  /** Override the drill id (tests). */
  drillId?: string;
  /** Override the clock (tests). */
  now?: () => Date;
  /** Heartbeat period (default 30 s; tests). */
  heartbeatMs?: number;
  /** Restore settings passed through (tests: import-job polling, uploads, settle delays). */
  restoreOverrides?: Pick<
    RestoreOptions,
    'importPollMs' | 'importUpload' | 'settleDelaysMs' | 'rttMs'
  >;
  /** Called once the scratch pool exists (tests: kill -9 points). */
  onScratchPool?: (poolId: string) => void;
}

export type CheckName = 'snapshot' | 'restore' | 'compare' | 'recovery' | 'cleanup';

export interface DrillCheck {
  name: CheckName;
  passed: boolean;
  detail: string;
}

/** A difference between the scratch pool and the snapshot; users by class only (no usernames). */
export interface DrillDifference {
  kind: string;
  field?: string;
  class?: string;
  only?: 'A' | 'B';
  /** Resource name or setting (configuration); absent for users and memberships. */
  key?: string;
}

export interface DrillCost {
  /** Users the drill writes into the scratch pool. */
  usersWritten: number;
  /**
   * Monthly active users billed: each user created with AdminCreateUser (or read with
   * AdminGetUser) counts as an MAU of the scratch pool this month; import jobs add none.
   */
  mauBilled: number;
}

export interface DrillResult {
  drillId: string;
  passed: boolean;
  snapshot: string;
  snapshotId: string;
  sourceUserPoolId: string;
  scratchPoolId?: string;
  scratchPoolName: string;
  sample: { size: number | undefined; seed: string; users: number; of: number };
  usersPath: UsersPath;
  checks: DrillCheck[];
  counts: {
    users: {
      restored: number;
      created: number;
      imported: number;
      failed: number;
      externalProvider: number;
    };
    groups: number;
    memberships: number;
    clients: number;
    identityProviders: number;
    resourceServers: number;
    resourceFailures: number;
  };
  differences: { total: number; listed: DrillDifference[] };
  recovery?: RecoveryCheck;
  rto?: RtoEstimate;
  /** Before the drill: what it would write and bill at most. */
  plannedCost: DrillCost;
  cost: DrillCost;
  cleanup: { scratchDeleted: boolean; stale: CleanupResult };
  durationMs: number;
  warnings: string[];
}
