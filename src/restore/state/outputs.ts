import { chmodSync, createWriteStream, renameSync } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import path from 'node:path';
import { StorageError } from '../../core/errors.js';
import { makeDir, storageErrorFromFs } from '../../storage/local.js';
import { type RestoreJournal, writePrivateFile } from './journal.js';
import type { RestoreTarget } from '../types.js';

export const REPORT_FILE = 'report.json';
export const SUB_MAP_FILE = 'sub-map.jsonl';
export const NEEDS_ADMIN_FILE = 'needs-admin.jsonl';
export const CLIENT_MAP_FILE = 'client-id-map.json';
export const DEFAULT_STATE_ROOT = 'cognito-vault-restore';

/** A path component safe on every file system. */
function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** ./cognito-vault-restore/<snapshotId>--<target> (target = pool id, or the new pool's name). */
export function defaultStateDir(snapshotId: string, target: RestoreTarget): string {
  return stateDirOf(snapshotId, target, []);
}

/**
 * ./cognito-vault-restore/<snapshotId>--<pool>--selective-<digest>: a selective restore's own
 * state directory (one per selection, so runs of different selections never share a journal).
 */
export function selectiveStateDir(
  snapshotId: string,
  target: RestoreTarget,
  digest: string,
): string {
  return stateDirOf(snapshotId, target, [`selective-${digest}`]);
}

function stateDirOf(snapshotId: string, target: RestoreTarget, more: string[]): string {
  const t = 'userPoolId' in target ? target.userPoolId : target.createPool;
  return path.resolve(
    DEFAULT_STATE_ROOT,
    [safe(snapshotId), safe(t), ...more.map(safe)].join('--'),
  );
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await makeDir(dir);
  } catch (e) {
    throw storageErrorFromFs(e, 'write', dir);
  }
}

/**
 * The old→new sub map as JSON Lines, one line per user that exists in the target, each user
 * exactly once (the journal is the source, so resumed runs are covered):
 * `{"username": old username, "oldSub", "newSub", "newUsername"?}` (newUsername when Cognito
 * generated one). Written to a temporary file and renamed, mode 0600.
 */
export async function writeSubMap(journal: RestoreJournal, file: string): Promise<number> {
  return writePrivateLines(
    file,
    (async function* () {
      for await (const e of journal.users())
        yield {
          username: e.u,
          oldSub: e.os ?? null,
          newSub: e.ns ?? null,
          ...(e.n ? { newUsername: e.n } : {}),
        };
    })(),
    (e) => {
      const err = storageErrorFromFs(e, 'write', file);
      return new StorageError(
        err.code,
        `cannot write the sub map ${file} (${String(err.context.errno ?? err.code)})`,
        { path: file },
        { cause: e },
      );
    },
  );
}

/**
 * The users who cannot get back in by themselves, as JSON Lines (mode 0600, each user once, the
 * journal is the source so resumed runs are covered): `{"username", "newUsername"?, "status"
 * (in the snapshot), "restoredAs", "reason"}`. Never a password. Returns the number of lines.
 */
export async function writeNeedsAdmin(journal: RestoreJournal, file: string): Promise<number> {
  const restoredAs = { c: 'CONFIRMED', p: 'CONFIRMED (passwordless)', f: 'FORCE_CHANGE_PASSWORD' };
  return writePrivateLines(
    file,
    (async function* () {
      for await (const e of journal.signIns()) {
        if (!e.a) continue;
        yield {
          username: e.u,
          ...(e.n ? { newUsername: e.n } : {}),
          ...(e.st ? { status: e.st } : {}),
          restoredAs: restoredAs[e.k],
          reason: e.a,
        };
      }
    })(),
    (e) => new StorageError('UNWRITABLE', `cannot write ${file}`, { path: file }, { cause: e }),
  );
}

/**
 * Writes `lines` as JSON Lines to a temporary file (0600) renamed over `file` once complete;
 * returns the number of lines. A failure is thrown as `failed` makes it.
 */
async function writePrivateLines(
  file: string,
  lines: AsyncIterable<object>,
  failed: (e: unknown) => Error,
): Promise<number> {
  await ensureDir(path.dirname(file));
  const tmp = `${file}.tmp-${process.pid}`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (!out.write(`${JSON.stringify(line)}\n`)) await once(out, 'drain');
    }
    out.end();
    await finished(out);
    renameSync(tmp, file);
    chmodSync(file, 0o600);
  } catch (e) {
    out.destroy();
    throw failed(e);
  }
  return n;
}

export function writeClientMap(file: string, map: Map<string, string>): void {
  writePrivateFile(file, `${JSON.stringify(Object.fromEntries(map), null, 2)}\n`);
}

export function writeReport(file: string, report: unknown): void {
  writePrivateFile(file, `${JSON.stringify(report, null, 2)}\n`);
}
