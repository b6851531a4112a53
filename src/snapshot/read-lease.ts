import type { ProgressListener } from '../core/progress.js';
import { type LeaseKind, noLeaseWarning, tryAcquireReadLease } from './lease.js';
import { SnapshotReader } from './reader.js';

/**
 * Runs `fn` while this process holds a read lease on the reader's snapshot, so a concurrent
 * prune leaves it alone (the engines take it themselves: restoreSnapshot, restoreSelection,
 * diffSnapshot, exportCsv, runDrill — a library caller is protected as the CLI is). Then the manifest is read again: a
 * prune that finished just before the lease leaves none (SnapshotInvalidError, exit 3). Storage
 * that cannot take a lease (read-only credentials or media) still reads, with a NO_LEASE
 * warning. The lease is released however `fn` ends.
 */
export async function underReadLease<T>(
  reader: SnapshotReader,
  kind: Exclude<LeaseKind, 'backup' | 'prune'>,
  progress: ProgressListener,
  fn: () => Promise<T>,
): Promise<T> {
  const lease = await tryAcquireReadLease(reader.storage, kind, (e) => progress(noLeaseWarning(e)));
  try {
    await SnapshotReader.open(reader.storage);
    return await fn();
  } finally {
    await lease?.release();
  }
}
