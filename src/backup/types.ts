import type { ProgressListener } from '../core/progress.js';
import type { CategoryReport } from '../cognito/rate.js';
import type { Manifest, Warning } from '../snapshot/format.js';

/** The public types of the backup engine (re-exported by engine.ts and the package index). */

export interface BackupOptions {
  userPoolId: string;
  /** Region the caller expects (from --region); must match the pool id's region. */
  region?: string;
  /** Keep client secrets and IdP secrets in the snapshot (default: replaced by a marker). */
  includeSecrets?: boolean;
  /**
   * age X25519 recipients (`age1…`, `backup --encrypt-to`): every data file of the snapshot is
   * encrypted to them before it leaves the process; the manifest stays clear (format version 2).
   */
  encryptTo?: readonly string[];
  /** ListUsers shards by sub prefix: 1 (one chain), 16 or 256; default by pool size. */
  shards?: 1 | 16 | 256;
  /**
   * Read each user's MFA settings with AdminGetUser (ListUsers does not return them). Each
   * AdminGetUser counts the user as a monthly active user (MAU) for billing that month.
   */
  userMfa?: boolean;
  /** Parallel ListUsersInGroup chains. */
  membershipWorkers?: number;
  /**
   * The id of an incomplete snapshot of this pool to finish instead of starting a new one
   * (`backup --resume`): only its unfinished units run. Its options (secrets, user MFA,
   * shards) are kept; giving different ones is a UsageError.
   */
  resume?: string;
  /**
   * A users shard is written as segments: a segment (its own part file) is closed at the first
   * ListUsers page boundary this long after it was opened, and once stored a page record
   * (`progress/pages/…`) holds the pagination token to continue from. A resume re-lists at most
   * the pages of the segments open when the run stopped. Default CHECKPOINT_EVERY_MS; 0 closes a
   * segment after every page.
   */
  checkpointEveryMs?: number;
  /**
   * When stopped by `signal` without having stored anything (no page, unit or manifest), throw
   * NoProgressError (code BACKUP_NO_PROGRESS) instead of InterruptedError: for schedulers that
   * resume a stopped backup in a new invocation (the Step Functions unit), which would
   * otherwise loop.
   */
  failWithoutProgress?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  now?: () => Date;
  /** Downloads the hosted UI logo (default: an HTTPS GET, see downloadUiImage). Tests stub it. */
  fetchImage?: (url: string, signal: AbortSignal) => Promise<Uint8Array>;
}

export interface BackupResult {
  /** Where the snapshot is (a path or s3:// URL). */
  snapshot: string;
  snapshotId: string;
  userPoolId: string;
  userPoolName: string;
  users: number;
  groups: number;
  memberships: number;
  clients: number;
  identityProviders: number;
  resourceServers: number;
  durationMs: number;
  /** backup --user-mfa: AdminGetUser calls made (each one a billed MAU this month). */
  userMfa?: UserMfaSummary;
  /** backup --encrypt-to: the age recipients every data file was encrypted to. */
  encryptedTo?: string[];
  /** Present when this run finished a snapshot earlier runs had started (backup --resume). */
  resumed?: {
    count: number;
    unitsKept: number;
    /** Users shards this run continued from a page record instead of from their start. */
    shardsContinued?: number;
  };
  warnings: Warning[];
  rates: CategoryReport[];
  manifest: Manifest;
}

export interface UserMfaSummary {
  /** AdminGetUser calls: each user read this way is a billed monthly active user. */
  usersRead: number;
  billedAsMau: number;
  /** Users with at least one MFA factor activated, by factor. */
  factors: Record<string, number>;
  /** Users gone between ListUsers and AdminGetUser (captured without MFA settings). */
  vanished: number;
}

export type BackupSummary = Omit<BackupResult, 'manifest' | 'userPoolName'>;

/** The result without the manifest: what the CLI's --json and the Lambda report. */
export function backupSummary(r: BackupResult): BackupSummary {
  const { manifest: _manifest, userPoolName: _name, ...rest } = r;
  return rest;
}
