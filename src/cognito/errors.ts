import {
  CognitoError,
  CredentialsError,
  ServiceUnavailableError,
  type ErrorContext,
  VaultError,
} from '../core/errors.js';
import { opt } from '../core/options.js';

/** What the gateway does with a failed call. */
export type FailureKind = 'throttle' | 'transient' | 'fatal';

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
  cause?: unknown;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

const THROTTLE_NAMES = new Set([
  'TooManyRequestsException',
  'ThrottlingException',
  'Throttling',
  'RequestLimitExceeded',
  'LimitExceededException_Throttle',
]);
const AUTH_NAMES = new Set([
  'NotAuthorizedException',
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'MissingAuthenticationTokenException',
]);

export function awsErrorName(e: unknown): string {
  const err = e as AwsLikeError | undefined;
  const name = err?.name ?? err?.code ?? 'Error';
  // A response body that is not an AWS error (an HTML 5xx page) surfaces as a parse error.
  const status = err?.$metadata?.httpStatusCode;
  if ((name === 'SyntaxError' || name === 'Error') && status !== undefined) return `HTTP ${status}`;
  return name;
}

function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    const msg = (cur as { message?: unknown }).message;
    if (typeof msg === 'string' && /socket hang up|ECONNRESET/.test(msg)) return 'ECONNRESET';
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A connection that never reached a server (refused, no such host, no route). */
export function isUnreachable(e: unknown): boolean {
  const net = networkCode(e);
  return net !== undefined && UNREACHABLE_CODES.has(net);
}

export function classifyFailure(e: unknown): FailureKind {
  if (e instanceof VaultError) return 'fatal';
  const err = e as AwsLikeError;
  const name = awsErrorName(e);
  if (THROTTLE_NAMES.has(name) || err?.$metadata?.httpStatusCode === 429) return 'throttle';
  if (name === 'AbortError') return 'fatal';
  if (networkCode(e)) return 'transient';
  if (name === 'TimeoutError' || name === 'RequestTimeout' || name === 'InternalErrorException')
    return 'transient';
  const status = err?.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return 'transient';
  // A non-JSON 5xx body (moto's HTML error page) surfaces as a deserialization error.
  if (err?.$fault === 'server') return 'transient';
  return 'fatal';
}

/** Maps an SDK error that will not be retried (any more) to the tool's error hierarchy. */
export function toVaultError(
  e: unknown,
  context: ErrorContext & { operation: string },
): VaultError {
  if (e instanceof VaultError) return e;
  const err = e as AwsLikeError;
  const name = awsErrorName(e);
  if (
    name === 'CredentialsProviderError' ||
    /Could not load credentials/i.test(err?.message ?? '')
  ) {
    return new CredentialsError(
      'NO_CREDENTIALS',
      `no AWS credentials found (set AWS_PROFILE/${opt('profile')}, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`,
      context,
      { cause: e },
    );
  }
  if (AUTH_NAMES.has(name)) {
    return new CredentialsError(
      'ACCESS_DENIED',
      `access denied for ${context.operation}: the credentials lack permission (${name}); see \`cognito-vault policy\``,
      context,
      { cause: e },
    );
  }
  const net = networkCode(e);
  if (net) {
    return new ServiceUnavailableError(
      UNREACHABLE_CODES.has(net) ? 'ENDPOINT_UNREACHABLE' : 'CONNECTION_FAILED',
      `cannot reach the Cognito endpoint (${net}) for ${context.operation}`,
      { ...context, networkCode: net },
      { cause: e },
    );
  }
  const kind = classifyFailure(e);
  if (kind === 'throttle') {
    return new ServiceUnavailableError(
      'THROTTLED',
      `${context.operation} kept being throttled by Cognito after every retry`,
      context,
      { cause: e },
    );
  }
  if (kind === 'transient') {
    return new ServiceUnavailableError(
      'SERVICE_ERROR',
      `${context.operation} kept failing with a server error (${name})`,
      context,
      { cause: e },
    );
  }
  return new CognitoError(name, `${context.operation} failed: ${name}`, context, { cause: e });
}

/** The AWS error message for reports written to protected files (may contain identifiers). */
export function awsMessage(e: unknown): string {
  let cur: unknown = e;
  while (cur instanceof VaultError && cur.cause) cur = cur.cause;
  const m = (cur as AwsLikeError | undefined)?.message;
  return typeof m === 'string' ? m.slice(0, 500) : String(cur);
}

/** The AWS exception name behind a (possibly wrapped) error. */
export function rootAwsName(e: unknown): string {
  if (e instanceof CognitoError) return e.awsCode;
  let cur: unknown = e;
  while (cur instanceof VaultError && cur.cause) cur = cur.cause;
  return awsErrorName(cur);
}

/**
 * Cognito refused a ListUsers/List* pagination token because it expired ("Amazon Cognito
 * expires the pagination token after one hour", ListUsers in the developer guide) or is
 * otherwise no longer valid. Cognito answers InvalidParameterException with a message like
 * "Paging marker <token> is invalid for request <id>" (reported in aws/aws-sdk-js#3705);
 * "pagination token" / "expired" wordings are accepted too.
 */
export function isExpiredPaginationToken(e: unknown): boolean {
  if (rootAwsName(e) !== 'InvalidParameterException') return false;
  return /paging marker|pagination ?token|next ?token|token.*expired|expired.*token/i.test(
    awsMessage(e),
  );
}
