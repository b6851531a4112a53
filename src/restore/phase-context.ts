import type { ProgressListener } from '../core/progress.js';
import type { CognitoGateway } from '../cognito/gateway.js';
import type { RestoreJournal } from './state/journal.js';
import type { RestoreWarning } from './types.js';

/**
 * What every write phase (resources/, users/, users/import/) is given: the gateway, the target
 * pool, the journal, and the run's warning, progress and abort channels. Built once by
 * run-phases.ts; a phase module imports this type, never another phase module, for it.
 */
export interface PhaseContext {
  gw: CognitoGateway;
  poolId: string;
  journal: RestoreJournal;
  warn: (w: RestoreWarning) => void;
  progress: ProgressListener;
  signal: AbortSignal;
  /** Called when a group exists in the target (created, found, or done in an earlier run). */
  groupReady?: (name: string) => void;
  /** Override createOnce's settle delays (tests). */
  settleDelaysMs?: readonly number[];
}

/**
 * A user brought into the target another way than AdminCreateUser (CSV import job: `s` 'i'; an
 * existing user in a --merge: 'e'): its username and sub in the target.
 */
export interface ExistingUser {
  username: string;
  sub?: string;
  s: 'i' | 'e';
}
