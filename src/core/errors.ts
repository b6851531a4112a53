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

/*
 * Every error code the tool throws (warnings have their own codes, in the results). One union,
 * so a library caller can `switch (e.code)` and TypeScript checks the cases; a new code is added
 * here first. `COGNITO_<AwsExceptionName>` is a Cognito service error not mapped to a class
 * (CognitoError, its awsCode alone).
 */
export const ERROR_CODES = [
  'ACCESS_DENIED',
  'ASSUME_ROLE_FAILED',
  'BACKUP_NO_PROGRESS',
  'BAD_FLAG',
  'BAD_IDENTITY',
  'BAD_INPUT',
  'BAD_LOCATION',
  'BAD_RECIPIENT',
  'BAD_REGIONS',
  'BAD_SNAPSHOT_ID',
  'BAD_SUB_MAP',
  'BAD_USERS_FROM',
  'CONNECTION_FAILED',
  'DECRYPT_FAILED',
  'DEMO_MISMATCH',
  'DEMO_NEEDS_CLONE',
  'DISK_FULL',
  'EMULATOR_FAILED',
  'EMULATOR_MISSING',
  'ENDPOINT_UNREACHABLE',
  'EXISTS',
  'IDENTITY_UNREADABLE',
  'IMPORT_FILE_CHANGED',
  'IMPORT_JOB_BUSY',
  'IMPORT_JOB_STATUS',
  'IMPORT_UPLOAD_EXPIRED',
  'INTERNAL',
  'INTERRUPTED',
  'IO_ERROR',
  'JOURNAL_CORRUPT',
  'KEY_MISMATCH',
  'KEY_REQUIRED',
  'LAMBDA_BACKUP_FAILED',
  'LAMBDA_CONFIG',
  'MALFORMED_POOL_ID',
  'NOTHING_TO_RESUME',
  'NOT_FOUND',
  'NOT_RESUMABLE',
  'NO_CREDENTIALS',
  'NO_REGION',
  'NO_SNAPSHOT',
  'PAGINATION_EXPIRED',
  'PARTIAL_RESTORE',
  'PLAN_CHANGED',
  'POOL_AMBIGUOUS',
  'POOL_GONE',
  'POOL_NOT_FOUND',
  'PUT_REFUSED',
  'REGION_MISMATCH',
  'RESUME_OPTIONS_DIFFER',
  'S3_ERROR',
  'SELECTOR_NO_MATCH',
  'SERVICE_ERROR',
  'SNAPSHOT_BEING_PRUNED',
  'SNAPSHOT_COMPLETE',
  'SNAPSHOT_FILES_MISSING',
  'SNAPSHOT_INVALID',
  'SNAPSHOT_IN_USE',
  'SNAPSHOT_NOT_FOUND',
  'SNAPSHOT_OTHER_POOL',
  'SOURCE_BROKE',
  'STATE_DIR_LOCKED',
  'STATE_DIR_MISMATCH',
  'SYMLINK_REFUSED',
  'TARGET_ACCOUNT_UNKNOWN',
  'TARGET_INCOMPATIBLE',
  'TARGET_NOT_EMPTY',
  'THROTTLED',
  'UNEXPECTED',
  'UNEXPECTED_RESPONSE',
  'UNITS_FAILED',
  'UNKNOWN_FORMAT',
  'UNKNOWN_REGION',
  'UNREADABLE',
  'UNWRITABLE',
  'UPLOAD_FAILED',
  'USER_MESSAGE_REFUSED',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number] | `COGNITO_${string}`;

export type ErrorContext = Record<string, string | number | boolean | undefined | string[]>;

export class VaultError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  readonly context: ErrorContext;

  constructor(
    code: ErrorCode,
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

  toJSON(): { code: ErrorCode; message: string; exitCode: number; context: ErrorContext } {
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
    code: ErrorCode,
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
    code: ErrorCode = 'SNAPSHOT_INVALID',
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
    code: ErrorCode,
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
    code: ErrorCode,
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
    code: ErrorCode,
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

/**
 * Cognito answered without a field it always carries (the id of what it just created, the pool
 * it was asked to describe): exit 1, naming the operation and the field.
 */
export class UnexpectedResponseError extends VaultError {
  constructor(operation: string, missing: string, context: ErrorContext = {}) {
    super('UNEXPECTED_RESPONSE', `${operation} returned no ${missing}`, ExitCode.Unexpected, {
      ...context,
      operation,
      missing,
    });
  }
}

/** A broken invariant of the tool itself (a bug, never bad input): exit 1, saying where. */
export class InternalError extends VaultError {
  constructor(message: string, context: ErrorContext = {}) {
    super('INTERNAL', message, ExitCode.Unexpected, context);
  }
}

export function isVaultError(e: unknown): e is VaultError {
  return e instanceof VaultError;
}

/** Throws InterruptedError when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError();
}
