import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import {
  CreateUserImportJobCommand,
  DescribeUserImportJobCommand,
  ListUserImportJobsCommand,
  StartUserImportJobCommand,
  StopUserImportJobCommand,
  type UserImportJobType,
} from '@aws-sdk/client-cognito-identity-provider';
import { sleep } from '../../../core/concurrency.js';
import {
  CognitoError,
  ExitCode,
  InterruptedError,
  ServiceUnavailableError,
  StorageError,
  UnexpectedResponseError,
  VaultError,
} from '../../../core/errors.js';
import type { ProgressListener } from '../../../core/progress.js';
import type { CognitoGateway } from '../../../cognito/gateway.js';
import { awsMessage } from '../../../cognito/errors.js';
import type { ImportJobProgress, RestoreJournal } from '../../state/journal.js';
import type { ImportJobReport, ImportLogReader, Uploader } from '../../types.js';

export type { ImportJobReport, ImportLogReader, Uploader } from '../../types.js';

// By process.getBuiltinModule, not `import` (see src/cognito/gateway.ts: the ESM facade of
// node:http loads undici).
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');

/** One CSV file to import (written by writeImportFiles, journaled in the `if` entry). */
export interface ImportFileRef {
  name: string;
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
  /** Side index: data row N (1-based) → JSON-encoded username on line N. */
  indexPath: string;
}

/** A row the job skipped or failed, mapped back to the snapshot's username (report only). */
export interface ImportLineResult {
  file: string;
  /** Data row number in the file (1 = first row after the header). */
  row: number;
  username?: string;
  result: 'FAILED' | 'SKIPPED';
  message: string;
}

export interface ImportJobsResult {
  jobs: ImportJobReport[];
  lines: ImportLineResult[];
}

/** The upload URL was refused (expired, 403): the job is replaced by a new one. */
export class UploadRefusedError extends Error {
  constructor(readonly status: number) {
    super(`the pre-signed upload URL was refused (HTTP ${status})`);
  }
}

export interface ImportJobsOptions {
  poolId: string;
  /** The pool's name: the log group is /aws/cognito/userpools/<id>/<name>. */
  poolName: string;
  roleArn: string;
  files: ImportFileRef[];
  /** Job names are `<prefix>-<file number>-<attempt>` (Cognito allows 1–128 characters). */
  jobNamePrefix: string;
  journal: RestoreJournal;
  gw: CognitoGateway;
  signal: AbortSignal;
  progress: ProgressListener;
  upload?: Uploader;
  logs?: ImportLogReader;
  now?: () => number;
  /** Polling interval bounds for DescribeUserImportJob (default 1 s, growing to 15 s). */
  pollMinMs?: number;
  pollMaxMs?: number;
  /** How long the pre-signed URL stays valid (Cognito: 15 minutes). */
  urlTtlMs?: number;
  /** An upload must start at least this long before the URL expires (default 2 minutes). */
  urlMarginMs?: number;
  /** Give up waiting for another account's active import job after this long (default 12 h). */
  activeJobWaitMaxMs?: number;
  /** How long to wait before trying StartUserImportJob again (default 15 s). */
  activeJobRetryMs?: number;
}

export const URL_TTL_MS = 15 * 60_000;
/** Jobs per file whose URL may expire unused before the run gives up (protects the 1,000-job quota). */
const MAX_ATTEMPTS = 5;
const TERMINAL = new Set(['Succeeded', 'Failed', 'Stopped', 'Expired']);
const RUNNING = new Set(['Pending', 'InProgress', 'Stopping']);

/** `[FAILED] Line Number 12 - message` (the format of the import guide's log examples). */
const LOG_LINE = /^\s*\[(SUCCEEDED|SKIPPED|FAILED)\]\s*Line\s*Number\s*(\d+)\s*-?\s*(.*)$/i;

/**
 * Cognito's log line numbers count the lines of the file, the header being line 1, so data row
 * N is log line N + 1.
 */
export const LOG_LINE_OF_FIRST_ROW = 2;

export function parseLogMessage(
  message: string,
): { result: 'SUCCEEDED' | 'SKIPPED' | 'FAILED'; line: number; message: string } | undefined {
  const m = LOG_LINE.exec(message);
  if (!m?.[1] || !m[2]) return undefined;
  return {
    result: m[1].toUpperCase() as 'SUCCEEDED' | 'SKIPPED' | 'FAILED',
    line: Number(m[2]),
    message: (m[3] ?? '').trim(),
  };
}

/**
 * Whether a StartUserImportJob/CreateUserImportJob error means "another import job is active
 * in the account" ("Only one import job can be active at a time per account", the Cognito import guide). The API
 * reference models no dedicated exception: Cognito answers LimitExceededException or
 * PreconditionNotMetException, or InvalidParameterException naming the running job.
 */
export function isAnotherJobActive(e: unknown): boolean {
  if (!(e instanceof CognitoError)) return false;
  if (
    e.awsCode !== 'LimitExceededException' &&
    e.awsCode !== 'PreconditionNotMetException' &&
    e.awsCode !== 'InvalidParameterException'
  )
    return false;
  return ACTIVE_JOB_MESSAGE.test(awsMessage(e));
}

const ACTIVE_JOB_MESSAGE =
  /(another|already|only one|existing).{0,40}(job|import)|(job|import).{0,40}(in progress|is active|already active|running)/i;

/** The default uploader: one streamed HTTP PUT with SSE-KMS, retried on 5xx and resets. */
export const putFile: Uploader = async (url, file, signal) => {
  const size = statSync(file).size;
  for (let attempt = 1; ; attempt++) {
    try {
      await putOnce(url, file, size, signal);
      return;
    } catch (e) {
      if (signal.aborted) throw new InterruptedError();
      if (e instanceof UploadRefusedError && e.status < 500) throw e;
      if (attempt >= 5) {
        throw new ServiceUnavailableError(
          'UPLOAD_FAILED',
          `uploading the import file failed ${attempt} times (${(e as Error).message})`,
          { attempts: attempt },
          { cause: e },
        );
      }
      await sleep(Math.min(8000, 250 * 2 ** attempt), signal).catch(() => {
        throw new InterruptedError();
      });
    }
  }
};

function putOnce(url: string, file: string, size: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      {
        method: 'PUT',
        headers: { 'x-amz-server-side-encryption': 'aws:kms', 'content-length': String(size) },
        signal,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new UploadRefusedError(status));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const body = createReadStream(file);
    body.on('error', reject);
    body.pipe(req);
  });
}

/** CloudWatch Logs through the AWS SDK, loaded only when a job has failed or skipped rows. */
export function cloudWatchLogReader(settings: {
  region?: string;
  profile?: string;
  endpointUrl?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}): ImportLogReader {
  return {
    async *messages(group, stream, signal) {
      const { CloudWatchLogsClient, GetLogEventsCommand } =
        await import('@aws-sdk/client-cloudwatch-logs');
      const client = new CloudWatchLogsClient({
        ...(settings.region ? { region: settings.region } : {}),
        ...(settings.profile ? { profile: settings.profile } : {}),
        ...(settings.endpointUrl ? { endpoint: settings.endpointUrl } : {}),
        ...(settings.credentials ? { credentials: settings.credentials } : {}),
      });
      try {
        let token: string | undefined;
        for (;;) {
          const page = await client.send(
            new GetLogEventsCommand({
              logGroupName: group,
              logStreamName: stream,
              startFromHead: true,
              ...(token ? { nextToken: token } : {}),
            }),
            { abortSignal: signal },
          );
          for (const ev of page.events ?? []) if (ev.message) yield ev.message;
          if (!page.nextForwardToken || page.nextForwardToken === token) break;
          if (!page.events?.length) break;
          token = page.nextForwardToken;
        }
      } finally {
        client.destroy();
      }
    },
  };
}

function jobCounts(j: UserImportJobType | undefined): { i: number; k: number; x: number } {
  return { i: j?.ImportedUsers ?? 0, k: j?.SkippedUsers ?? 0, x: j?.FailedUsers ?? 0 };
}

function ms(d: Date | number | undefined): number | undefined {
  if (d === undefined) return undefined;
  return d instanceof Date ? d.getTime() : Number(d) * (Number(d) < 1e12 ? 1000 : 1);
}

/**
 * Runs one CSV import job per file, one after the other (Cognito allows one active import job
 * per account): CreateUserImportJob → PUT the file to the pre-signed URL → StartUserImportJob →
 * poll DescribeUserImportJob → read the failed/skipped rows from CloudWatch Logs. Every step is
 * journaled before and after it runs, so a re-run after a crash never imports a file twice:
 * a job that may have been started is described, not started again; a running job is polled;
 * a created job whose URL expired before the upload is stopped and replaced.
 */
/** One file's job as it is driven through its steps (shared by the named steps below). */
interface FileJob {
  o: ImportJobsOptions;
  file: ImportFileRef;
  index: number;
  now: () => number;
  /** Journaled progress of this file's job. */
  job: ImportJobProgress;
  /** The job as Cognito last described it. */
  live: UserImportJobType | undefined;
  /** Since when StartUserImportJob has been refused because another job is active. */
  waitedSince: number | undefined;
  /** The current DescribeUserImportJob interval. */
  poll: number;
  /** Progress: the rows done so far in this file, added to the files before it. */
  report: (p: UserImportJobType | undefined) => void;
}

function nameOf(r: FileJob, attempt: number): string {
  return `${r.o.jobNamePrefix}-${String(r.index + 1).padStart(4, '0')}-${attempt}`;
}

/** Journals a step of this file's job and moves it there. */
function step(r: FileJob, s: 'dropped' | 'uploaded' | 'started', jobId: string): void {
  r.o.journal.append({ t: 'ij', f: r.file.name, s, id: jobId, a: r.job.attempt });
  r.job = { ...r.job, step: s };
}

async function describeJob(
  o: ImportJobsOptions,
  jobId: string,
): Promise<UserImportJobType | undefined> {
  return (await o.gw.send(new DescribeUserImportJobCommand({ UserPoolId: o.poolId, JobId: jobId })))
    .UserImportJob;
}

/** The job of that name an interrupted run may have created (never make two). */
async function findJob(o: ImportJobsOptions, name: string): Promise<UserImportJobType | undefined> {
  // The SDK has no paginator for ListUserImportJobs: its token is followed here.
  let token: string | undefined;
  do {
    const page = await o.gw.send(
      new ListUserImportJobsCommand({
        UserPoolId: o.poolId,
        MaxResults: 60,
        ...(token ? { PaginationToken: token } : {}),
      }),
    );
    const found = page.UserImportJobs?.find((j) => j.JobName === name);
    if (found) return found;
    token = page.PaginationToken || undefined;
  } while (token);
  return undefined;
}

/** Records the intent, creates a job (or adopts one an interrupted run created). */
async function createJob(r: FileJob, attempt: number): Promise<void> {
  const { o, file } = r;
  const name = nameOf(r, attempt);
  if (attempt > MAX_ATTEMPTS) {
    throw new VaultError(
      'IMPORT_UPLOAD_EXPIRED',
      `the upload URL of ${MAX_ATTEMPTS} import jobs in a row expired before the file could be uploaded; check the network to Amazon S3 and run the same command again`,
      ExitCode.ServiceUnavailable,
      { file: file.name },
    );
  }
  const createdAt = r.now();
  if (!(r.job.step === 'create' && r.job.name === name)) {
    o.journal.append({ t: 'ij', f: file.name, s: 'create', n: name, a: attempt });
  }
  const found = await findJob(o, name);
  r.live =
    found ??
    (
      await o.gw.send(
        new CreateUserImportJobCommand({
          UserPoolId: o.poolId,
          JobName: name,
          CloudWatchLogsRoleArn: o.roleArn,
        }),
      )
    ).UserImportJob;
  if (!r.live?.JobId) throw new UnexpectedResponseError('CreateUserImportJob', 'JobId');
  // The URL's 15 minutes are counted on this machine's clock from before the create (an
  // adopted job: from its creation date, as Cognito reports it).
  const at = found ? (ms(found.CreationDate) ?? createdAt) : createdAt;
  o.journal.append({ t: 'ij', f: file.name, s: 'created', id: r.live.JobId, a: attempt, at });
  r.job = { step: 'created', attempt, name, id: r.live.JobId, createdAt: at };
}

/** Gives a job up (it expires on its own too): the next turn creates a new one. */
async function dropJob(r: FileJob, jobId: string): Promise<void> {
  await r.o.gw
    .send(new StopUserImportJobCommand({ UserPoolId: r.o.poolId, JobId: jobId }))
    .catch(() => undefined);
  step(r, 'dropped', jobId);
}

/**
 * A job in Created: upload the file (unless done before) while its URL is fresh, then start
 * it. Returns without starting when the job was dropped or must wait for another active job.
 */
async function uploadAndStart(r: FileJob, jobId: string, c: JobTimings): Promise<void> {
  const { o, file, index } = r;
  if (r.job.step !== 'uploaded') {
    const created = r.job.createdAt ?? ms(r.live?.CreationDate) ?? r.now();
    if (!r.live?.PreSignedUrl || r.now() > created + c.ttl - c.margin) {
      // Never uploaded in time: give it up and start over.
      await dropJob(r, jobId);
      return;
    }
    o.progress({ type: 'phase', phase: 'import-job', detail: `uploading file ${index + 1}` });
    try {
      await c.upload(r.live.PreSignedUrl, file.path, o.signal);
    } catch (e) {
      if (e instanceof UploadRefusedError) {
        await dropJob(r, jobId);
        return;
      }
      throw e;
    }
    step(r, 'uploaded', jobId);
  }
  try {
    r.live = (
      await o.gw.send(new StartUserImportJobCommand({ UserPoolId: o.poolId, JobId: jobId }))
    ).UserImportJob;
  } catch (e) {
    if (o.signal.aborted || e instanceof InterruptedError) throw e;
    if (isAnotherJobActive(e)) {
      r.waitedSince ??= r.now();
      if (r.now() - r.waitedSince > c.waitMax) {
        throw new ServiceUnavailableError(
          'IMPORT_JOB_BUSY',
          `another user import job in the account stayed active for ${Math.round(c.waitMax / 60_000)} minutes; run the same command again later`,
          { jobId },
        );
      }
      o.progress({
        type: 'phase',
        phase: 'import-job',
        detail: 'waiting: another user import job is active in the account',
      });
      await pause(o, o.activeJobRetryMs ?? 15_000);
      return;
    }
    // The start may have happened before the answer was lost: describe decides.
    const again = await describeJob(o, jobId);
    if (again?.Status === 'Created') throw e;
    r.live = again;
  }
  step(r, 'started', jobId);
}

/** A job in a terminal status: journal its counts (true), or drop it if it never started. */
function settleJob(r: FileJob, jobId: string, status: string): boolean {
  const neverStarted =
    (status === 'Expired' || status === 'Stopped') && r.live?.StartDate === undefined;
  if (neverStarted && r.job.step !== 'started') {
    step(r, 'dropped', jobId);
    return false;
  }
  const c = jobCounts(r.live);
  const message = r.live?.CompletionMessage;
  r.o.journal.append({
    t: 'ij',
    f: r.file.name,
    s: 'done',
    id: jobId,
    a: r.job.attempt,
    st: status,
    i: c.i,
    k: c.k,
    x: c.x,
    ...(message ? { m: message } : {}),
  });
  r.job = {
    ...r.job,
    step: 'done',
    status,
    imported: c.i,
    skipped: c.k,
    failed: c.x,
    ...(message ? { message } : {}),
  };
  r.report(r.live);
  return true;
}

async function pause(o: ImportJobsOptions, waitMs: number): Promise<void> {
  try {
    await sleep(waitMs, o.signal);
  } catch {
    throw new InterruptedError();
  }
}

interface JobTimings {
  upload: Uploader;
  ttl: number;
  margin: number;
  pollMax: number;
  waitMax: number;
}

/** Drives one file's job from wherever the journal left it to a terminal status. */
async function driveJob(r: FileJob, c: JobTimings): Promise<void> {
  const { o } = r;
  for (;;) {
    if (o.signal.aborted) throw new InterruptedError();
    if (r.job.step === 'done') return;
    if (r.job.step === 'dropped' || r.job.attempt === 0) {
      await createJob(r, r.job.attempt + 1);
      continue;
    }
    if (r.job.step === 'create') {
      await createJob(r, r.job.attempt);
      continue;
    }
    const jobId = r.job.id as string;
    r.live = await describeJob(o, jobId);
    const status = r.live?.Status ?? 'Unknown';
    if (status === 'Created') {
      await uploadAndStart(r, jobId, c);
      continue;
    }
    if (RUNNING.has(status)) {
      if (r.job.step !== 'started') step(r, 'started', jobId);
      r.report(r.live);
      await pause(o, r.poll);
      r.poll = Math.min(c.pollMax, Math.ceil(r.poll * 1.5));
      continue;
    }
    if (TERMINAL.has(status)) {
      if (settleJob(r, jobId, status)) return;
      continue;
    }
    throw new VaultError(
      'IMPORT_JOB_STATUS',
      `import job ${jobId} is in an unexpected status "${status}"`,
      ExitCode.Unexpected,
      { jobId },
    );
  }
}

/**
 * Runs one import job per file, in order (one active job per account): each through
 * create → upload → start → poll (driveJob), every step journaled, then the per-line results of
 * rows not imported from the job's CloudWatch Logs stream.
 */
export async function runImportJobs(o: ImportJobsOptions): Promise<ImportJobsResult> {
  const now = o.now ?? Date.now;
  const ttl = o.urlTtlMs ?? URL_TTL_MS;
  const timings: JobTimings = {
    upload: o.upload ?? putFile,
    ttl,
    margin: Math.min(o.urlMarginMs ?? 120_000, ttl / 2),
    pollMax: o.pollMaxMs ?? 15_000,
    waitMax: o.activeJobWaitMaxMs ?? 12 * 3600_000,
  };
  const jobs: ImportJobReport[] = [];
  const lines: ImportLineResult[] = [];
  const totalRows = o.files.reduce((n, f) => n + f.rows, 0);
  let rowsBefore = 0;

  for (const [index, file] of o.files.entries()) {
    const r: FileJob = {
      o,
      file,
      index,
      now,
      job: o.journal.state.importJobs.get(file.name) ?? { step: 'create', attempt: 0 },
      live: undefined,
      waitedSince: undefined,
      poll: o.pollMinMs ?? 1000,
      report: (p) => {
        const c = jobCounts(p);
        o.progress({
          type: 'restore',
          phase: 'import-job',
          done: rowsBefore + c.i + c.k + c.x,
          total: totalRows,
        });
      },
    };
    o.progress({
      type: 'phase',
      phase: 'import-job',
      detail: `file ${index + 1} of ${o.files.length}: ${file.rows} users`,
    });
    await driveJob(r, timings);

    const { job } = r;
    const jobReport: ImportJobReport = {
      file: file.name,
      rows: file.rows,
      jobId: job.id ?? '',
      jobName: job.name ?? nameOf(r, job.attempt),
      status: job.status ?? 'Unknown',
      imported: job.imported ?? 0,
      skipped: job.skipped ?? 0,
      failed: job.failed ?? 0,
      ...(job.message ? { completionMessage: job.message } : {}),
      attempts: job.attempt,
      lineResults: 'not-needed',
    };
    if (file.rows - jobReport.imported > 0) {
      const got = await readLineResults(o, file, jobReport);
      if (got.ok) {
        jobReport.lineResults = 'read';
        lines.push(...got.lines);
      } else {
        jobReport.lineResults = 'unreadable';
        jobReport.lineResultsError = got.error;
      }
    }
    jobs.push(jobReport);
    rowsBefore += file.rows;
  }
  return { jobs, lines };
}

async function readLineResults(
  o: ImportJobsOptions,
  file: ImportFileRef,
  job: ImportJobReport,
): Promise<{ ok: true; lines: ImportLineResult[] } | { ok: false; error: string }> {
  if (!o.logs) return { ok: false, error: 'no CloudWatch Logs reader configured' };
  const group = `/aws/cognito/userpools/${o.poolId}/${o.poolName}`;
  const stream = `${job.jobId}/${job.jobName}`;
  const byRow = new Map<number, { result: 'FAILED' | 'SKIPPED'; message: string }>();
  try {
    for await (const m of o.logs.messages(group, stream, o.signal)) {
      const p = parseLogMessage(m);
      if (!p || p.result === 'SUCCEEDED') continue;
      byRow.set(p.line - LOG_LINE_OF_FIRST_ROW + 1, { result: p.result, message: p.message });
    }
  } catch (e) {
    if (o.signal.aborted) throw new InterruptedError();
    const err = e as { name?: string; message?: string };
    return { ok: false, error: `${err.name ?? 'Error'}: ${err.message ?? String(e)}` };
  }
  const usernames = await usernamesAtRows(file.indexPath, new Set(byRow.keys()));
  const lines: ImportLineResult[] = [];
  for (const [row, r] of [...byRow.entries()].sort((a, b) => a[0] - b[0])) {
    const username = usernames.get(row);
    lines.push({
      file: file.name,
      row,
      ...(username !== undefined ? { username } : {}),
      result: r.result,
      message: r.message,
    });
  }
  return { ok: true, lines };
}

/**
 * Reads the usernames of the given data rows from a file's line index (JSON Lines
 * `{"line","row","username","importUsername"}`, one per data row, in order), streamed.
 */
export async function usernamesAtRows(
  indexPath: string,
  rows: ReadonlySet<number>,
): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (rows.size === 0) return out;
  let rl;
  try {
    rl = createInterface({
      input: createReadStream(indexPath, { encoding: 'utf8' }),
      crlfDelay: Infinity,
    });
    let n = 0;
    for await (const line of rl) {
      if (!line) continue;
      n++;
      let e: { row?: number; username?: string } | undefined;
      try {
        e = JSON.parse(line) as { row?: number; username?: string };
      } catch {
        continue;
      }
      const row = typeof e.row === 'number' ? e.row : n;
      if (!rows.has(row) || typeof e.username !== 'string') continue;
      out.set(row, e.username);
      if (out.size === rows.size) break;
    }
  } catch (e) {
    throw new StorageError(
      'UNREADABLE',
      `cannot read the import file index ${indexPath}`,
      { path: indexPath },
      { cause: e },
    );
  } finally {
    rl?.close();
  }
  return out;
}
