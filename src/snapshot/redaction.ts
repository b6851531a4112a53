import { REDACTED } from './format.js';

/**
 * Secret values a snapshot replaces by the REDACTED marker unless `--include-secrets`, as paths
 * into the pool document and into each app client. (Identity provider secrets are matched by
 * key name: see redactProviderDetails below.) The SMS role's and the analytics
 * role's ExternalId are shared secrets that guard sts:AssumeRole, like a password.
 */
export const SECRET_PATHS = {
  pool: [
    ['userPool', 'SmsConfiguration', 'ExternalId'],
    ['mfaConfig', 'SmsMfaConfiguration', 'SmsConfiguration', 'ExternalId'],
  ],
  client: [['ClientSecret'], ['AnalyticsConfiguration', 'ExternalId']],
} as const satisfies Record<string, readonly (readonly string[])[]>;

/** The object holding the last key of `p` (Reflect reads any object's members, typed or not). */
function parentOf(obj: unknown, p: readonly string[]): object | undefined {
  let cur: unknown = obj;
  for (const k of p.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Reflect.get(cur, k);
  }
  return cur !== null && typeof cur === 'object' ? cur : undefined;
}

function valueAt(obj: unknown, p: readonly string[]): unknown {
  const parent = parentOf(obj, p);
  return parent ? Reflect.get(parent, p[p.length - 1] ?? '') : undefined;
}

/** Replaces each present, non-empty value at `paths` by the marker (in place). */
export function redactPaths(obj: unknown, paths: readonly (readonly string[])[]): void {
  for (const p of paths) {
    const parent = parentOf(obj, p);
    const key = p[p.length - 1] ?? '';
    const v: unknown = parent ? Reflect.get(parent, key) : undefined;
    if (parent && typeof v === 'string' && v !== '') Reflect.set(parent, key, REDACTED);
  }
}

/** The paths (dot-joined) whose value is the marker. */
export function redactedPaths(obj: unknown, paths: readonly (readonly string[])[]): string[] {
  return paths.filter((p) => valueAt(obj, p) === REDACTED).map((p) => p.join('.'));
}

/** Deletes the values at `paths` that hold the marker (in place); returns the paths deleted. */
export function dropRedacted(obj: unknown, paths: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const parent = parentOf(obj, p);
    if (parent && valueAt(obj, p) === REDACTED) {
      Reflect.deleteProperty(parent, p[p.length - 1] ?? '');
      out.push(p.join('.'));
    }
  }
  return out;
}

/** Keys of an identity provider's ProviderDetails whose values are secrets. */
export const SECRET_KEYS = /secret|private_?key|password/i;

/** Replaces secret values of an identity provider's ProviderDetails with the marker. */
export function redactProviderDetails(
  details: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!details) return details;
  return Object.fromEntries(
    Object.entries(details).map(([k, v]) => [k, SECRET_KEYS.test(k) ? REDACTED : v]),
  );
}
