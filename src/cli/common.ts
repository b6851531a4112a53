import { setMaxListeners } from 'node:events';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  ExitCode,
  InterruptedError,
  isVaultError,
  UsageError,
  VaultError,
} from '../core/errors.js';
import type { ProgressListener } from '../core/progress.js';
import { CognitoGateway } from '../cognito/gateway.js';
import { isQuotaCategory, type QuotaCategory } from '../cognito/quotas.js';
import type { RateOptions } from '../cognito/rate.js';
import { ACCOUNT_ID, openStorage, parseS3Url, type Storage } from '../storage/index.js';
import { createProgressRenderer } from './progress.js';

export interface CommonFlags {
  region?: string;
  profile?: string;
  endpointUrl?: string;
  json?: boolean;
  quiet?: boolean;
  rateShare?: number;
  maxRps?: string[];
  expectedBucketOwner?: string;
  sseKmsKeyId?: string;
}

export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    unexpected failure (a bug, or an AWS error not listed here)
  2    bad usage or input: unknown flag, malformed or unknown pool id, region mismatch
  3    snapshot invalid or incomplete (no manifest, checksum mismatch, unknown formatVersion)
  4    target pool incompatible, or not empty without --merge
  5    AWS credentials missing, or access denied
  6    partial restore: some users failed (the report lists them)
  7    Cognito endpoint unreachable, or still failing/throttling after every retry
  8    storage error: the snapshot location is unwritable, the disk is full, a file is missing
  130  interrupted (Ctrl-C); a partial backup is left without a manifest`;

export function addAwsOptions(cmd: Command): Command {
  return cmd
    .option('--region <region>', 'AWS Region (default: the one in the pool id, then AWS_REGION)')
    .option('--profile <profile>', 'AWS shared-config profile')
    .option(
      '--endpoint-url <url>',
      'Cognito (and S3) endpoint, e.g. a local emulator (also AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, AWS_ENDPOINT_URL_S3)',
    );
}

function accountId(v: string): string {
  if (!ACCOUNT_ID.test(v)) throw new InvalidArgumentError('expected a 12-digit AWS account id');
  return v;
}

/** S3 options for every command that reads or writes an s3:// location. */
export function addStorageOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--expected-bucket-owner <account>',
        's3:// only: the account that must own the bucket; every S3 request carries it (S3 refuses a bucket owned by anyone else)',
      ).argParser(accountId),
    )
    .option(
      '--sse-kms-key-id <key>',
      's3:// only: encrypt the objects written with SSE-KMS under this key (id, ARN or alias)',
    );
}

export function addOutputOptions(cmd: Command): Command {
  return cmd
    .option(
      '--json',
      'print one machine-readable JSON result on stdout; progress as JSON lines on stderr',
    )
    .option('--quiet', 'no progress output');
}

function parseShare(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('expected a number in (0, 1]');
  return n;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function addRateOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--rate-share <share>',
        'use at most this share (0-1] of each Cognito quota, leaving the rest to your apps',
      ).argParser(parseShare),
    )
    .addOption(
      new Option(
        '--max-rps <CATEGORY=N>',
        'override one quota category, e.g. UserCreation=100 (repeatable)',
      ).argParser(collect),
    );
}

export function rateOptions(flags: CommonFlags): RateOptions {
  const maxRps: Partial<Record<QuotaCategory, number>> = {};
  for (const spec of flags.maxRps ?? []) {
    const m = /^([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(spec);
    if (!m?.[1] || !m[2] || !isQuotaCategory(m[1]) || !(Number(m[2]) > 0)) {
      throw new UsageError(
        'BAD_FLAG',
        `--max-rps expects CATEGORY=N with a Cognito quota category (e.g. UserList=30), got "${spec}"`,
      );
    }
    maxRps[m[1]] = Number(m[2]);
  }
  return { ...(flags.rateShare !== undefined ? { rateShare: flags.rateShare } : {}), maxRps };
}

export function makeGateway(
  flags: CommonFlags,
  region: string | undefined,
  signal?: AbortSignal,
): CognitoGateway {
  return CognitoGateway.create(
    {
      ...(region ? { region } : {}),
      ...(flags.profile ? { profile: flags.profile } : {}),
      ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
    },
    { rate: rateOptions(flags), ...(signal ? { signal } : {}) },
  );
}

export function makeStorage(location: string, flags: CommonFlags, region?: string): Storage {
  if ((flags.expectedBucketOwner || flags.sseKmsKeyId) && !parseS3Url(location)) {
    throw new UsageError(
      'BAD_FLAG',
      `--expected-bucket-owner and --sse-kms-key-id apply to s3:// locations only, not to ${location}`,
    );
  }
  return openStorage(location, {
    ...(region ? { region } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(flags.endpointUrl ? { s3EndpointUrl: flags.endpointUrl } : {}),
    ...(flags.expectedBucketOwner ? { expectedBucketOwner: flags.expectedBucketOwner } : {}),
    ...(flags.sseKmsKeyId ? { kmsKeyId: flags.sseKmsKeyId } : {}),
  });
}

export interface RunContext {
  signal: AbortSignal;
  progress: ProgressListener;
  /** Human output (stderr when --json, so stdout stays one JSON object). */
  say: (line: string) => void;
  json: boolean;
}

/**
 * Runs a command body: wires Ctrl-C to an AbortSignal, renders progress, prints the result
 * (JSON or text), and turns errors into one clear stderr line and the documented exit code.
 */
export async function runCommand<R>(
  flags: CommonFlags,
  body: (ctx: RunContext) => Promise<R>,
  render: (result: R, say: (line: string) => void) => void,
  opts: {
    /** Exit code for a finished run (default 0). */
    exitCode?: (result: R) => number;
    /** The line printed on Ctrl-C: what state the interruption leaves behind. */
    interrupted?: string;
  } = {},
): Promise<void> {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(ExitCode.Interrupted);
    controller.abort(new InterruptedError());
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const json = Boolean(flags.json);
  const renderer = createProgressRenderer({ json, quiet: Boolean(flags.quiet) });
  const say = (line: string): void => {
    (json ? process.stderr : process.stdout).write(`${line}\n`);
  };
  try {
    const result = await body({
      signal: controller.signal,
      progress: renderer.listener,
      say,
      json,
    });
    renderer.stop();
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else render(result, say);
    process.exitCode = opts.exitCode?.(result) ?? ExitCode.Ok;
  } catch (e) {
    renderer.stop();
    const err = toCliError(e, controller.signal.aborted, opts.interrupted);
    process.stderr.write(`cognito-vault: error: ${err.message}\n`);
    if (json) process.stdout.write(`${JSON.stringify({ error: err.toJSON() }, null, 2)}\n`);
    if (process.env.COGNITO_VAULT_DEBUG && e instanceof Error)
      process.stderr.write(`${e.stack ?? ''}\n`);
    process.exitCode = err.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function toCliError(e: unknown, aborted: boolean, interrupted = 'interrupted'): VaultError {
  if (aborted) return new InterruptedError(interrupted);
  if (isVaultError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new VaultError(
    'UNEXPECTED',
    `unexpected failure: ${msg}`,
    ExitCode.Unexpected,
    {},
    { cause: e },
  );
}
