import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AdminCreateUserCommand,
  AdminResetUserPasswordCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  AWS_IMPORT_LIMITS as IMPORT_LIMITS,
  AWS_MFA_COLUMN as MFA_COLUMN,
  AWS_USERNAME_COLUMN as USERNAME_COLUMN,
  awsCsvHeader,
  awsCsvLines,
  readAwsCsvRow,
} from './import-csv-rules.js';

/**
 * A test double for Cognito's CSV user-import jobs, in front of moto (which has neither import
 * jobs nor GetCSVHeader). It listens on 127.0.0.1 (random port) and is the Cognito endpoint the
 * integration tests and `demo` give the SDK: every request is forwarded to moto unchanged, except
 * the AWS JSON 1.1 operations GetCSVHeader, CreateUserImportJob, StartUserImportJob,
 * DescribeUserImportJob, ListUserImportJobs and StopUserImportJob (response shapes of botocore's
 * cognito-idp 2016-04-18 model, `UserImportJobType`), the pre-signed upload URL (an HTTP PUT served
 * here), and AddCustomAttributes / UpdateUserPool / DeleteUserPool, which are refused with
 * UserImportInProgressException while a job on the pool is Pending, InProgress or Stopping (the
 * model lists that error on exactly these three operations).
 *
 * Sources: the Cognito developer guide ([IMP] = "Importing users into user pools from a CSV file" and its
 * sub-pages "Creating the user import CSV file", "Creating and running the import job",
 * "Viewing the user pool import results in the CloudWatch console" —
 * https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-using-import-tool.html).
 *
 * What a started job does (never a faked success): it parses the uploaded file; per row it calls
 * moto's AdminCreateUser (MessageAction SUPPRESS, the row's non-empty attributes), then
 * AdminSetUserPassword (Permanent, a random password) and AdminResetUserPassword to leave the
 * user in RESET_REQUIRED as an imported user is ("Your users are in a RESET_REQUIRED state when
 * imported"). moto sends no message for either call; these calls are the double standing in for
 * Cognito's own import, not something cognito-vault does. An existing username is SKIPPED. With
 * `logs`, per-line results go to moto's CloudWatch Logs in the documented shape: group
 * `/aws/cognito/userpools/<POOL_ID>/<POOL_NAME>`, stream `<JOB_ID>/<JOB_NAME>`, messages
 * `[SUCCEEDED] Line Number 5956 - The import succeeded.`, `[SKIPPED] Line Number 5956 - The user
 * already exists.`, `[FAILED] Line Number 5956 - The User Record does not set any of the auto
 * verified attributes to true. (Example: email_verified to true).` (the [IMP] CloudWatch page).
 *
 * Stricter than AWS, or a guess where AWS documents nothing (docs/testing.md, "The import-job
 * double", lists the same):
 * - "Only one import job can be active at a time per account": the error AWS returns is not
 *   documented; StartUserImportJob answers PreconditionNotMetException (a modelled error of that
 *   operation) while another job is Pending/InProgress/Stopping. Starting a job twice, starting an
 *   expired job and stopping a job that is not running are PreconditionNotMetException too; a
 *   start before any upload is PreconditionNotMetException "No csv file was uploaded for <id>"
 *   (reported by users: aws-amplify/amplify-js#6416).
 * - Header problems (a GetCSVHeader column missing, an unknown or duplicated column) and a BOM
 *   fail the whole job ("Amazon Cognito is unable to parse the .csv file"); so does a file over
 *   500,000 rows, checked before any user is created.
 * - A file over 100 MB is refused at upload (400 EntityTooLarge); AWS may instead fail the job.
 * - Row-level FAILED: wrong number of fields, any `"` in a value (values must not be quoted), any
 *   backslash other than `\,` (undocumented), a row over 16,000 characters (UTF-16 units), an empty
 *   or whitespace-containing cognito:username, cognito:mfa_enabled not matching the pool's MFA (a
 *   blank is refused for OPTIONAL pools, as the 2023 documentation said), a *_verified value other
 *   than true/false/blank, `x_verified=true` without `x`, no auto-verified attribute true, a required
 *   attribute empty, birthdate not mm/dd/yyyy, updated_at not epoch seconds, or moto refusing the
 *   user. Values are trimmed ("Any leading or trailing white space ... will be trimmed").
 * - birthdate mm/dd/yyyy is stored as YYYY-MM-DD (what Cognito stores is UNVERIFIED).
 * - Line numbers are physical lines, the header being line 1 (AWS does not say).
 * - The job ends Failed with "Too many users have failed or been skipped during the import." when
 *   more than half of the rows failed or were skipped (AWS's threshold is undocumented), else
 *   Succeeded. Jobs never started expire after 24 h (AWS: "24-48 hours").
 * - More lenient: the IAM role in CloudWatchLogsRoleArn is only checked against the model's pattern,
 *   never assumed; CRLF line ends are accepted; passwordless pools' CONFIRMED rule is not modelled;
 *   the CloudWatch Logs calls are made only when `logs` is given.
 */

export type ImportJobStatus =
  | 'Created'
  | 'Pending'
  | 'InProgress'
  | 'Stopping'
  | 'Expired'
  | 'Stopped'
  | 'Failed'
  | 'Succeeded';

export interface LineResult {
  line: number;
  outcome: 'SUCCEEDED' | 'SKIPPED' | 'FAILED';
  message: string;
}

/** UserImportJobType as the model has it, plus what the double knows besides. */
export interface JobInfo {
  JobName: string;
  JobId: string;
  UserPoolId: string;
  PreSignedUrl: string;
  CreationDate: number;
  StartDate?: number;
  CompletionDate?: number;
  Status: ImportJobStatus;
  CloudWatchLogsRoleArn: string;
  ImportedUsers: number;
  SkippedUsers: number;
  FailedUsers: number;
  CompletionMessage?: string;
  /** Bytes of the accepted upload, when there is one. */
  uploadedBytes?: number;
  /** Per-line results, in line order, once the job has run. */
  results: LineResult[];
}

export interface ImportJobDoubleOptions {
  /** moto's URL (the real Cognito endpoint behind the double). */
  upstream: string;
  /** moto's CloudWatch Logs endpoint: per-line results are written there when given. */
  logs?: { endpoint: string };
  /** Clock (ms since epoch) for dates, URL expiry and job expiry. */
  now?: () => number;
  /** Life of the pre-signed URL (default 15 minutes, as AWS documents). */
  uploadUrlTtlMs?: number;
  /** Delay of each asynchronous status transition (Pending → InProgress, …). Default 50 ms. */
  jobDelayMs?: number;
  /** Lower limits for tests (defaults: Cognito's 500,000 rows / 100 MB / 16,000 characters). */
  limits?: Partial<{ maxRows: number; maxBytes: number; maxRowChars: number }>;
  /** Rows imported in parallel (default 4). */
  concurrency?: number;
  /**
   * Also stand in for the settings moto lacks (docs/testing.md): the classic UI customization
   * and the risk configuration of a pool and of each app client (Get/SetUICustomization,
   * Describe/SetRiskConfiguration) and managed login branding per app client
   * (DescribeManagedLoginBrandingByClient, CreateManagedLoginBranding), held in memory.
   */
  settings?: boolean;
}

export interface ImportJobDouble {
  endpoint: string;
  stop(): Promise<void>;
  jobs(): ReadonlyArray<JobInfo>;
  stats: {
    forwarded: number;
    handled: Record<string, number>;
    uploadsAccepted: number;
    uploadsRejected: number;
  };
}

/** moto accepts any credentials; these are never valid anywhere else. */
const EMULATOR_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

const TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';
const HANDLED = new Set([
  'GetCSVHeader',
  'CreateUserImportJob',
  'StartUserImportJob',
  'DescribeUserImportJob',
  'ListUserImportJobs',
  'StopUserImportJob',
]);
const SETTINGS_OPS = new Set([
  'GetUICustomization',
  'SetUICustomization',
  'DescribeRiskConfiguration',
  'SetRiskConfiguration',
  'DescribeManagedLoginBrandingByClient',
  'CreateManagedLoginBranding',
]);
const BLOCKED_DURING_IMPORT = new Set(['AddCustomAttributes', 'UpdateUserPool', 'DeleteUserPool']);
const ACTIVE: ReadonlySet<ImportJobStatus> = new Set(['Pending', 'InProgress', 'Stopping']);
const JOB_EXPIRY_MS = 24 * 3600 * 1000;
const JOBS_PER_POOL = 1000;

// Patterns of the botocore model (shapes UserPoolIdType, UserImportJobNameType, ArnType,
// UserImportJobIdType, PoolQueryLimitType).
const POOL_ID = /^[\w-]+_[0-9a-zA-Z]+$/;
const JOB_NAME = /^[\w\s+=,.@-]+$/;
const ARN =
  /^arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?$/;
const JOB_ID = /^import-[0-9a-zA-Z-]+$/;

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const invalid = (m: string): AwsError => new AwsError('InvalidParameterException', m);
const precondition = (m: string): AwsError => new AwsError('PreconditionNotMetException', m);

function readBody(req: http.IncomingMessage, limit = Infinity): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

function sendAwsError(res: http.ServerResponse, e: AwsError): void {
  const text = JSON.stringify({ __type: e.type, message: e.message });
  res.writeHead(e.status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-errortype': e.type,
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

/** S3's XML error, as a pre-signed URL answers. */
function sendS3Error(
  res: http.ServerResponse,
  status: number,
  code: string,
  message: string,
): void {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`;
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

interface Job extends JobInfo {
  token: string;
  upload?: Buffer;
  createdMs: number;
  stopRequested: boolean;
  poolName: string;
}

function publicJob(j: Job): Record<string, unknown> {
  const out: Record<string, unknown> = {
    JobName: j.JobName,
    JobId: j.JobId,
    UserPoolId: j.UserPoolId,
    PreSignedUrl: j.PreSignedUrl,
    CreationDate: j.CreationDate,
    Status: j.Status,
    CloudWatchLogsRoleArn: j.CloudWatchLogsRoleArn,
    ImportedUsers: j.ImportedUsers,
    SkippedUsers: j.SkippedUsers,
    FailedUsers: j.FailedUsers,
  };
  if (j.StartDate !== undefined) out.StartDate = j.StartDate;
  if (j.CompletionDate !== undefined) out.CompletionDate = j.CompletionDate;
  if (j.CompletionMessage !== undefined) out.CompletionMessage = j.CompletionMessage;
  return out;
}

function str(input: Record<string, unknown>, name: string): string | undefined {
  const v = input[name];
  return typeof v === 'string' ? v : undefined;
}

function requirePoolId(input: Record<string, unknown>): string {
  const id = str(input, 'UserPoolId');
  if (!id) throw invalid('1 validation error detected: UserPoolId must not be null');
  if (id.length > 55 || !POOL_ID.test(id)) {
    throw invalid(
      `1 validation error detected: Value '${id}' at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+`,
    );
  }
  return id;
}

function randomPassword(): string {
  return `Aa1!${randomBytes(18).toString('base64url')}`;
}

/** Runs `fn` over `items` with at most `n` at once, keeping results in order. */
async function mapLimit<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

export async function startImportJobDouble(opts: ImportJobDoubleOptions): Promise<ImportJobDouble> {
  const now = opts.now ?? Date.now;
  const ttl = opts.uploadUrlTtlMs ?? 15 * 60 * 1000;
  const delay = opts.jobDelayMs ?? 50;
  const limits = {
    maxRows: opts.limits?.maxRows ?? IMPORT_LIMITS.maxRows,
    maxBytes: opts.limits?.maxBytes ?? IMPORT_LIMITS.maxBytes,
    maxRowChars: opts.limits?.maxRowChars ?? IMPORT_LIMITS.maxRowChars,
  };
  const concurrency = opts.concurrency ?? 4;
  const upstream = new URL(opts.upstream);
  const jobs = new Map<string, Job>();
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  const stats: ImportJobDouble['stats'] = {
    forwarded: 0,
    handled: {},
    uploadsAccepted: 0,
    uploadsRejected: 0,
  };
  let endpoint = '';
  const region = (poolId: string): string => poolId.split('_')[0] ?? 'us-east-1';
  const clients = new Map<string, CognitoIdentityProviderClient>();
  const moto = (poolId: string): CognitoIdentityProviderClient => {
    const r = region(poolId);
    let c = clients.get(r);
    if (!c) {
      c = new CognitoIdentityProviderClient({
        region: r,
        endpoint: opts.upstream,
        credentials: EMULATOR_CREDENTIALS,
      });
      clients.set(r, c);
    }
    return c;
  };

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const seconds = (): number => Math.round(now()) / 1000;

  async function describePool(poolId: string): Promise<UserPoolType> {
    try {
      const r = await moto(poolId).send(new DescribeUserPoolCommand({ UserPoolId: poolId }));
      if (!r.UserPool)
        throw new AwsError('ResourceNotFoundException', `User pool ${poolId} does not exist.`);
      return r.UserPool;
    } catch (e) {
      if (e instanceof AwsError) throw e;
      const name = (e as { name?: string }).name ?? 'InternalErrorException';
      const status =
        (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 500;
      throw new AwsError(name, (e as Error).message, status);
    }
  }

  function headerOf(pool: UserPoolType): string[] {
    return awsCsvHeader(pool.SchemaAttributes ?? []);
  }

  function expireIfDue(j: Job): void {
    if (j.Status === 'Created' && now() - j.createdMs > JOB_EXPIRY_MS) {
      j.Status = 'Expired';
      delete j.upload;
    }
  }

  function findJob(input: Record<string, unknown>): Job {
    const poolId = requirePoolId(input);
    const jobId = str(input, 'JobId');
    if (!jobId || jobId.length > 55 || !JOB_ID.test(jobId)) {
      throw invalid(
        `1 validation error detected: Value '${jobId ?? ''}' at 'jobId' failed to satisfy constraint`,
      );
    }
    const j = jobs.get(jobId);
    if (!j || j.UserPoolId !== poolId)
      throw new AwsError('ResourceNotFoundException', `Import job ${jobId} does not exist.`);
    expireIfDue(j);
    return j;
  }

  // ---- logs --------------------------------------------------------------------------------------

  async function logsCall(poolId: string, op: string, body: unknown): Promise<void> {
    if (!opts.logs) return;
    const r = await fetch(opts.logs.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `Logs_20140328.${op}`,
        authorization: `AWS4-HMAC-SHA256 Credential=${EMULATOR_CREDENTIALS.accessKeyId}/20260101/${region(poolId)}/logs/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(body),
    });
    if (!r.ok) {
      const text = await r.text();
      if (!text.includes('ResourceAlreadyExistsException'))
        throw new Error(`logs ${op}: ${r.status} ${text}`);
    }
  }

  async function writeLogs(j: Job): Promise<void> {
    if (!opts.logs) return;
    const logGroupName = `/aws/cognito/userpools/${j.UserPoolId}/${j.poolName}`;
    const logStreamName = `${j.JobId}/${j.JobName}`;
    await logsCall(j.UserPoolId, 'CreateLogGroup', { logGroupName });
    await logsCall(j.UserPoolId, 'CreateLogStream', { logGroupName, logStreamName });
    const t = Math.round(now());
    for (let i = 0; i < j.results.length; i += 1000) {
      await logsCall(j.UserPoolId, 'PutLogEvents', {
        logGroupName,
        logStreamName,
        logEvents: j.results.slice(i, i + 1000).map((r) => ({
          timestamp: t,
          message: `[${r.outcome}] Line Number ${r.line} - ${r.message}`,
        })),
      });
    }
  }

  // ---- the import itself -------------------------------------------------------------------------

  function finish(j: Job, status: ImportJobStatus, message: string): void {
    j.Status = status;
    j.CompletionDate = seconds();
    j.CompletionMessage = message;
    delete j.upload;
  }

  async function importRow(
    j: Job,
    pool: UserPoolType,
    header: string[],
    lineNo: number,
    raw: string,
  ): Promise<LineResult | undefined> {
    const failed = (message: string): LineResult => ({ line: lineNo, outcome: 'FAILED', message });
    // A stopped job leaves the remaining lines alone: not imported, not counted.
    if (j.stopRequested) return undefined;
    if (raw.length > limits.maxRowChars)
      return failed(`The row is longer than ${limits.maxRowChars} characters.`);
    const read = readAwsCsvRow(raw);
    if ('problem' in read)
      return failed(
        read.problem === 'QuotationMark'
          ? 'Attribute values must not be in quotation marks.'
          : 'The row contains a backslash that does not escape a comma.',
      );
    const fields = read.values;
    if (fields.length !== header.length) {
      return failed(
        `The row has ${fields.length} values; the header has ${header.length} columns.`,
      );
    }
    const row = new Map(header.map((h, i) => [h, fields[i] ?? '']));
    const username = row.get(USERNAME_COLUMN) ?? '';
    if (!username || /\s/.test(username))
      return failed('cognito:username is empty or contains whitespace.');

    const mfaPool = pool.MfaConfiguration ?? 'OFF';
    const mfa = (row.get(MFA_COLUMN) ?? '').toLowerCase();
    if (mfa !== '' && mfa !== 'true' && mfa !== 'false')
      return failed('cognito:mfa_enabled must be true or false.');
    if (
      (mfaPool === 'ON' && mfa === 'false') ||
      (mfaPool === 'OFF' && mfa === 'true') ||
      (mfaPool === 'OPTIONAL' && mfa === '')
    ) {
      return failed(`cognito:mfa_enabled does not match the user pool's MFA setting (${mfaPool}).`);
    }
    const attrs: { Name: string; Value: string }[] = [];
    for (const [name, value] of row) {
      if (name === USERNAME_COLUMN || name === MFA_COLUMN || value === '') continue;
      if (name.endsWith('_verified')) {
        const v = value.toLowerCase();
        if (v !== 'true' && v !== 'false') return failed(`${name} must be true or false.`);
        attrs.push({ Name: name, Value: v });
        continue;
      }
      if (name === 'birthdate') {
        const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(value);
        if (!m) return failed('birthdate must be in the format mm/dd/yyyy.');
        attrs.push({ Name: name, Value: `${m[3]}-${m[1]}-${m[2]}` });
        continue;
      }
      if (name === 'updated_at' && !/^\d+$/.test(value))
        return failed('updated_at must be epoch time in seconds.');
      attrs.push({ Name: name, Value: value });
    }
    const get = (n: string): string | undefined => attrs.find((a) => a.Name === n)?.Value;
    for (const a of ['email', 'phone_number']) {
      if (get(`${a}_verified`) === 'true' && !get(a))
        return failed(`${a}_verified is true but ${a} is empty.`);
    }
    const auto = pool.AutoVerifiedAttributes ?? [];
    if (!auto.some((a) => get(`${a}_verified`) === 'true' && get(a))) {
      return failed(
        'The User Record does not set any of the auto verified attributes to true. (Example: email_verified to true).',
      );
    }
    for (const s of pool.SchemaAttributes ?? []) {
      if (s.Required && s.Name && s.Name !== 'sub' && !get(s.Name)) {
        return failed(`The required attribute ${s.Name} is empty.`);
      }
    }
    const client = moto(j.UserPoolId);
    let created: string;
    try {
      const r = await client.send(
        new AdminCreateUserCommand({
          UserPoolId: j.UserPoolId,
          Username: username,
          UserAttributes: attrs,
          MessageAction: 'SUPPRESS',
        }),
      );
      created = r.User?.Username ?? username;
    } catch (e) {
      const name = (e as { name?: string }).name ?? '';
      if (name === 'UsernameExistsException') {
        return { line: lineNo, outcome: 'SKIPPED', message: 'The user already exists.' };
      }
      return failed(`The user could not be imported: ${name}.`);
    }
    try {
      await client.send(
        new AdminSetUserPasswordCommand({
          UserPoolId: j.UserPoolId,
          Username: created,
          Password: randomPassword(),
          Permanent: true,
        }),
      );
      await client.send(
        new AdminResetUserPasswordCommand({ UserPoolId: j.UserPoolId, Username: created }),
      );
    } catch (e) {
      return failed(
        `The user was created but not put in RESET_REQUIRED: ${(e as { name?: string }).name ?? ''}.`,
      );
    }
    return { line: lineNo, outcome: 'SUCCEEDED', message: 'The import succeeded.' };
  }

  async function runJob(j: Job): Promise<void> {
    if (j.Status !== 'Pending') return; // stopped while pending
    j.Status = 'InProgress';
    await new Promise((r) => setTimeout(r, delay));
    let pool: UserPoolType;
    try {
      pool = await describePool(j.UserPoolId);
    } catch {
      finish(j, 'Failed', 'The user pool has been deleted.');
      return;
    }
    if ((pool.AutoVerifiedAttributes ?? []).length === 0) {
      finish(j, 'Failed', 'The user pool has no auto-verified attributes.');
      return;
    }
    const bytes = j.upload ?? Buffer.alloc(0);
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      finish(
        j,
        'Failed',
        'Amazon Cognito is unable to parse the .csv file: it starts with a byte order mark.',
      );
      return;
    }
    const text = bytes.toString('utf8');
    const lines = awsCsvLines(text);
    const headerLine = lines[0] ?? '';
    const given = headerLine.split(',').map((h) => h.trim());
    const expected = headerOf(pool);
    const missing = expected.filter((h) => !given.includes(h));
    const unknown = given.filter((h) => !expected.includes(h));
    const dup = given.filter((h, i) => given.indexOf(h) !== i);
    if (missing.length || unknown.length || dup.length) {
      const what = missing.length
        ? `missing column ${missing[0]}`
        : unknown.length
          ? `unknown column ${unknown[0]}`
          : `duplicated column ${dup[0]}`;
      finish(
        j,
        'Failed',
        `Amazon Cognito is unable to parse the .csv file: the header does not match the user pool (${what}).`,
      );
      return;
    }
    const rows = lines.slice(1);
    if (rows.length > limits.maxRows) {
      finish(j, 'Failed', `The .csv file has more than ${limits.maxRows} users.`);
      return;
    }
    const numbered = rows.map((raw, i) => ({ raw, line: i + 2 }));
    const results = await mapLimit(
      numbered.filter((r) => r.raw !== ''),
      concurrency,
      async (r) => {
        const res = await importRow(j, pool, given, r.line, r.raw);
        if (!res) return undefined;
        if (res.outcome === 'SUCCEEDED') j.ImportedUsers++;
        else if (res.outcome === 'SKIPPED') j.SkippedUsers++;
        else j.FailedUsers++;
        return res;
      },
    );
    j.results = results.filter((r): r is LineResult => r !== undefined);
    try {
      await writeLogs(j);
    } catch {
      finish(j, 'Failed', 'The CloudWatch Logs role cannot be assumed or has no access policy.');
      return;
    }
    if (j.stopRequested) {
      finish(j, 'Stopped', 'The Import Job was stopped by the developer.');
      return;
    }
    const total = j.ImportedUsers + j.SkippedUsers + j.FailedUsers;
    if (total > 0 && (j.SkippedUsers + j.FailedUsers) * 2 > total) {
      finish(j, 'Failed', 'Too many users have failed or been skipped during the import.');
    } else {
      finish(j, 'Succeeded', 'Import Job Completed Successfully.');
    }
  }

  // ---- operations --------------------------------------------------------------------------------

  const ops: Record<string, (input: Record<string, unknown>) => Promise<unknown>> = {
    async GetCSVHeader(input) {
      const poolId = requirePoolId(input);
      return { UserPoolId: poolId, CSVHeader: headerOf(await describePool(poolId)) };
    },

    async CreateUserImportJob(input) {
      const poolId = requirePoolId(input);
      const name = str(input, 'JobName');
      if (!name || name.length > 128 || !JOB_NAME.test(name)) {
        throw invalid(
          `1 validation error detected: Value '${name ?? ''}' at 'jobName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+`,
        );
      }
      const arn = str(input, 'CloudWatchLogsRoleArn');
      if (!arn)
        throw invalid('1 validation error detected: CloudWatchLogsRoleArn must not be null');
      if (arn.length < 20 || arn.length > 2048 || !ARN.test(arn)) {
        throw invalid(
          `1 validation error detected: Value '${arn}' at 'cloudWatchLogsRoleArn' failed to satisfy constraint: Member must satisfy regular expression pattern`,
        );
      }
      const pool = await describePool(poolId);
      if ([...jobs.values()].filter((x) => x.UserPoolId === poolId).length >= JOBS_PER_POOL) {
        throw new AwsError(
          'LimitExceededException',
          `The user pool ${poolId} has ${JOBS_PER_POOL} import jobs.`,
        );
      }
      const JobId = `import-${randomBytes(8)
        .toString('base64url')
        .replace(/[^0-9a-zA-Z]/g, '0')}`;
      const token = randomBytes(24).toString('hex');
      const j: Job = {
        JobName: name,
        JobId,
        UserPoolId: poolId,
        PreSignedUrl: `${endpoint}/import-upload/${encodeURIComponent(poolId)}/${JobId}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=${Math.round(ttl / 1000)}&X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption&X-Amz-Signature=${token}`,
        CreationDate: seconds(),
        Status: 'Created',
        CloudWatchLogsRoleArn: arn,
        ImportedUsers: 0,
        SkippedUsers: 0,
        FailedUsers: 0,
        results: [],
        token,
        createdMs: now(),
        stopRequested: false,
        poolName: pool.Name ?? '',
      };
      jobs.set(JobId, j);
      return { UserImportJob: publicJob(j) };
    },

    async StartUserImportJob(input) {
      const j = findJob(input);
      if (j.Status === 'Expired') throw precondition(`Import job ${j.JobId} has expired.`);
      if (j.Status !== 'Created')
        throw precondition(`Import job ${j.JobId} has already been started (${j.Status}).`);
      if (!j.upload) throw precondition(`No csv file was uploaded for ${j.JobId}`);
      const other = [...jobs.values()].find((x) => x !== j && ACTIVE.has(x.Status));
      if (other) throw precondition('Only one import job can be active at a time per account.');
      j.Status = 'Pending';
      j.StartDate = seconds();
      later(delay, () => {
        const p = runJob(j).catch(() => finish(j, 'Failed', 'An internal error occurred.'));
        running.add(p);
        void p.finally(() => running.delete(p));
      });
      return { UserImportJob: publicJob(j) };
    },

    async DescribeUserImportJob(input) {
      return { UserImportJob: publicJob(findJob(input)) };
    },

    async ListUserImportJobs(input) {
      const poolId = requirePoolId(input);
      const max = input.MaxResults;
      if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 60) {
        throw invalid('1 validation error detected: MaxResults must be between 1 and 60');
      }
      await describePool(poolId);
      const token = str(input, 'PaginationToken');
      const start = token ? Number.parseInt(Buffer.from(token, 'base64url').toString(), 10) : 0;
      if (!Number.isInteger(start) || start < 0) throw invalid('Invalid pagination token.');
      const all = [...jobs.values()]
        .filter((x) => x.UserPoolId === poolId)
        .map((x) => (expireIfDue(x), x))
        .reverse();
      const page = all.slice(start, start + max);
      const out: Record<string, unknown> = {};
      if (page.length) out.UserImportJobs = page.map(publicJob);
      if (start + max < all.length)
        out.PaginationToken = Buffer.from(String(start + max)).toString('base64url');
      return out;
    },

    async StopUserImportJob(input) {
      const j = findJob(input);
      if (j.Status !== 'Pending' && j.Status !== 'InProgress') {
        throw precondition(`Import job ${j.JobId} is not running (${j.Status}).`);
      }
      j.stopRequested = true;
      if (j.Status === 'Pending') {
        j.Status = 'Stopped';
        j.CompletionDate = seconds();
        j.CompletionMessage = 'The Import Job was stopped by the developer.';
      } else {
        j.Status = 'Stopping';
      }
      return { UserImportJob: publicJob(j) };
    },
  };

  // ---- settings moto lacks (opts.settings) -------------------------------------------------------

  /** Settings by `<pool>|<client id, or ALL for the pool's>`. */
  const uiSettings = new Map<
    string,
    { CSS?: string; image?: string; created: number; modified: number }
  >();
  const riskSettings = new Map<string, Record<string, unknown>>();
  const brandings = new Map<string, Record<string, unknown>>();
  const RISK_MEMBERS = [
    'CompromisedCredentialsRiskConfiguration',
    'AccountTakeoverRiskConfiguration',
    'RiskExceptionConfiguration',
  ];

  /** The pool (and the app client, when named) must exist in moto. */
  async function requireClient(
    input: Record<string, unknown>,
  ): Promise<{ poolId: string; clientId?: string }> {
    const poolId = requirePoolId(input);
    await describePool(poolId);
    const clientId = str(input, 'ClientId');
    if (clientId === undefined || clientId === 'ALL') return { poolId };
    try {
      await moto(poolId).send(
        new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: clientId }),
      );
    } catch {
      throw new AwsError('ResourceNotFoundException', `Client ${clientId} does not exist.`);
    }
    return { poolId, clientId };
  }

  const uiOf = (poolId: string, clientId: string | undefined): Record<string, unknown> => {
    const own = clientId ? uiSettings.get(`${poolId}|${clientId}`) : undefined;
    const ui = own ?? uiSettings.get(`${poolId}|ALL`);
    if (!ui) return {};
    return {
      UserPoolId: poolId,
      ClientId: own ? clientId : 'ALL',
      ...(ui.CSS !== undefined ? { CSS: ui.CSS } : {}),
      CSSVersion: String(ui.modified),
      // Cognito serves the logo from its CDN; the double has none to serve.
      ...(ui.image
        ? {
            ImageUrl: `https://ui-image.cognito-vault.invalid/${poolId}/${own ? clientId : 'ALL'}.png`,
          }
        : {}),
      CreationDate: ui.created,
      LastModifiedDate: ui.modified,
    };
  };

  const settingsOps: Record<string, (input: Record<string, unknown>) => Promise<unknown>> = {
    async GetUICustomization(input) {
      const { poolId, clientId } = await requireClient(input);
      return { UICustomization: uiOf(poolId, clientId) };
    },
    async SetUICustomization(input) {
      const { poolId, clientId } = await requireClient(input);
      const key = `${poolId}|${clientId ?? 'ALL'}`;
      const css = str(input, 'CSS');
      const image = str(input, 'ImageFile');
      const created = uiSettings.get(key)?.created ?? seconds();
      uiSettings.set(key, {
        ...(css !== undefined ? { CSS: css } : {}),
        ...(image ? { image } : {}),
        created,
        modified: seconds(),
      });
      return { UICustomization: uiOf(poolId, clientId) };
    },
    async DescribeRiskConfiguration(input) {
      const { poolId, clientId } = await requireClient(input);
      const own = clientId ? riskSettings.get(`${poolId}|${clientId}`) : undefined;
      const risk = own ?? riskSettings.get(`${poolId}|`) ?? {};
      return {
        RiskConfiguration: { UserPoolId: poolId, ...(own ? { ClientId: clientId } : {}), ...risk },
      };
    },
    async SetRiskConfiguration(input) {
      const { poolId, clientId } = await requireClient(input);
      const config: Record<string, unknown> = { LastModifiedDate: seconds() };
      for (const k of RISK_MEMBERS) if (input[k] !== undefined) config[k] = input[k];
      // Only the ids: the app client's (or the pool's) setting goes back to inherited.
      if (Object.keys(config).length === 1) riskSettings.delete(`${poolId}|${clientId ?? ''}`);
      else riskSettings.set(`${poolId}|${clientId ?? ''}`, config);
      return {
        RiskConfiguration: {
          UserPoolId: poolId,
          ...(clientId ? { ClientId: clientId } : {}),
          ...config,
        },
      };
    },
    async DescribeManagedLoginBrandingByClient(input) {
      const { poolId, clientId } = await requireClient(input);
      const b = brandings.get(`${poolId}|${clientId ?? ''}`);
      if (!b)
        throw new AwsError(
          'ResourceNotFoundException',
          `No managed login branding for client ${clientId ?? ''}.`,
        );
      return { ManagedLoginBranding: b };
    },
    async CreateManagedLoginBranding(input) {
      const { poolId, clientId } = await requireClient(input);
      if (!clientId) throw invalid('ClientId is required.');
      const key = `${poolId}|${clientId}`;
      if (brandings.has(key))
        throw new AwsError(
          'ManagedLoginBrandingExistsException',
          `Client ${clientId} has a managed login branding already.`,
        );
      const useDefaults = input.UseCognitoProvidedValues === true;
      if (useDefaults && (input.Settings !== undefined || input.Assets !== undefined))
        throw invalid('Settings and Assets cannot be combined with UseCognitoProvidedValues.');
      const b = {
        ManagedLoginBrandingId: randomUUID(),
        UserPoolId: poolId,
        UseCognitoProvidedValues: useDefaults,
        ...(input.Settings !== undefined ? { Settings: input.Settings } : {}),
        ...(Array.isArray(input.Assets) ? { Assets: input.Assets } : {}),
        CreationDate: seconds(),
        LastModifiedDate: seconds(),
      };
      brandings.set(key, b);
      return { ManagedLoginBranding: b };
    },
  };

  // ---- HTTP --------------------------------------------------------------------------------------

  async function forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
  ): Promise<void> {
    stats.forwarded++;
    const headers = { ...req.headers, host: upstream.host };
    await new Promise<void>((resolve) => {
      const up = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
        },
        (ur) => {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
          ur.on('end', resolve);
          ur.on('error', () => resolve());
        },
      );
      up.on('error', (e) => {
        if (!res.headersSent)
          sendJson(res, 502, { __type: 'InternalErrorException', message: e.message });
        else res.destroy();
        resolve();
      });
      up.end(body);
    });
  }

  async function upload(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
  ): Promise<void> {
    const m = /^\/import-upload\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    const j = m ? jobs.get(m[2] ?? '') : undefined;
    const reject = (status: number, code: string, message: string): void => {
      stats.uploadsRejected++;
      sendS3Error(res, status, code, message);
    };
    if (req.method !== 'PUT') {
      await readBody(req);
      reject(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      return;
    }
    const body = await readBody(req, limits.maxBytes);
    if (
      !j ||
      decodeURIComponent(m?.[1] ?? '') !== j.UserPoolId ||
      url.searchParams.get('X-Amz-Signature') !== j.token
    ) {
      reject(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
      return;
    }
    if (now() - j.createdMs > ttl) {
      reject(403, 'AccessDenied', 'Request has expired');
      return;
    }
    if (req.headers['x-amz-server-side-encryption'] !== 'aws:kms') {
      reject(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided (x-amz-server-side-encryption: aws:kms is a signed header).',
      );
      return;
    }
    if (j.Status !== 'Created') {
      reject(403, 'AccessDenied', `Import job ${j.JobId} is ${j.Status}.`);
      return;
    }
    if (body === 'too-large') {
      reject(
        400,
        'EntityTooLarge',
        `Your proposed upload exceeds the maximum allowed size (${limits.maxBytes} bytes).`,
      );
      return;
    }
    j.upload = body;
    j.uploadedBytes = body.length;
    stats.uploadsAccepted++;
    res.writeHead(200, {
      etag: `"${randomBytes(16).toString('hex')}"`,
      'x-amz-server-side-encryption': 'aws:kms',
      'content-length': 0,
    });
    res.end();
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/import-upload/')) {
      await upload(req, res, url);
      return;
    }
    const body = (await readBody(req)) as Buffer;
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const setting = Boolean(opts.settings) && SETTINGS_OPS.has(op);
    if (!HANDLED.has(op) && !BLOCKED_DURING_IMPORT.has(op) && !setting) {
      await forward(req, res, body);
      return;
    }
    stats.handled[op] = (stats.handled[op] ?? 0) + 1;
    let input: Record<string, unknown>;
    try {
      input = (body.length ? JSON.parse(body.toString('utf8')) : {}) as Record<string, unknown>;
    } catch {
      sendAwsError(
        res,
        new AwsError('SerializationException', 'The request body is not valid JSON.'),
      );
      return;
    }
    try {
      if (BLOCKED_DURING_IMPORT.has(op)) {
        const poolId = str(input, 'UserPoolId');
        const busy = [...jobs.values()].find(
          (x) => x.UserPoolId === poolId && ACTIVE.has(x.Status),
        );
        if (busy) {
          throw new AwsError(
            'UserImportInProgressException',
            `A user import job (${busy.JobId}) is in progress for the user pool ${poolId}.`,
          );
        }
        await forward(req, res, body);
        return;
      }
      const run = (setting ? settingsOps[op] : ops[op]) as (
        i: Record<string, unknown>,
      ) => Promise<unknown>;
      sendJson(res, 200, await run(input));
    } catch (e) {
      sendAwsError(
        res,
        e instanceof AwsError
          ? e
          : new AwsError('InternalErrorException', (e as Error).message, 500),
      );
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent)
        sendAwsError(res, new AwsError('InternalErrorException', (e as Error).message, 500));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    stats,
    jobs: () =>
      [...jobs.values()].map((j) => {
        expireIfDue(j);
        const {
          token: _t,
          upload: _u,
          createdMs: _c,
          stopRequested: _s,
          poolName: _p,
          ...info
        } = j;
        return { ...info, results: [...j.results] };
      }),
    async stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const j of jobs.values()) j.stopRequested = true;
      await Promise.allSettled([...running]);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      for (const c of clients.values()) c.destroy();
    },
  };
}
