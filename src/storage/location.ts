import { UsageError } from '../core/errors.js';

/** Where a command reads or writes snapshots: an S3 bucket and prefix, or a local directory. */
export type Location =
  { kind: 's3'; bucket: string; prefix: string } | { kind: 'local'; path: string };

/** The longest S3 key is 1024 bytes; a prefix must leave room for the snapshot's own keys. */
const MAX_S3_PREFIX_BYTES = 900;
/** Longer local paths than this fail in the file system anyway (PATH_MAX is 4096 on Linux). */
const MAX_LOCAL_PATH = 4096;

/** A scheme-like start (`s3:`, `S3:`, `https:`, `file:`): never a local directory name. */
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why `bucket` is not a valid S3 general purpose bucket name, or undefined when it is. The rules
 * of https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html: 3–63
 * characters, lowercase letters, digits, dots and hyphens, starting and ending with a letter or
 * digit, no two adjacent dots, not an IP address, none of the reserved prefixes and suffixes.
 */
export function bucketNameProblem(bucket: string): string | undefined {
  if (bucket.length < 3 || bucket.length > 63) return 'a bucket name has 3 to 63 characters';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(bucket))
    return 'a bucket name has only lowercase letters, digits, dots and hyphens, and starts and ends with a letter or digit';
  if (bucket.includes('..')) return 'a bucket name has no two adjacent dots';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return 'a bucket name is not an IP address';
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(bucket))
    return 'a bucket name does not start with xn--, sthree- or amzn-s3-demo-';
  if (/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(bucket))
    return 'a bucket name does not end with a reserved suffix (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)';
  return undefined;
}

/** A short, printable rendering of a user-supplied value for an error message. */
function shown(raw: string): string {
  const s = JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
  return s;
}

/**
 * Parses a snapshot location given on the command line (or in a Lambda event): `s3://bucket`
 * or `s3://bucket/prefix` (lowercase scheme, a valid bucket name), or a local directory.
 * Anything else that looks like a URL — `S3://b`, `s3:/b`, `s3:b`, `s3://`, `https://…`,
 * `file:…` — is a UsageError (exit 2), thrown before anything is read or written: a typo must
 * never turn into a local directory named `s3:` holding a copy of the pool. A local directory
 * whose name really starts with `word:` can be given as `./word:…`.
 */
export function parseLocation(raw: string, what = 'location'): Location {
  const bad = (why: string): never => {
    throw new UsageError('BAD_LOCATION', `${what} ${shown(raw)} is not valid: ${why}`, {
      flag: what,
    });
  };
  if (typeof raw !== 'string' || raw.trim() === '') bad('it is empty');
  if (CONTROL.test(raw)) bad('it contains control characters');
  const scheme = SCHEME.exec(raw);
  if (scheme) {
    if (!raw.startsWith('s3://')) {
      if (/^s3:/i.test(raw))
        bad('an S3 location is written s3://bucket/prefix (lowercase s3, two slashes)');
      // A Windows drive letter (C:\…) is a path, not a scheme.
      if (!(process.platform === 'win32' && /^[A-Za-z]:[\\/]/.test(raw)))
        bad(
          `only s3://bucket/prefix URLs and local directories are supported (write ./${raw} for a local directory with a colon in its name)`,
        );
    } else {
      const rest = raw.slice('s3://'.length);
      const slash = rest.indexOf('/');
      const bucket = slash === -1 ? rest : rest.slice(0, slash);
      const prefix = slash === -1 ? '' : rest.slice(slash + 1);
      if (!bucket) bad('no bucket name after s3://');
      const problem = bucketNameProblem(bucket);
      if (problem) bad(problem);
      if (/[?#]/.test(prefix) || /[?#]/.test(bucket))
        bad('an S3 location has no query string or fragment');
      const parts = prefix.split('/').filter((p) => p.length > 0);
      if (parts.some((p) => p === '.' || p === '..')) bad('the prefix has a "." or ".." segment');
      if (prefix.includes('\\')) bad('the prefix has a backslash');
      const joined = parts.join('/');
      if (Buffer.byteLength(joined) > MAX_S3_PREFIX_BYTES)
        bad(`the prefix is longer than ${MAX_S3_PREFIX_BYTES} bytes`);
      return { kind: 's3', bucket, prefix: joined };
    }
  }
  if (raw.length > MAX_LOCAL_PATH) bad(`a local path has at most ${MAX_LOCAL_PATH} characters`);
  return { kind: 'local', path: raw };
}
