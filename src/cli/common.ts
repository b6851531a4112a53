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
import { parseRecipient } from '../core/age-keys.js';
// Start-up: this module is loaded by every command's registration, so it imports only light
// modules at the top; the gateway (AWS SDK) and storage backends load when a command runs.
import type { CognitoGateway } from '../cognito/gateway.js';
import type { QuotaCategory } from '../cognito/quotas.js';
import type { RateOptions } from '../cognito/rate.js';
import { parseS3Url, type Storage } from '../storage/storage.js';
import { forTerminal, jsonForTerminal } from '../core/terminal.js';
import { renderOptionNames } from './option-flags.js';
import { beginCommand } from './signals.js';
import {
  parseAccountId,
  parseEndpointUrl,
  parseMaxRps,
  parseProfile,
  parseRegion,
  parseShare,
} from './validate.js';

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
  /** --identity FILE (readers of encrypted snapshots). */
  identity?: string;
  /** Options whose value came from a COGNITO_VAULT_* variable (set before the action runs). */
  envSourced?: ReadonlySet<string>;
}

/**
 * Defaults an operator sets once (the Lambda reads the same names): each applies when its flag
 * is not given, and is listed in --help. The owner and the KMS key apply to s3:// locations
 * only (ignored for a directory, where the flags themselves are an error).
 */
export const CLI_ENV = {
  COGNITO_VAULT_TO: 'snapshot location: backup --to, the ROOT of list and prune',
  COGNITO_VAULT_EXPECTED_BUCKET_OWNER: '--expected-bucket-owner',
  COGNITO_VAULT_KMS_KEY_ID: '--sse-kms-key-id',
  COGNITO_VAULT_ENCRYPT_TO: 'backup --encrypt-to (recipients separated by commas or spaces)',
} as const;

export const ENV_HELP = `
Environment (defaults when the flag is not given):
${Object.entries(CLI_ENV)
  .map(([k, v]) => `  ${k.padEnd(36)} ${v}`)
  .join('\n')}
  AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL*  as for every AWS SDK tool`;

/** The default backup root: COGNITO_VAULT_TO, else ./cognito-backups. */
export function defaultRoot(): string {
  const v = process.env.COGNITO_VAULT_TO;
  return v !== undefined && v.trim() !== '' ? v : './cognito-backups';
}

/** The exit-code table of --help; README.md's "Exit codes" holds the same text (tested). */
export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    unexpected failure (a bug, or an AWS error not listed here)
  2    bad usage or input: unknown flag, malformed or unknown pool id, --region different
       from the pool's, malformed location (S3://b, s3:/b, s3://, https://…) or flag value,
       a bad --encrypt-to recipient, an --identity file that cannot be read or is malformed,
       a restore selector that matches nothing in the snapshot
  3    snapshot invalid or incomplete: no manifest, checksum mismatch, unknown
       formatVersion, a record over 4 MiB, a file that is not JSON, a symbolic link inside
       it; encrypted and no --identity, or none of its keys
  4    restore target incompatible, or not empty without --merge, or an ARN of another
       account or Region not mapped, or over 10,000 users billed as MAU without
       --accept-mau-cost
  5    AWS credentials missing, or access denied
  6    partial restore: some users or pool resources failed (the report lists each)
  7    Cognito endpoint unreachable, or still failing/throttling after every retry
  8    storage error: a snapshot or output location unwritable, unreadable (access denied,
       KMS, 503 after retries), missing or not creatable, the disk full, a file missing;
       a snapshot prune could not delete; forget: some snapshots pending (leased, or
       encrypted without --identity)
  9    diff: the snapshot and the pool differ (0: they are the same); drill: the scratch
       pool differs or users cannot recover; restore --plan-hash: the plan changed since
       the dry run, nothing written
  10   backup --all-pools: some pools or Regions failed, the others were backed up (the
       result lists each)
  130  interrupted (Ctrl-C or SIGTERM); a partial backup is left without a manifest
       (backup --resume finishes it); a restore continues when run again
With --json every failure is also {"error": {…}} on stdout, parse errors included.`;

/**
 * Commander's own errors (unknown flag, bad flag value, missing argument) in the tool's format:
 * one stderr line, `cognito-vault: error: …`, exit 2.
 */
export const COMMANDER_OUTPUT = {
  outputError(str: string, write: (s: string) => void): void {
    const msg = oneLine(str.trim().replace(/^error:\s*/, ''));
    write(`cognito-vault: error: ${msg} (see --help)\n`);
  },
};

export function addAwsOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--region <region>',
        'AWS Region (default: the one in the pool id, then AWS_REGION)',
      ).argParser(parseRegion),
    )
    .addOption(
      new Option('--profile <profile>', 'AWS shared-config profile').argParser(parseProfile),
    )
    .addOption(
      new Option(
        '--endpoint-url <url>',
        'Cognito (and S3) endpoint, e.g. a local emulator (also AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, AWS_ENDPOINT_URL_S3)',
      ).argParser(parseEndpointUrl),
    );
}

/** S3 options for every command that reads or writes an s3:// location. */
export function addStorageOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--expected-bucket-owner <account>',
        's3:// only: the account that must own the bucket; every S3 request carries it (S3 refuses a bucket owned by anyone else)',
      )
        .argParser(parseAccountId)
        .env('COGNITO_VAULT_EXPECTED_BUCKET_OWNER'),
    )
    .addOption(
      new Option(
        '--sse-kms-key-id <key>',
        's3:// only: encrypt the objects written with SSE-KMS under this key (id, ARN or alias)',
      ).env('COGNITO_VAULT_KMS_KEY_ID'),
    );
}

/** --endpoint-url, --profile and --region for commands that only touch S3 (verify, list, prune). */
export function addS3Options(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--endpoint-url <url>',
        'S3 endpoint (for s3:// locations on an emulator)',
      ).argParser(parseEndpointUrl),
    )
    .addOption(
      new Option('--profile <profile>', 'AWS shared-config profile').argParser(parseProfile),
    )
    .addOption(new Option('--region <region>', 'AWS Region of the bucket').argParser(parseRegion));
}

/** `--identity FILE` for the commands that read an encrypted snapshot's records. */
export function addIdentityOption(cmd: Command): Command {
  return cmd.option(
    '--identity <file>',
    'age identity file (AGE-SECRET-KEY-1… lines, as age-keygen writes it) to decrypt a snapshot taken with backup --encrypt-to',
  );
}

/**
 * The keys of `--identity`, or undefined without the flag. An unreadable or malformed file is a
 * usage error (exit 2); a file group or others can read is used with a warning.
 */
export async function loadKeyring(
  file: string | undefined,
  progress: ProgressListener,
): Promise<import('../snapshot/age.js').AgeKeyring | undefined> {
  if (file === undefined) return undefined;
  const { AgeKeyring } = await import('../snapshot/age.js');
  return AgeKeyring.fromFile(file, (code, message) => progress({ type: 'warning', code, message }));
}

/**
 * `--encrypt-to RECIPIENT`, repeatable: each value checked as it is parsed (exit 2). The
 * UsageError goes past commander (whose own message would quote the value whole: a secret key
 * pasted by mistake) to main's one-line error.
 */
export function collectRecipient(v: string, prev: string[] = []): string[] {
  // COGNITO_VAULT_ENCRYPT_TO holds a list; one flag value is one recipient (no separator in it).
  const given = v.split(/[\s,]+/).filter((r) => r.length > 0);
  if (given.length === 0) return [...new Set([...prev, parseRecipient(v)])];
  return [...new Set([...prev, ...given.map((r) => parseRecipient(r))])];
}

export function addOutputOptions(cmd: Command): Command {
  return cmd
    .option(
      '--json',
      'print one machine-readable JSON result on stdout; progress as JSON lines on stderr',
    )
    .option('--quiet', 'no progress output');
}

function collectMaxRps(v: string, prev: string[] = []): string[] {
  try {
    parseMaxRps(v);
  } catch (e) {
    throw new InvalidArgumentError(renderOptionNames((e as Error).message));
  }
  return [...prev, v];
}

export function addRateOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--rate-share <share>',
        'use at most this share (0-1] of each Cognito quota, leaving the rest to your apps (default 1: the whole quota, backing off on throttling; the Lambda defaults to 0.5)',
      ).argParser(parseShare),
    )
    .addOption(
      new Option(
        '--max-rps <CATEGORY=N>',
        'override one quota category, e.g. UserCreation=100 (repeatable)',
      ).argParser(collectMaxRps),
    );
}

export function rateOptions(flags: CommonFlags): RateOptions {
  const maxRps: Partial<Record<QuotaCategory, number>> = {};
  for (const spec of flags.maxRps ?? []) {
    const [category, n] = parseMaxRps(spec);
    maxRps[category] = n;
  }
  return { ...(flags.rateShare !== undefined ? { rateShare: flags.rateShare } : {}), maxRps };
}

export async function makeGateway(
  flags: CommonFlags,
  region: string | undefined,
  signal?: AbortSignal,
): Promise<CognitoGateway> {
  const { CognitoGateway } = await import('../cognito/gateway.js');
  return CognitoGateway.create(
    {
      ...(region ? { region } : {}),
      ...(flags.profile ? { profile: flags.profile } : {}),
      ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
    },
    { rate: rateOptions(flags), ...(signal ? { signal } : {}) },
  );
}

/**
 * Opens a snapshot location given on the command line, its backend loaded per scheme (no S3
 * client for a directory). A malformed location (`S3://b`, `s3:/b`, `https://…`) is a
 * UsageError (exit 2) before anything is read; `what` names the flag in that message.
 */
export async function makeStorage(
  location: string,
  flags: CommonFlags,
  region?: string,
  what = 'location',
): Promise<Storage> {
  const s3 = Boolean(parseS3Url(location));
  // A default from the environment applies to s3:// locations only; the flag itself is an error
  // for a directory.
  const given = (name: 'expectedBucketOwner' | 'sseKmsKeyId'): string | undefined =>
    s3 || !flags.envSourced?.has(name) ? flags[name] : undefined;
  const expectedBucketOwner = given('expectedBucketOwner');
  const sseKmsKeyId = given('sseKmsKeyId');
  if ((expectedBucketOwner || sseKmsKeyId) && !s3) {
    throw new UsageError(
      'BAD_FLAG',
      `--expected-bucket-owner and --sse-kms-key-id apply to s3:// locations only, not to ${location}`,
    );
  }
  const { loadStorage } = await import('../storage/open.js');
  return loadStorage(
    location,
    {
      ...(region ? { region } : {}),
      ...(flags.profile ? { profile: flags.profile } : {}),
      ...(flags.endpointUrl ? { s3EndpointUrl: flags.endpointUrl } : {}),
      ...(expectedBucketOwner ? { expectedBucketOwner } : {}),
      ...(sseKmsKeyId ? { kmsKeyId: sseKmsKeyId } : {}),
    },
    what,
  );
}

/**
 * A location the command will write to: parsed like makeStorage, and a local directory must be
 * creatable and writable (StorageError, exit 8, before any AWS call). Nothing is created here.
 */
export async function makeOutputStorage(
  location: string,
  flags: CommonFlags,
  region?: string,
  what = 'location',
): Promise<Storage> {
  const storage = await makeStorage(location, flags, region, what);
  const { LocalDirStorage, assertWritableDir } = await import('../storage/local.js');
  if (storage instanceof LocalDirStorage) await assertWritableDir(storage.location, what);
  return storage;
}

export interface RunContext {
  signal: AbortSignal;
  progress: ProgressListener;
  /** Human output (stderr when --json, so stdout stays one JSON object). */
  say: (line: string) => void;
  json: boolean;
}

/**
 * Runs a command body: wires SIGINT/SIGTERM to an AbortSignal, renders progress, prints the
 * result (JSON or text), and turns errors into one clear stderr line and the documented exit
 * code.
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
    /** What --json prints (default: the result itself). */
    json?: (result: R) => unknown;
  } = {},
): Promise<void> {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const json = Boolean(flags.json);
  const end = beginCommand({ controller, interrupted: opts.interrupted ?? 'interrupted', json });
  const { createProgressRenderer } = await import('./progress.js');
  const renderer = createProgressRenderer({ json, quiet: Boolean(flags.quiet) });
  // Engine messages name options ("`mapArns`"); everything printed shows their flags instead.
  // Lines may quote names and paths from a snapshot or from Cognito: control characters are
  // escaped (forTerminal), whatever the line holds.
  const say = (line: string): void => {
    (json ? process.stderr : process.stdout).write(`${forTerminal(renderOptionNames(line))}\n`);
  };
  const progress: ProgressListener = (e) => renderer.listener(withFlagNames(e));
  try {
    const result = await body({
      signal: controller.signal,
      progress,
      say,
      json,
    });
    if (controller.signal.aborted) throw new InterruptedError();
    renderer.stop();
    if (json)
      process.stdout.write(
        `${jsonForTerminal(renderOptionNames(JSON.stringify(opts.json ? opts.json(result) : result, null, 2)))}\n`,
      );
    else render(result, say);
    process.exitCode = opts.exitCode?.(result) ?? ExitCode.Ok;
  } catch (e) {
    renderer.stop();
    const err = toCliError(e, controller.signal.aborted, opts.interrupted);
    process.stderr.write(`cognito-vault: error: ${oneLine(err.message)}\n`);
    if (json) {
      const error = { ...err.toJSON(), message: renderOptionNames(err.message) };
      process.stdout.write(`${jsonForTerminal(JSON.stringify({ error }, null, 2))}\n`);
    }
    if (process.env.COGNITO_VAULT_DEBUG && e instanceof Error)
      process.stderr.write(`${e.stack ?? ''}\n`);
    process.exitCode = err.exitCode;
  } finally {
    end();
    // Interrupted: whatever still holds the event loop (a socket, a child) must not keep the
    // process alive; the result is already printed.
    if (controller.signal.aborted) {
      const code = process.exitCode;
      setTimeout(() => process.exit(code), 1000).unref();
    }
  }
}

/**
 * An error message as one line, naming flags where the engine named options. A message of an error this tool did not make is cut short, and
 * a JSON parser's is dropped (it quotes the text it failed on, which may be personal data).
 */
export function oneLine(message: string): string {
  return forTerminal(renderOptionNames(message).replace(/\s*\n\s*/g, '; '));
}

function unexpectedMessage(e: unknown): string {
  if (!(e instanceof Error)) return 'unexpected failure';
  if (e instanceof SyntaxError) return `unexpected failure: ${e.name} (details withheld)`;
  const msg = oneLine(e.message);
  return `unexpected failure: ${msg.length > 200 ? `${msg.slice(0, 200)}…` : msg}`;
}

function toCliError(e: unknown, aborted: boolean, interrupted = 'interrupted'): VaultError {
  if (aborted) {
    // Keep what the engine knows about the interrupted work (backup: the snapshot id to resume).
    const id = e instanceof InterruptedError ? e.context.snapshotId : undefined;
    return typeof id === 'string'
      ? new InterruptedError(`${interrupted}; snapshot ${id}`, { snapshotId: id })
      : new InterruptedError(interrupted);
  }
  if (isVaultError(e)) return e;
  return new VaultError('UNEXPECTED', unexpectedMessage(e), ExitCode.Unexpected, {}, { cause: e });
}

/** A progress event as printed: engine messages name options; the CLI shows their flags. */
export function withFlagNames<E extends { type: string }>(e: E): E {
  // Messages and details may quote names from a snapshot or Cognito: escaped for the terminal.
  if (e.type === 'warning' && 'message' in e && typeof e.message === 'string')
    return { ...e, message: forTerminal(renderOptionNames(e.message)) };
  if (e.type === 'phase' && 'detail' in e && typeof e.detail === 'string')
    return { ...e, detail: forTerminal(renderOptionNames(e.detail)) };
  return e;
}
