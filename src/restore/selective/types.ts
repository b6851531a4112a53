import type { CategoryReport } from '../../cognito/rate.js';
import type { ProgressListener } from '../../core/progress.js';
import type { PasswordState } from '../users/sign-in.js';
import type { FailedUser, ResourceFailure, RestoreWarning } from '../types.js';

/** The pool resources a selection can name (configuration names, never personal data). */
export type ResourceKind = 'group' | 'client' | 'identityProvider' | 'resourceServer';
export const RESOURCE_KINDS: readonly ResourceKind[] = [
  'group',
  'resourceServer',
  'identityProvider',
  'client',
];

/**
 * What `diff` found between the snapshot and the pool (`--differences`): usernames of users that
 * differ or are only in the snapshot, and names of resources that differ or are only in the
 * snapshot. Computed by the comparison layer (src/compare/selection.ts) and handed in by the
 * caller; the restore layer never imports the comparison.
 */
export interface DifferenceSet {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  clients: ReadonlySet<string>;
  identityProviders: ReadonlySet<string>;
  resourceServers: ReadonlySet<string>;
}

/** Whether a snapshot user was erased (the erasure ledger, src/snapshot/erasure-ledger.ts). */
export interface ErasureCheck {
  has(username: string, sub: string | undefined): boolean;
}

/** What to do with a selected user or resource that still exists in the pool. */
export type ExistingMode = 'skip' | 'revert';
export const EXISTING_MODES: readonly ExistingMode[] = ['skip', 'revert'];

/**
 * A selection (`restore --to-user-pool-id ID --user … --group …`): repeatable, combinable. Any
 * selector makes the restore selective (and implies --merge).
 */
export interface Selection {
  /** --user NAME (repeatable). */
  users?: readonly string[];
  /** --users-from FILE (repeatable): one username a line, or a `diff --details` file. */
  usersFrom?: readonly string[];
  /** --group NAME: the group's settings and its members as of the snapshot. */
  groups?: readonly string[];
  /** --client NAME (app client name). */
  clients?: readonly string[];
  /** --identity-provider NAME. */
  identityProviders?: readonly string[];
  /** --resource-server IDENTIFIER. */
  resourceServers?: readonly string[];
  /**
   * --differences: everything diff finds; narrowed by the other selectors when any is given
   * (then only what they select and also differs).
   */
  differences?: DifferenceSet;
}

export interface SelectiveOptions {
  selection: Selection;
  /**
   * Computes `selection.differences` (`--differences`: the CLI passes the comparison layer's
   * differenceSelection): called under the engine's read lease, before the plan, so the snapshot
   * compared is the one restored from. Overrides `selection.differences`.
   */
  findDifferences?: (signal: AbortSignal) => Promise<DifferenceSet>;
  /** What happens to selected users and resources that exist (default skip: counted, untouched). */
  existing?: ExistingMode;
  /** --plan-hash: refuse (exit 9, nothing written) unless the plan computed now has this hash. */
  planHash?: string;
  /** --dry-run: the plan only. Per-user detail goes to this 0600 file. */
  planFile?: string;
  /** Identity provider secrets by provider name (--idp-secrets). */
  idpSecrets?: Record<string, Record<string, string>>;
  passwordState?: PasswordState;
  /** Journal, report and maps (default ./cognito-vault-restore/<snapshot>--<pool>--selective-<hash>). */
  stateDir?: string;
  subMapFile?: string;
  /** Store each created user's old sub in custom:<NAME>. */
  legacySubAttribute?: string;
  /** Rewrites account- and Region-bound ARNs (as for a full restore). */
  mapArns?: Record<string, string>;
  mapArnsSource?: string;
  allowForeignArns?: boolean;
  /**
   * Selections of at most this many users are looked up one by one with ListUsers filters
   * (default 100); larger ones list the pool once.
   */
  lookupLimit?: number;
  rttMs?: number;
  /**
   * Users erased with `cognito-vault forget` (the pool's erasure ledger): never re-created,
   * counted in the result.
   */
  erasures?: ErasureCheck;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  now?: () => Date;
}

/** Counts per action for one kind of thing. */
export interface ActionCounts {
  create: number;
  revert: number;
  /** Exists and differs, left as it is (--existing skip). */
  skip: number;
  /** Exists and is as in the snapshot. */
  unchanged: number;
}

export interface SelectiveCounts {
  users: ActionCounts & {
    /** Erased with `forget` (in the erasure ledger): never re-created. */
    erased: number;
    /** Names (from --users-from / --differences) the snapshot does not hold. */
    notInSnapshot: number;
    /** Federated (EXTERNAL_PROVIDER) users: not created by API. */
    externalProvider: number;
  };
  group: ActionCounts;
  resourceServer: ActionCounts;
  identityProvider: ActionCounts;
  client: ActionCounts;
  memberships: { add: number; remove: number };
  attributes: {
    /** Attribute values put back (or removed) on existing users. */
    revert: number;
    /** Immutable or not writable by API: reported, not written. */
    unwritable: number;
    /** Email/phone changes Cognito would answer with a verification message: refused. */
    refused: number;
  };
  enabled: { enable: number; disable: number };
}

export interface SelectivePlanResult {
  dryRun: true;
  selective: true;
  snapshot: string;
  snapshotId: string;
  userPoolId: string;
  existing: ExistingMode;
  planHash: string;
  counts: SelectiveCounts;
  /** Users the plan writes (created or changed): each is billed as a monthly active user. */
  usersToWrite: number;
  planFile?: string;
  requests: number;
  warnings: RestoreWarning[];
}

export interface SelectiveResult {
  dryRun: false;
  selective: true;
  snapshot: string;
  snapshotId: string;
  userPoolId: string;
  existing: ExistingMode;
  planHash: string;
  resumed: boolean;
  counts: SelectiveCounts;
  /** Users written by this restore (all runs): created or changed, each a billed MAU. */
  usersWritten: number;
  created: number;
  reverted: number;
  failed: number;
  subMap: string;
  clientMap: string;
  report: string;
  stateDir: string;
  durationMs: number;
  /** Cognito requests this run sent (reads and writes). */
  requests: number;
  failedUsers: FailedUser[];
  resourceFailures: ResourceFailure[];
  warnings: RestoreWarning[];
  rates: CategoryReport[];
}

export type SelectiveOutcome = SelectivePlanResult | SelectiveResult;
