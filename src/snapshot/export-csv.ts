import { UsageError } from '../core/errors.js';
import { noProgress, type ProgressListener } from '../core/progress.js';
import type { Storage } from '../storage/storage.js';
import { PoolDocument, UserRecord } from './format.js';
import {
  deriveCsvHeader,
  type ImportFileSet,
  ImportRowEncoder,
  writeImportFiles,
} from './import-csv.js';
import { underReadLease } from './read-lease.js';
import type { SnapshotReader } from './reader.js';

type PoolLike = Pick<PoolDocument, 'userPool' | 'mfaConfig'>;

export interface ExportCsvOptions {
  /**
   * The header (GetCSVHeader) and import rules of a live pool, instead of the snapshot's: called
   * under the lease, once the snapshot is valid and the sink empty.
   */
  live?: () => Promise<{ header: string[]; pool: PoolLike }>;
  signal?: AbortSignal;
  /** Warnings (NO_LEASE when the snapshot's storage cannot take a read lease). */
  onProgress?: ProgressListener;
}

export interface ExportCsvResult extends Omit<ImportFileSet, 'files' | 'report'> {
  snapshot: string;
  to: string;
  headerSource: 'derived' | 'GetCSVHeader';
  files: (ImportFileSet['files'][number] & { path: string; indexPath: string })[];
  report: string;
  poolBlockers: string[];
  /** Users erased with `cognito-vault forget` (the erasure ledger): left out. */
  erased?: number;
}

/**
 * A snapshot's users as Cognito user-import CSV files in an empty `sink` (`export-csv`), read
 * under a read lease on the snapshot, so a concurrent prune leaves it alone (library callers are
 * protected as the CLI is).
 */
export async function exportCsv(
  reader: SnapshotReader,
  sink: Storage,
  opts: ExportCsvOptions = {},
): Promise<ExportCsvResult> {
  return underReadLease(reader, 'export', opts.onProgress ?? noProgress, async () => {
    await reader.assertValid();
    for await (const _ of sink.list()) {
      throw new UsageError(
        'TARGET_NOT_EMPTY',
        `${sink.location} is not empty (the CSV files go into an empty location)`,
        {
          to: sink.location,
        },
      );
    }
    const live = opts.live ? await opts.live() : undefined;
    const pool: PoolLike = live?.pool ?? (await reader.readJson('pool', PoolDocument));
    const header = live?.header ?? deriveCsvHeader(pool);
    const encoder = new ImportRowEncoder(header, pool);
    const set = await writeImportFiles(reader.records('users', UserRecord), encoder, sink, {
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const at = (key: string): string => `${sink.location}/${key}`;
    return {
      snapshot: reader.location,
      to: sink.location,
      headerSource: live ? 'GetCSVHeader' : 'derived',
      header: set.header,
      files: set.files.map((f) => ({ ...f, path: at(f.name), indexPath: at(f.index) })),
      eligible: set.eligible,
      ineligible: set.ineligible,
      report: at(set.report),
      poolBlockers: encoder.poolBlockers(),
      ...(reader.erasures ? { erased: reader.erasures.erasedSeen ?? 0 } : {}),
    };
  });
}
