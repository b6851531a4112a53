import type { UserPoolType } from '@aws-sdk/client-cognito-identity-provider';
import type { ProgressListener } from '../core/progress.js';
import type { CognitoGateway } from '../cognito/gateway.js';
import type { SnapshotReader } from '../snapshot/reader.js';
import type { ArnPreflightResult } from './preflight/arns.js';
import type { ImportPhaseResult, UsersPathPlan } from './users/import/phase.js';
import type { JournalState, RestoreJournal } from './state/journal.js';
import type { MembershipIndex } from './users/memberships.js';
import type { PoolCreatePlan, UserScan } from './pool/target.js';
import type { SnapshotData } from './preflight/snapshot.js';
import type { PasswordState } from './users/sign-in.js';
import type { RestoreOptions, RestoreTarget, RestoreWarning } from './types.js';
import type { UserPhaseResult } from './users/admin-create.js';

/**
 * What every step of one restore shares: the gateway, the snapshot, the options, the run's
 * abort signal and its warnings. Created once by restoreSnapshot; the steps (preflight,
 * ensure-pool, ensure-domain, run-phases, report) read it and add warnings through `warn`.
 */
export interface RestoreRun {
  readonly gw: CognitoGateway;
  readonly reader: SnapshotReader;
  readonly options: RestoreOptions;
  readonly target: RestoreTarget;
  readonly now: () => Date;
  readonly progress: ProgressListener;
  /** Aborted by the caller's signal (as InterruptedError) or by the first failing phase. */
  readonly signal: AbortSignal;
  readonly abort: (reason: unknown) => void;
  /** Warnings so far, by message (each is reported once). */
  readonly warnings: Map<string, RestoreWarning>;
  readonly warn: (w: RestoreWarning) => void;
  /** performance.now() at the start, for durationMs. */
  readonly t0: number;
}

/**
 * The state directory lock preflight takes before reading the journal. It stays here while
 * preflight runs (restoreSnapshot releases it, and removes the directory it created, when
 * preflight fails: releaseUntaken); the journal takes it over once the restore starts (takeLock).
 */
export type { LockSlot } from './state/lock.js';

/** What preflight established: nothing in Cognito has been written when it returns. */
export interface Preflight {
  readonly snapshotId: string;
  readonly sourcePoolId: string;
  readonly stateDir: string;
  readonly subMapFile: string;
  /** The snapshot's small documents (ARNs already rewritten by --map-arns). */
  readonly data: SnapshotData;
  readonly legacy: string | undefined;
  readonly passwordState: PasswordState;
  /** The journal of an earlier run of this restore, if any. */
  readonly prior: JournalState | undefined;
  /** The target pool as described before any write (an existing, or an earlier run's, pool). */
  readonly targetPool: UserPoolType | undefined;
  /** The target pool id when it is known before any write. */
  readonly poolId: string | undefined;
  readonly existingTarget: boolean;
  readonly creating: boolean;
  readonly usernameAttributes: string[];
  readonly scan: UserScan;
  readonly arns: ArnPreflightResult;
  readonly index: MembershipIndex;
  /** CreateUserPool's input and its warnings, when the pool is still to be created. */
  readonly poolPlan: PoolCreatePlan | undefined;
  readonly webauthn: { webauthnRpId?: string };
  readonly usersPlan: UsersPathPlan;
}

/** The target pool once it exists. */
export interface PoolReady {
  readonly poolId: string;
  readonly createdPool: boolean;
}

/** The restore's write steps share the preflight, the pool and the journal. */
export interface RunStep {
  readonly run: RestoreRun;
  readonly pre: Preflight;
  readonly journal: RestoreJournal;
}

/** What the pipelined resource and user phases produced. */
export interface PhasesResult {
  readonly users: UserPhaseResult;
  readonly imported: ImportPhaseResult | undefined;
  /** Identity providers not restored (no secret, or refused). */
  readonly skippedIdps: ReadonlySet<string>;
  readonly clientMapFile: string;
  readonly totp: { readonly count: number; readonly file: string };
}
