/**
 * What the unit tests of one restore phase share: a state directory in a temp dir with the
 * run journal opened in it, and the PhaseContext the phase is called with.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CognitoGateway } from '../../src/cognito/gateway.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { RestoreJournal } from '../../src/restore/state/journal.js';
import { StateDirLock } from '../../src/restore/state/lock.js';
import type { PhaseContext } from '../../src/restore/phase-context.js';
import type { RestoreWarning } from '../../src/restore/types.js';

/** A state directory for phase tests; each run's lock is released before the next is taken. */
export class TempStateDir {
  private readonly locks: StateDirLock[] = [];
  private constructor(readonly dir: string) {}

  static async create(prefix: string): Promise<TempStateDir> {
    return new TempStateDir(await mkdtemp(path.join(tmpdir(), prefix)));
  }

  /** The lock of a new run; the previous run's is released first, as a finished run does. */
  lock(): StateDirLock {
    this.release();
    const l = StateDirLock.acquire(this.dir);
    this.locks.push(l);
    return l;
  }

  /** The journal of a new run restoring us-east-1_Old into a new pool. */
  journal(at = '2026-11-29T00:00:00.000Z'): Promise<RestoreJournal> {
    return RestoreJournal.open(this.lock(), {
      snapshotId: 's',
      sourcePoolId: 'us-east-1_Old',
      target: { createPool: 'new' },
      at,
    });
  }

  /** Releases the lock and deletes the directory. */
  async remove(): Promise<void> {
    this.release();
    await rm(this.dir, { recursive: true, force: true });
  }

  private release(): void {
    for (const l of this.locks.splice(0)) l.release();
  }
}

/** The context a phase runs with, collecting its warnings and progress events. */
export function phaseContext(
  gw: CognitoGateway,
  poolId: string,
  journal: RestoreJournal,
  warnings: RestoreWarning[] = [],
  events: ProgressEvent[] = [],
): PhaseContext {
  return {
    gw,
    poolId,
    journal,
    warn: (w) => warnings.push(w),
    progress: (e) => events.push(e),
    signal: new AbortController().signal,
  };
}
