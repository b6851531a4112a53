import type { UserPoolType } from '@aws-sdk/client-cognito-identity-provider';
import type { ProgressListener } from '../core/progress.js';
import type { CognitoGateway } from '../cognito/gateway.js';
import type { FileEntry, Warning } from '../snapshot/format.js';
import type { HeldLease } from '../snapshot/lease.js';
import type {
  MembershipSegment,
  PageRecord,
  ProgressPlan,
  UnitRecord,
} from '../snapshot/progress.js';
import type { SnapshotWriter } from '../snapshot/writer.js';
import type { Storage } from '../storage/storage.js';
import type { BackupOptions } from './types.js';

/**
 * What every step of one backup shares: the gateway (this run's signal on every call), the
 * backup root, the options, the run's abort signal and its warnings. Created once by backupPool;
 * the steps (plan, users, resources, memberships, commit) read it and add warnings through
 * `warn`.
 */
export interface BackupRun {
  readonly gw: CognitoGateway;
  readonly root: Storage;
  readonly opts: BackupOptions;
  readonly poolId: string;
  readonly region: string;
  /** Names and dates a new snapshot (`opts.now`, else the clock). */
  readonly startedAt: Date;
  readonly progress: ProgressListener;
  /** Aborted by the caller's signal (as InterruptedError) or by the first failing step. */
  readonly signal: AbortSignal;
  /**
   * True once the caller's signal aborted (Ctrl-C, SIGTERM, a Lambda deadline): the users step
   * then stores the pages it holds (each open segment closed at its last page) before stopping.
   */
  readonly stopping: () => boolean;
  readonly abort: (reason: unknown) => void;
  /** Every warning of the snapshot, in order (the manifest's list). */
  readonly warnings: Warning[];
  readonly warn: (w: Warning) => void;
  /** performance.now() at the start, for durationMs. */
  readonly t0: number;
}

/** What the plan step established: the snapshot being written and what earlier runs left. */
export interface BackupPlan {
  readonly pool: UserPoolType;
  readonly snapshotId: string;
  /** progress/plan.json: the users step writes the sharding into it once decided. */
  readonly plan: ProgressPlan;
  /** Units finished by earlier runs (backup --resume), by unit. */
  readonly kept: ReadonlyMap<string, UnitRecord>;
  /** Users units earlier runs left with stored segments: their linked page records. */
  readonly chains: ReadonlyMap<string, readonly PageRecord[]>;
  /** Memberships segments earlier runs stored (the unit not finished): whole groups each. */
  readonly segments: readonly MembershipSegment[];
  readonly lease: HeldLease;
  /** The snapshot's manifest writer (files of kept units adopted into it). */
  readonly writer: SnapshotWriter;
  /** The snapshot's own storage (`<root>/<pool>/<snapshot>`). */
  readonly snap: Storage;
  /** A new writer over the same snapshot whose files are not listed until adopted. */
  readonly segmentWriter: () => SnapshotWriter;
  /** This run's index: 0 for the run that started the snapshot, n for its n-th resume. */
  readonly runIndex: number;
  /** A new part name for each resume, so an unrecorded part of an earlier run never mixes in. */
  readonly partSuffix: string;
}

/** The counts the steps add up for the manifest and the progress events. */
export interface Tally {
  users: number;
  memberships: number;
  clients: number;
  identityProviders: number;
  resourceServers: number;
  groups: number;
  /** Page and unit records this run made durable: 0 when a stopped run made no progress. */
  durableRecords: number;
  /** Users shards continued from an earlier run's page records. */
  shardsContinued: number;
}

/** One finished unit, recorded under progress/units/ once its files are durable. */
export interface UnitDone {
  unit: string;
  files: FileEntry[];
  counts: Record<string, number>;
  warnings: Warning[];
  prefix?: string;
}
