import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import path from 'node:path';
import {
  DescribeUserPoolCommand,
  GetCSVHeaderCommand,
  paginateListUsers,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  StorageError,
  TargetIncompatibleError,
  UnexpectedResponseError,
  UsageError,
} from '../../../core/errors.js';
import {
  deriveCsvHeader,
  type EncodeResult,
  type IneligibleReason,
  ImportRowEncoder,
  writeImportFiles,
} from '../../../snapshot/import-csv.js';
import { type PoolDocument, UserRecord } from '../../../snapshot/format.js';
import { LocalDirStorage } from '../../../storage/local.js';
import type { SnapshotReader } from '../../../snapshot/reader.js';
import {
  type ImportFileRef,
  type ImportJobsResult,
  type ImportLogReader,
  runImportJobs,
  type Uploader,
} from './jobs.js';
import type { JournalState } from '../../state/journal.js';
import { isExternalProvider, loginOf } from '../../../snapshot/user-record.js';
import type { ExistingUser, PhaseContext } from '../../phase-context.js';
import type { RestoreWarning } from '../../types.js';
import type { UsersPath, UsersPathPlan } from '../../types.js';
import { opt } from '../../../core/options.js';

export { DEFAULT_USERS_PATH, USERS_PATHS, type UsersPath } from '../path.js';
export type { UsersPathPlan } from '../../types.js';

export const INELIGIBLE_FILE = 'import-ineligible.jsonl';
export const IMPORT_DIR = 'import';

/**
 * What the import job may take: never a user who never confirmed their sign-up (an imported user
 * could set a password through "forgot password", i.e. be activated by the restore; the
 * AdminCreateUser path leaves them for an administrator, see sign-in.ts), else what the encoder
 * accepts.
 */
function importable(encoder: ImportRowEncoder, u: UserRecord): EncodeResult {
  if (u.UserStatus === 'UNCONFIRMED')
    return { ok: false, reason: 'unconfirmed' as IneligibleReason };
  return encoder.encode(u);
}

/**
 * Preflight for the import-job path: encodes every native user once (streaming) with the
 * encoder the run will use and counts the users the job cannot take, by reason; the per-user
 * list goes to a 0600 file in the state directory, never to the console. `--users import-job`
 * with any such user is refused before anything is written to Cognito; `auto` sends them
 * through AdminCreateUser.
 */
export async function planUsersPath(
  reader: SnapshotReader,
  o: {
    requested: UsersPath;
    roleArn: string | undefined;
    legacySubAttribute: string | undefined;
    /** The target's settings (the live pool, or the snapshot's for a pool yet to be created). */
    pool: Pick<PoolDocument, 'userPool' | 'mfaConfig'>;
    stateDir: string;
    warn: (w: RestoreWarning) => void;
  },
): Promise<UsersPathPlan> {
  const base = { requested: o.requested, eligible: 0, ineligible: 0, ineligibleByReason: {} };
  if (o.requested === 'admin-create') return { ...base, effective: 'admin-create' };
  if (o.legacySubAttribute !== undefined) {
    if (o.requested === 'import-job') {
      throw new UsageError(
        'BAD_FLAG',
        `${opt('legacySubAttribute')} cannot be combined with ${opt('usersPath')} import-job (the old sub is only known once a user exists); use ${opt('usersPath')} admin-create`,
        { option: 'legacySubAttribute' },
      );
    }
    o.warn({
      code: 'IMPORT_JOB_NOT_USED',
      message: `${opt('legacySubAttribute')}: every user goes through AdminCreateUser (import jobs cannot carry the old sub)`,
    });
    return { ...base, effective: 'admin-create' };
  }
  if (!o.roleArn) {
    if (o.requested === 'import-job') {
      throw new UsageError(
        'BAD_FLAG',
        `${opt('usersPath')} import-job needs ${opt('importLogsRoleArn')} ARN: the IAM role Cognito writes the job logs with (\`cognito-vault policy import-role\` prints it)`,
        { option: 'usersPath' },
      );
    }
    o.warn({
      code: 'IMPORT_ROLE_MISSING',
      message: `no ${opt('importLogsRoleArn')}: every user goes through AdminCreateUser (billed as MAU, FORCE_CHANGE_PASSWORD); pass the role to use CSV import jobs (see docs/restore.md)`,
    });
    return { ...base, effective: 'admin-create' };
  }
  const encoder = new ImportRowEncoder(deriveCsvHeader(o.pool), o.pool);
  for (const b of encoder.poolBlockers()) {
    if (o.requested === 'import-job') {
      throw new TargetIncompatibleError(
        `the target pool cannot take a CSV import job (${b}); use ${opt('usersPath')} auto or admin-create`,
        [b],
      );
    }
  }
  const byReason = new Map<string, number>();
  let eligible = 0;
  let ineligible = 0;
  const file = path.join(o.stateDir, INELIGIBLE_FILE);
  let out: ReturnType<typeof createWriteStream> | undefined;
  try {
    for await (const u of reader.records('users', UserRecord)) {
      if (isExternalProvider(u)) continue;
      const r = importable(encoder, u);
      if (r.ok) {
        eligible++;
        continue;
      }
      ineligible++;
      byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
      if (!out) {
        await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
        out = createWriteStream(file, { mode: 0o600 });
      }
      const line = JSON.stringify({
        username: u.Username,
        reason: r.reason,
        ...(r.detail ? { detail: r.detail } : {}),
      });
      if (!out.write(`${line}\n`)) await once(out, 'drain');
    }
    if (out) {
      out.end();
      await finished(out);
    }
  } catch (e) {
    out?.destroy();
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code))
      throw new StorageError('UNWRITABLE', `cannot write ${file}`, { path: file }, { cause: e });
    throw e;
  }
  const ineligibleByReason = Object.fromEntries(byReason);
  const plan: UsersPathPlan = {
    requested: o.requested,
    effective: ineligible === 0 ? 'import-job' : eligible === 0 ? 'admin-create' : 'mixed',
    eligible,
    ineligible,
    ineligibleByReason,
    ...(out ? { ineligibleFile: file } : {}),
  };
  const reasons = [...byReason].map(([r, n]) => `${n} ${r}`).join(', ');
  if (ineligible > 0 && o.requested === 'import-job') {
    const diffs = [
      `${ineligible} user(s) cannot go through a CSV import job (${reasons}); they are listed in ${file}. Use ${opt('usersPath')} auto to send them through AdminCreateUser`,
    ];
    throw new TargetIncompatibleError(diffs[0] as string, diffs, {
      ineligible,
      file,
    });
  }
  if (ineligible > 0) {
    o.warn({
      code: 'IMPORT_INELIGIBLE',
      message: `${ineligible} user(s) cannot go through a CSV import job (${reasons}); they go through AdminCreateUser (listed in ${file})`,
    });
  }
  return plan;
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface ImportPhaseOptions {
  reader: SnapshotReader;
  stateDir: string;
  roleArn: string;
  /** The target pool (for its name: the job log group is named after it). */
  poolName: string;
  usernameAttributes: readonly string[];
  /** A prefix unique to this restore for the job names (e.g. from the snapshot id). */
  jobNamePrefix: string;
  /**
   * `import-job`: a user the live header/pool refuses (the preflight judged by the snapshot's
   * settings) is reported failed rather than created with AdminCreateUser.
   */
  onlyImport?: boolean;
  logs?: ImportLogReader;
  upload?: Uploader;
  pollMinMs?: number;
  pollMaxMs?: number;
  urlTtlMs?: number;
}

export interface ImportPhaseResult extends ImportJobsResult {
  /** For the users phase: what the import did with one snapshot user. */
  resolve: (u: UserRecord) => ExistingUser | { operation: string; error: string } | undefined;
}

/**
 * The import-job half of the users phase: encode the eligible users with the target's live
 * CSV header into files (once; journaled with their sha256), run one import job per file, then
 * list the target once to learn each imported user's username and new sub. The users phase
 * then journals those users, runs their follow-ups (disable, memberships, links) and creates
 * the rest (ineligible users) with AdminCreateUser.
 *
 * Memory: the listing is held as one string per imported user (its key, username and sub,
 * ~150 bytes with UUID usernames) until the users phase takes it; entries are dropped as users
 * are journaled.
 */
export async function importUsers(
  ctx: PhaseContext,
  o: ImportPhaseOptions,
): Promise<ImportPhaseResult> {
  const { gw, poolId, journal } = ctx;
  const state: JournalState = journal.state;
  const header = (await gw.send(new GetCSVHeaderCommand({ UserPoolId: poolId }))).CSVHeader ?? [];
  const { UserPool: livePool } = await gw.send(new DescribeUserPoolCommand({ UserPoolId: poolId }));
  if (!livePool)
    throw new UnexpectedResponseError('DescribeUserPool', 'UserPool', { userPoolId: poolId });
  const encoder = new ImportRowEncoder(header, poolLike(livePool));
  const dir = path.join(o.stateDir, IMPORT_DIR);

  let files: ImportFileRef[];
  if (state.importFiles) {
    files = state.importFiles.map((f) => ({
      name: f.f,
      path: path.join(dir, f.f),
      indexPath: path.join(dir, indexName(f.f)),
      rows: f.rows,
      bytes: f.bytes,
      sha256: f.sha,
    }));
    for (const f of files) {
      if (state.importJobs.get(f.name)?.step === 'done') continue;
      const ok = existsSync(f.path) && (await sha256Of(f.path)) === f.sha256;
      if (!ok) {
        throw new StorageError(
          'IMPORT_FILE_CHANGED',
          `the import file ${f.path} is missing or changed since it was written; move ${o.stateDir} away to start over`,
          { path: f.path },
        );
      }
    }
  } else {
    ctx.progress({ type: 'phase', phase: 'import-files', detail: 'writing the CSV import files' });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const users = async function* (): AsyncGenerator<UserRecord> {
      for await (const u of o.reader.records('users', UserRecord)) {
        if (isExternalProvider(u) || state.users.has(u.Username)) continue;
        if (u.UserStatus === 'UNCONFIRMED') continue;
        yield u;
      }
    };
    const set = await writeImportFiles(users(), encoder, new LocalDirStorage(dir), {
      prefix: 'users',
      signal: ctx.signal,
    });
    files = set.files.map((f) => ({
      name: f.name,
      path: path.join(dir, f.name),
      indexPath: path.join(dir, f.index),
      rows: f.rows,
      bytes: f.bytes,
      sha256: f.sha256,
    }));
    journal.append({
      t: 'if',
      files: files.map((f) => ({ f: f.name, sha: f.sha256, rows: f.rows, bytes: f.bytes })),
    });
    journal.sync();
  }

  const jobs = await runImportJobs({
    poolId,
    poolName: o.poolName,
    roleArn: o.roleArn,
    files,
    jobNamePrefix: o.jobNamePrefix,
    journal,
    gw,
    signal: ctx.signal,
    progress: ctx.progress,
    ...(o.upload ? { upload: o.upload } : {}),
    ...(o.logs ? { logs: o.logs } : {}),
    ...(o.pollMinMs !== undefined ? { pollMinMs: o.pollMinMs } : {}),
    ...(o.pollMaxMs !== undefined ? { pollMaxMs: o.pollMaxMs } : {}),
    ...(o.urlTtlMs !== undefined ? { urlTtlMs: o.urlTtlMs } : {}),
  });

  // One listing of the target: key (the login the CSV carried) → username and new sub.
  ctx.progress({ type: 'phase', phase: 'import-map', detail: 'listing the target for new subs' });
  const found = new Map<string, string>();
  let listed = 0;
  for await (const { Users: page = [] } of gw.pages(paginateListUsers, { UserPoolId: poolId })) {
    for (const t of page) {
      const key = loginKey(t.Username, t.Attributes, o.usernameAttributes);
      const sub = t.Attributes?.find((a) => a.Name === 'sub')?.Value ?? '';
      if (key !== undefined && t.Username) found.set(key, `${t.Username}\u0000${sub}`);
    }
    listed += page.length;
    ctx.progress({ type: 'restore', phase: 'import-map', done: listed });
  }

  const lineByUser = new Map<string, { result: string; message: string }>();
  for (const l of jobs.lines) {
    if (l.username !== undefined)
      lineByUser.set(l.username, { result: l.result, message: l.message });
  }
  const unreadable = jobs.jobs.filter((j) => j.lineResults === 'unreadable');
  if (unreadable.length) {
    ctx.warn({
      code: 'IMPORT_LOGS_UNREADABLE',
      message: `the per-row results of ${unreadable.length} import job(s) could not be read from CloudWatch Logs (${unreadable[0]?.lineResultsError ?? ''}); users they did not import are reported without the reason`,
    });
  }
  const failedJobs = jobs.jobs.filter((j) => j.status !== 'Succeeded');
  if (failedJobs.length) {
    ctx.warn({
      code: 'IMPORT_JOB_FAILED',
      message: `${failedJobs.length} import job(s) did not succeed (${failedJobs.map((j) => `${j.jobId}: ${j.status}${j.completionMessage ? ` — ${j.completionMessage}` : ''}`).join('; ')}); their users that were not imported are reported as failed`,
    });
  }

  const resolve = (u: UserRecord): ReturnType<ImportPhaseResult['resolve']> => {
    // Only a user the import files carried can have been imported. Any other user found in the
    // target was created by AdminCreateUser — by a run killed before it journaled the user —
    // and goes back to that path, which recognises its own creation and still sets the
    // sign-in state (counting it as imported would leave it FORCE_CHANGE_PASSWORD).
    if (u.UserStatus === 'UNCONFIRMED') return undefined;
    const enc = importable(encoder, u);
    if (!enc.ok) {
      if (!o.onlyImport) return undefined;
      return {
        operation: 'UserImportJob',
        error: `the target's import header or settings refuse this user (${enc.reason}); ${opt('usersPath')} auto would create it with AdminCreateUser`,
      };
    }
    const key = loginOf(u, o.usernameAttributes);
    const hit = key !== undefined ? found.get(key) : undefined;
    const line = lineByUser.get(u.Username);
    if (hit !== undefined) {
      found.delete(key as string);
      const [username = '', sub = ''] = hit.split('\u0000');
      return { username, ...(sub ? { sub } : {}), s: line?.result === 'SKIPPED' ? 'e' : 'i' };
    }
    if (line) {
      return { operation: 'UserImportJob', error: `${line.result}: ${line.message}` };
    }
    return {
      operation: 'UserImportJob',
      error: unreadable.length
        ? 'not imported; the job log could not be read for the reason'
        : 'not imported by its import job',
    };
  };
  return { ...jobs, resolve };
}

/** A live pool (DescribeUserPool) in the shape the CSV encoder reads. */
export function poolLike(p: UserPoolType): Pick<PoolDocument, 'userPool' | 'mfaConfig'> {
  return {
    userPool: { ...p, Id: p.Id ?? '' },
    mfaConfig: { MfaConfiguration: p.MfaConfiguration ?? 'OFF' },
  };
}

/** writeImportFiles names the line index of `users-00001.csv` `users-00001.index.jsonl`. */
function indexName(csv: string): string {
  return csv.replace(/\.csv$/, '.index.jsonl');
}

function loginKey(
  username: string | undefined,
  attrs: { Name?: string; Value?: string }[] | undefined,
  usernameAttributes: readonly string[],
): string | undefined {
  if (usernameAttributes.length === 0) return username;
  const get = (n: string): string | undefined => attrs?.find((a) => a.Name === n)?.Value;
  if (usernameAttributes.includes('email')) {
    const e = get('email');
    if (e) return e;
  }
  if (usernameAttributes.includes('phone_number')) {
    const p = get('phone_number');
    if (p) return p;
  }
  return undefined;
}
