/**
 * One error hierarchy for the whole tool. Every error carries a stable `code`, the process exit
 * code the CLI uses for it, and structured `context` (ids, operation names, paths, counts —
 * never attribute values, which are personal data).
 */
export const ExitCode = {
  Ok: 0,
  Unexpected: 1,
  Usage: 2,
  SnapshotInvalid: 3,
  TargetIncompatible: 4,
  Credentials: 5,
  PartialRestore: 6,
  ServiceUnavailable: 7,
  Storage: 8,
  /**
   * `diff` compared both sides and found differences (1 is taken by unexpected failures);
   * `restore --plan-hash`: the plan computed now differs from the reviewed one (PLAN_CHANGED,
   * nothing written).
   */
  Differs: 9,
  /**
   * `backup --all-pools`: some pools (or whole Regions) failed, others were backed up; the
   * result lists each.
   */
  PartialBackup: 10,
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorContext = Record<string, string | number | boolean | undefined | string[]>;

export class VaultError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly context: ErrorContext;

  constructor(
    code: string,
    message: string,
    exitCode: ExitCode,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.context = context;
  }

  toJSON(): { code: string; message: string; exitCode: number; context: ErrorContext } {
    return {
      code: this.code,
      message: this.message,
      exitCode: this.exitCode,
      context: this.context,
    };
  }
}

/** Bad flags or input the user can fix: malformed/unknown pool id, region mismatch, bad file. */
export class UsageError extends VaultError {
  constructor(
    code: string,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, ExitCode.Usage, context, options);
  }
}

/** The snapshot is incomplete, corrupt, or of an unknown format version. */
export class SnapshotInvalidError extends VaultError {
  readonly problems: string[];
  constructor(
    message: string,
    problems: string[] = [],
    context: ErrorContext = {},
    code = 'SNAPSHOT_INVALID',
  ) {
    super(code, message, ExitCode.SnapshotInvalid, context);
    this.problems = problems;
  }
}

/** The restore target cannot take this snapshot (schema, username config, not empty). */
export class TargetIncompatibleError extends VaultError {
  readonly differences: string[];
  constructor(message: string, differences: string[], context: ErrorContext = {}) {
    super('TARGET_INCOMPATIBLE', message, ExitCode.TargetIncompatible, context);
    this.differences = differences;
  }
}

/** No credentials, or the credentials lack a permission. */
export class CredentialsError extends VaultError {
  constructor(
    code: string,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, ExitCode.Credentials, context, options);
  }
}

/**
 * Some users could not be restored; the report lists them. The message and context carry
 * counts, operation and exception names only — never a username or an AWS/Lambda-trigger
 * message (those quote attribute values); `failedUsers` (not serialised) holds the per-user
 * detail for the 0600 report file.
 */
export class PartialRestoreError extends VaultError {
  readonly failedUsers: readonly unknown[];
  constructor(message: string, context: ErrorContext = {}, failedUsers: readonly unknown[] = []) {
    super('PARTIAL_RESTORE', message, ExitCode.PartialRestore, context);
    Object.defineProperty(this, 'failedUsers', { value: failedUsers, enumerable: false });
    this.failedUsers = failedUsers;
  }
}

/** The endpoint could not be reached, or kept failing/throttling after every retry. */
export class ServiceUnavailableError extends VaultError {
  constructor(
    code: string,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, ExitCode.ServiceUnavailable, context, options);
  }
}

/** Reading or writing the snapshot location failed (unwritable, disk full, missing object). */
export class StorageError extends VaultError {
  constructor(
    code: string,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, ExitCode.Storage, context, options);
  }
}

/** The run was interrupted (Ctrl-C / SIGTERM / abort signal). */
export class InterruptedError extends VaultError {
  constructor(message = 'interrupted', context: ErrorContext = {}) {
    super('INTERRUPTED', message, ExitCode.Interrupted, context);
  }
}

/** A Cognito call failed with a service error that is not one of the classes above. */
export class CognitoError extends VaultError {
  readonly awsCode: string;
  constructor(
    awsCode: string,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(`COGNITO_${awsCode}`, message, ExitCode.Unexpected, { ...context, awsCode }, options);
    this.awsCode = awsCode;
  }
}

export function isVaultError(e: unknown): e is VaultError {
  return e instanceof VaultError;
}

/** Throws InterruptedError when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError();
}
