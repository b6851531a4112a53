import { InvalidArgumentError } from 'commander';
import { UsageError } from '../core/errors.js';
import { regionOfPoolId } from '../cognito/pool-id.js';
import { isQuotaCategory, type QuotaCategory } from '../cognito/quotas.js';
import { DEFAULT_USERS_PATH, USERS_PATHS, type UsersPath } from '../restore/users/path.js';
import { parseLocation } from '../storage/location.js';
import { renderOptionNames } from './option-flags.js';

/**
 * Flag-value parsers shared by every command: each rejects a bad value at parse time with
 * commander's InvalidArgumentError (exit 2, one line), so nothing is read, written or called
 * with it. Values are checked for shape only; whether a pool exists is Cognito's answer.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function nonEmpty(v: string): string {
  if (v.trim() === '') throw new InvalidArgumentError('expected a non-empty value');
  if (CONTROL.test(v)) throw new InvalidArgumentError('control characters are not allowed');
  return v;
}

/** A 12-digit AWS account id (--expected-bucket-owner, restore --target-account). */
export function parseAccountId(v: string): string {
  if (!/^\d{12}$/.test(v)) throw new InvalidArgumentError('expected a 12-digit AWS account id');
  return v;
}

/** An AWS Region name: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, … */
export const REGION_PATTERN = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;

export function parseRegion(v: string): string {
  if (!REGION_PATTERN.test(v))
    throw new InvalidArgumentError('expected an AWS Region such as us-east-1');
  return v;
}

export function parseProfile(v: string): string {
  nonEmpty(v);
  if (/\s/.test(v)) throw new InvalidArgumentError('a profile name has no spaces');
  return v;
}

/** An http(s) endpoint URL with a host (the AWS SDK fails later, and less clearly, otherwise). */
export function parseEndpointUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname)
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  return v;
}

/** A user pool id, <region>_<id>. */
export function parsePoolId(v: string): string {
  try {
    regionOfPoolId(v);
  } catch (e) {
    if (e instanceof UsageError) throw new InvalidArgumentError(renderOptionNames(e.message));
    throw e;
  }
  return v;
}

/** Cognito PoolName: 1–128 characters of [\w\s+=,.@-]. */
export function parsePoolName(v: string): string {
  if (!/^[\w\s+=,.@-]{1,128}$/u.test(v) || v.trim() === '')
    throw new InvalidArgumentError(
      'a pool name has 1 to 128 letters, digits, spaces and + = , . @ - _',
    );
  return v;
}

/** A snapshot location: s3://bucket/prefix or a local directory (malformed URLs refused). */
export function parseLocationArg(what: string): (v: string) => string {
  return (v: string): string => {
    try {
      parseLocation(v, what);
    } catch (e) {
      if (e instanceof UsageError) throw new InvalidArgumentError(renderOptionNames(e.message));
      throw e;
    }
    return v;
  };
}

/** A local directory only (the demo, restore's state directory): no URL of any kind. */
export function parseLocalDir(what: string): (v: string) => string {
  return (v: string): string => {
    nonEmpty(v);
    let kind: string;
    try {
      kind = parseLocation(v, what).kind;
    } catch (e) {
      if (e instanceof UsageError) throw new InvalidArgumentError(renderOptionNames(e.message));
      throw e;
    }
    if (kind !== 'local') throw new InvalidArgumentError(`${what} must be a local directory`);
    return v;
  };
}

/** A local file path (input or output): non-empty, no URL, no trailing slash. */
export function parseLocalFile(what: string): (v: string) => string {
  return (v: string): string => {
    parseLocalDir(what)(v);
    if (v.endsWith('/'))
      throw new InvalidArgumentError(`${what} must name a file, not a directory`);
    return v;
  };
}

export function parseShare(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !(n > 0 && n <= 1))
    throw new InvalidArgumentError('expected a number in (0, 1]');
  return n;
}

/** Per-category overrides: at least 0.1 call/s (slower never finishes), at most 100 000. */
export const MAX_RPS_RANGE = { min: 0.1, max: 100_000 } as const;

export function parseMaxRps(spec: string): [QuotaCategory, number] {
  const m = /^([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(spec);
  const n = Number(m?.[2]);
  if (!m?.[1] || !isQuotaCategory(m[1]) || !(n >= MAX_RPS_RANGE.min && n <= MAX_RPS_RANGE.max)) {
    throw new UsageError(
      'BAD_FLAG',
      `--max-rps expects CATEGORY=N with a Cognito quota category and N from ${MAX_RPS_RANGE.min} to ${MAX_RPS_RANGE.max} (e.g. UserList=30), got "${spec}"`,
    );
  }
  return [m[1], n];
}

/** A whole number from `min` to `max`, written in plain decimal digits. */
export function parseInteger(min: number, max: number): (v: string) => number {
  return (v: string): number => {
    if (!/^\d+$/.test(v.trim()))
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

/** s3://bucket/prefix only (policy --s3): a local path or malformed URL is refused. */
export function parseS3Location(what: string): (v: string) => string {
  return (v: string): string => {
    let kind: string;
    try {
      kind = parseLocation(v, what).kind;
    } catch (e) {
      if (e instanceof UsageError) throw new InvalidArgumentError(renderOptionNames(e.message));
      throw e;
    }
    if (kind !== 's3') throw new InvalidArgumentError(`${what} expects s3://bucket/prefix`);
    return v;
  };
}

const PARTITION = 'aws(?:-[a-z]+)*';
const POOL_ARN = new RegExp(
  `^arn:${PARTITION}:cognito-idp:[a-z]{2,4}(?:-[a-z]+)+-\\d{1,2}:\\d{12}:userpool/[\\w-]+_[0-9a-zA-Z]+$`,
);
const KMS_ARN = new RegExp(
  `^arn:${PARTITION}:kms:[a-z]{2,4}(?:-[a-z]+)+-\\d{1,2}:\\d{12}:(?:key/[0-9a-zA-Z-]{1,64}|alias/[\\w/-]{1,250})$`,
);

/** arn:aws:cognito-idp:<region>:<account>:userpool/<pool id> (repeatable, variadic). */
export function parsePoolArn(v: string, prev: string[] = []): string[] {
  if (!POOL_ARN.test(v))
    throw new InvalidArgumentError(
      'expected arn:aws:cognito-idp:<region>:<account id>:userpool/<user pool id>',
    );
  return [...prev, v];
}

export function parseKmsKeyArn(v: string): string {
  if (!KMS_ARN.test(v))
    throw new InvalidArgumentError(
      'expected arn:aws:kms:<region>:<account id>:key/<key id> (or :alias/<name>)',
    );
  return v;
}

/**
 * `--users` and `--import-logs-role-arn`, as restore and drill take them (exit 2). Returns the
 * users path.
 */
export function checkUsersPathFlags(flags: {
  users?: string;
  importLogsRoleArn?: string;
}): UsersPath {
  const usersPath = (flags.users ?? DEFAULT_USERS_PATH) as UsersPath;
  if (!USERS_PATHS.includes(usersPath)) {
    throw new UsageError(
      'BAD_FLAG',
      `--users expects ${USERS_PATHS.join(', ')}, got "${flags.users ?? ''}"`,
    );
  }
  if (
    flags.importLogsRoleArn !== undefined &&
    !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(flags.importLogsRoleArn)
  ) {
    throw new UsageError(
      'BAD_FLAG',
      `--import-logs-role-arn expects an IAM role ARN (arn:aws:iam::<account>:role/<name>), got "${flags.importLogsRoleArn}"`,
    );
  }
  return usersPath;
}
