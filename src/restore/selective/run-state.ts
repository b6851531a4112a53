import type { UserPoolType } from '@aws-sdk/client-cognito-identity-provider';
import type { CognitoGateway } from '../../cognito/gateway.js';
import type { SnapshotReader } from '../../snapshot/reader.js';
import type { JournalState } from '../state/journal.js';
import type { SnapshotData } from '../preflight/snapshot.js';
import type { RestoreWarning } from '../types.js';
import type { MembershipChange, PlanBuilder, ResourceWork, UserWork } from './plan.js';
import type { ExistingMode, SelectiveOptions } from './types.js';

/** What the planning established; nothing has been written when it returns. */
export interface SelectivePlan {
  snapshotId: string;
  sourcePoolId: string;
  poolId: string;
  stateDir: string;
  subMapFile: string;
  data: SnapshotData;
  targetPool: UserPoolType;
  usernameAttributes: string[];
  existing: ExistingMode;
  users: UserWork[];
  resources: ResourceWork[];
  /** Memberships of selected groups to add (and, with revert, remove). */
  memberships: MembershipChange[];
  /** Groups that exist (live) or are created by this plan: memberships into them can be written. */
  groupsAvailable: Set<string>;
  builder: PlanBuilder;
  hash: string;
  prior: JournalState | undefined;
  priorPlanHash: string | undefined;
}

export interface SelectiveRun {
  gw: CognitoGateway;
  reader: SnapshotReader;
  poolId: string;
  options: SelectiveOptions;
  progress: NonNullable<SelectiveOptions['onProgress']>;
  signal: AbortSignal;
  now: () => Date;
  warnings: Map<string, RestoreWarning>;
  warn: (w: RestoreWarning) => void;
  t0: number;
  /** Cognito calls before this run (the rate report is per gateway). */
  callsBefore: number;
  dryRun: boolean;
}

export function totalCalls(gw: CognitoGateway): number {
  return gw.rate.report().reduce((n, c) => n + c.calls, 0);
}
