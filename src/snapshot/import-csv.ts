import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { InterruptedError, TargetIncompatibleError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import { DigestStream } from './codec.js';
import type { PoolDocument } from './format.js';
import { isCognitoOwnedAttribute, loginOf, requiredAttributes } from './user-record.js';

export { isCognitoOwnedAttribute } from './user-record.js';

/**
 * Cognito's CSV user-import format (CreateUserImportJob), written from a snapshot's users.
 *
 * Source: [IMP] = "Creating the user import CSV file" in the Cognito developer guide, https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-using-import-tool-csv-header.html).
 *
 * The format is NOT RFC 4180: values are never quoted ("Attribute values that are strings should
 * not be in quotation marks"), and a comma inside a value is written `\,`. csv-stringify cannot
 * emit that (it escapes only inside quotes, and quoting is what Cognito forbids), so this module
 * has its own small encoder; `decodeImportLine` is its exact inverse and the tests check the
 * round trip.
 *
 * Decisions where the AWS documentation is silent or contradicts itself (docs/format.md, "The
 * import CSV artifact", says the same):
 * - Backslash: the documentation defines only `\,`. What Cognito does with any other backslash
 *   (a literal `\`, `\\`, a value ending in `\` before the next field's comma) is not documented
 *   anywhere we could find. A value containing `\` is therefore refused ('backslash-in-value'),
 *   never guessed at; such a user is restored by AdminCreateUser instead.
 * - Double quotes: quoting is forbidden and the parser's treatment of a `"` inside a value is not
 *   documented; a value containing `"` is refused ('quote-in-value').
 * - Whitespace: "Any leading or trailing white space in an attribute value will be trimmed", so a
 *   value whose surrounding whitespace is significant would not come back as it was: refused
 *   ('surrounding-whitespace'). Newlines end a record: refused ('newline-in-value').
 * - birthdate: the import page says `mm/dd/yyyy`; the attributes page (and OIDC) say
 *   `YYYY-MM-DD`, which is what ListUsers returns. The import parser is the reader here, so a
 *   stored `YYYY-MM-DD` is written `MM/DD/YYYY`; a stored `MM/DD/YYYY` passes unchanged; any other
 *   birthdate is refused ('birthdate-format'). Which form Cognito stores after import is
 *   UNVERIFIED (open item for a sandbox).
 * - updated_at: epoch seconds, as ListUsers returns it; anything else is refused.
 * - cognito:mfa_enabled is always written explicitly (the 2023 documentation did not allow a
 *   blank for OPTIONAL pools): `false` when the pool's MFA is OFF, `true` when it is ON, and for
 *   OPTIONAL `true` only when the user had legacy SMS MFA options (per-user MFA preferences are
 *   not in the snapshot).
 * - cognito:username: in a pool with UsernameAttributes (sign-in by email/phone) Cognito
 *   generates the Username; the CSV carries the email (else the phone number), as AWS's
 *   reference architecture (`pseudoUsername`) and AdminCreateUser do. A user without one is
 *   refused ('no-username-attribute-value'). Usernames may not contain spaces or tabs.
 * - Row length: "16,000 characters"; counted here in UTF-8 bytes of the encoded row (a superset:
 *   never larger than what Cognito counts).
 * - `sub`, `identities` and `cognito:*` attributes are Cognito's own and never columns
 *   (GetCSVHeader has no `sub` column); identity links are replayed separately by restore.
 */

export const IMPORT_LIMITS = {
  maxRows: 500_000,
  maxBytes: 100 * 1024 * 1024,
  maxRowChars: 16_000,
} as const;

/** Bytes kept free below IMPORT_LIMITS.maxBytes in every file (MB vs MiB, and slack). */
export const IMPORT_BYTES_SAFETY_MARGIN = 5 * 1024 * 1024;

/** GetCSVHeader's standard columns, in the order it returns them ([IMP] sample response). */
export const STANDARD_CSV_COLUMNS = [
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'email',
  'email_verified',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'phone_number',
  'phone_number_verified',
  'address',
  'updated_at',
] as const;

export const USERNAME_COLUMN = 'cognito:username';
export const MFA_COLUMN = 'cognito:mfa_enabled';

export type IneligibleReason =
  | 'external-provider'
  | 'pool-has-no-auto-verified-attribute'
  | 'no-verified-auto-verified-attribute'
  | 'verified-without-value'
  | 'no-username-attribute-value'
  | 'username-has-whitespace'
  | 'missing-required-attribute'
  | 'column-not-in-header'
  | 'newline-in-value'
  | 'backslash-in-value'
  | 'quote-in-value'
  | 'surrounding-whitespace'
  | 'birthdate-format'
  | 'updated-at-format'
  | 'row-too-long';

export const INELIGIBLE_REASONS: readonly IneligibleReason[] = [
  'external-provider',
  'pool-has-no-auto-verified-attribute',
  'no-verified-auto-verified-attribute',
  'verified-without-value',
  'no-username-attribute-value',
  'username-has-whitespace',
  'missing-required-attribute',
  'column-not-in-header',
  'newline-in-value',
  'backslash-in-value',
  'quote-in-value',
  'surrounding-whitespace',
  'birthdate-format',
  'updated-at-format',
  'row-too-long',
];

/** The parts of a user this module reads: a snapshot UserRecord or the SDK's UserType. */
export interface ImportableUser {
  Username?: string | undefined;
  Attributes?: ReadonlyArray<{ Name?: string | undefined; Value?: string | undefined }>;
  UserStatus?: string | undefined;
  MFAOptions?: ReadonlyArray<unknown> | undefined;
}

export type EncodeResult =
  | { ok: true; line: string; username: string }
  | { ok: false; reason: IneligibleReason; detail?: string };

type PoolLike = Pick<PoolDocument, 'userPool' | 'mfaConfig'>;

/**
 * The header GetCSVHeader would return for a pool with this schema: the standard attributes in
 * Cognito's order, `cognito:mfa_enabled`, `cognito:username`, then the custom attributes in
 * schema order (GetCSVHeader lists them after `cognito:username`). `sub` and developer-only
 * (`dev:`) attributes are not columns. Use `export-csv --header-from POOL_ID` to take the live
 * header instead.
 */
export function deriveCsvHeader(pool: PoolLike): string[] {
  const schema = pool.userPool.SchemaAttributes ?? [];
  // Every pool has every standard attribute, whether or not Describe lists it.
  const standard = [...STANDARD_CSV_COLUMNS];
  const custom = schema.map((a) => a.Name ?? '').filter((n) => n.startsWith('custom:'));
  return [...standard, MFA_COLUMN, USERNAME_COLUMN, ...custom];
}

/** `\,` for every comma; nothing else is escaped (values with `\` are refused before this). */
export function escapeImportValue(value: string): string {
  return value.replace(/,/g, '\\,');
}

/**
 * The documented decoding of one import-file line: fields are separated by a `,` that is not
 * preceded by `\`; `\,` stands for a comma. The exact inverse of the encoder for every row the
 * encoder accepts (values never contain `\`, `"` or newlines).
 */
export function decodeImportLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && line[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const US_DATE = /^\d{2}\/\d{2}\/\d{4}$/;

function valueProblem(value: string): IneligibleReason | undefined {
  if (/[\r\n\u2028\u2029]/.test(value)) return 'newline-in-value';
  if (value.includes('\\')) return 'backslash-in-value';
  if (value.includes('"')) return 'quote-in-value';
  if (
    value.length > 0 &&
    (value !== value.trim() ||
      value.charCodeAt(0) <= 0x20 ||
      value.charCodeAt(value.length - 1) <= 0x20)
  )
    return 'surrounding-whitespace';
  return undefined;
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && v.trim().toLowerCase() === 'true';
}

/**
 * Turns one user into one row of the import file for a given header (column order as the header
 * gives it) and target pool (AutoVerifiedAttributes, UsernameAttributes, MFA configuration,
 * required attributes), or says why the user cannot go through an import job.
 */
export class ImportRowEncoder {
  readonly header: readonly string[];
  private readonly columns: ReadonlyMap<string, number>;
  private readonly autoVerified: readonly string[];
  private readonly usernameAttributes: readonly string[];
  private readonly required: readonly string[];
  private readonly mfa: 'OFF' | 'ON' | 'OPTIONAL';

  constructor(header: readonly string[], pool: PoolLike) {
    const problems: string[] = [];
    const seen = new Map<string, number>();
    header.forEach((h, i) => {
      if (seen.has(h)) problems.push(`column ${h} appears twice`);
      if (h.length === 0 || /[,\s"\\]/.test(h)) problems.push(`column name "${h}" is not valid`);
      seen.set(h, i);
    });
    for (const c of [USERNAME_COLUMN, MFA_COLUMN]) {
      if (!seen.has(c)) problems.push(`the header has no ${c} column`);
    }
    this.autoVerified = (pool.userPool.AutoVerifiedAttributes ?? []).filter(
      (a) => a === 'email' || a === 'phone_number',
    );
    for (const a of this.autoVerified) {
      if (!seen.has(a) || !seen.has(`${a}_verified`)) {
        problems.push(`the pool auto-verifies ${a} but the header has no ${a}/${a}_verified`);
      }
    }
    if (problems.length) {
      throw new TargetIncompatibleError(
        `the import CSV header cannot be used: ${problems[0]}`,
        problems,
      );
    }
    this.header = [...header];
    this.columns = seen;
    this.usernameAttributes = pool.userPool.UsernameAttributes ?? [];
    this.required = requiredAttributes(pool.userPool.SchemaAttributes);
    const mfa = pool.mfaConfig?.MfaConfiguration ?? pool.userPool.MfaConfiguration ?? 'OFF';
    this.mfa = mfa === 'ON' || mfa === 'OPTIONAL' ? mfa : 'OFF';
  }

  /** The first line of every file: the header, comma-separated. */
  headerLine(): string {
    return this.header.join(',');
  }

  /** Pool settings that make every row fail (an import job would not start). */
  poolBlockers(): IneligibleReason[] {
    return this.autoVerified.length === 0 ? ['pool-has-no-auto-verified-attribute'] : [];
  }

  encode(user: ImportableUser): EncodeResult {
    const no = (reason: IneligibleReason, detail?: string): EncodeResult =>
      detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
    if (user.UserStatus === 'EXTERNAL_PROVIDER') return no('external-provider');
    if (this.autoVerified.length === 0) return no('pool-has-no-auto-verified-attribute');

    const attrs = new Map<string, string>();
    for (const a of user.Attributes ?? []) {
      if (!a.Name || a.Value === undefined || isCognitoOwnedAttribute(a.Name)) continue;
      attrs.set(a.Name, a.Value);
    }
    const login = loginOf(user, this.usernameAttributes);
    if (!login) return no('no-username-attribute-value');
    if (/\s/.test(login)) return no('username-has-whitespace');

    const values: string[] = this.header.map(() => '');
    for (const [name, value] of attrs) {
      if (name === 'email_verified' || name === 'phone_number_verified') continue;
      const col = this.columns.get(name);
      if (col === undefined) {
        if (value === '') continue;
        return no('column-not-in-header', `attribute ${name}`);
      }
      values[col] = value;
    }

    // *_verified: `true`/`false`, only with a value to verify.
    for (const a of ['email', 'phone_number']) {
      const col = this.columns.get(`${a}_verified`);
      const verified = isTrue(attrs.get(`${a}_verified`));
      if (verified && !attrs.get(a)) return no('verified-without-value', `${a}_verified`);
      // Blank when the user had no such attribute: Cognito would otherwise store a `false`
      // the source user never had (a blank leaves the attribute unset).
      if (col !== undefined && attrs.has(`${a}_verified`))
        values[col] = verified ? 'true' : 'false';
      else if (verified) return no('column-not-in-header', `attribute ${a}_verified`);
    }
    if (!this.autoVerified.some((a) => isTrue(attrs.get(`${a}_verified`)) && attrs.get(a))) {
      return no(
        'no-verified-auto-verified-attribute',
        `pool auto-verifies ${this.autoVerified.join(', ')}`,
      );
    }
    for (const r of this.required) {
      if (!attrs.get(r)) return no('missing-required-attribute', `attribute ${r}`);
    }

    const birthCol = this.columns.get('birthdate');
    const birth = attrs.get('birthdate');
    if (birthCol !== undefined && birth) {
      const m = ISO_DATE.exec(birth);
      if (m) values[birthCol] = `${m[2]}/${m[3]}/${m[1]}`;
      else if (!US_DATE.test(birth)) return no('birthdate-format', 'attribute birthdate');
    }
    const updated = attrs.get('updated_at');
    if (updated && !/^\d+$/.test(updated)) return no('updated-at-format', 'attribute updated_at');

    values[this.columns.get(USERNAME_COLUMN) as number] = login;
    values[this.columns.get(MFA_COLUMN) as number] =
      this.mfa === 'ON'
        ? 'true'
        : this.mfa === 'OPTIONAL' && (user.MFAOptions?.length ?? 0) > 0
          ? 'true'
          : 'false';

    for (let i = 0; i < values.length; i++) {
      const problem = valueProblem(values[i] as string);
      if (problem) return no(problem, `column ${this.header[i]}`);
    }
    const line = values.map(escapeImportValue).join(',');
    if (Buffer.byteLength(line, 'utf8') > IMPORT_LIMITS.maxRowChars) return no('row-too-long');
    return { ok: true, line, username: login };
  }
}

// ---- files -------------------------------------------------------------------------------------

export interface ImportFile {
  /** Key of the CSV file in the sink, e.g. `users-00001.csv`. */
  name: string;
  /** Key of its line index (JSON Lines `{"line","row","username","importUsername"}`). */
  index: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface ImportFileSet {
  header: string[];
  files: ImportFile[];
  eligible: number;
  ineligible: { total: number; byReason: Partial<Record<IneligibleReason, number>> };
  /** Key of the per-user ineligible report (JSON Lines `{"username","reason","detail"?}`). */
  report: string;
}

export interface WriteImportFilesOptions {
  /** File name prefix (default `users`). */
  prefix?: string;
  /** Rows per file (default and maximum IMPORT_LIMITS.maxRows). */
  maxRows?: number;
  /** Bytes per file, header included (default IMPORT_LIMITS.maxBytes - safety margin). */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** A write side that honours backpressure and reports the storage's own failure. */
class SinkFile {
  readonly stream = new PassThrough();
  readonly digest = new DigestStream();
  private readonly done: Promise<void>;
  private failed: unknown;

  constructor(sink: Storage, key: string, signal?: AbortSignal) {
    this.stream.pipe(this.digest);
    this.done = sink.put(key, this.digest, signal).catch((e: unknown) => {
      this.failed = e;
      throw e;
    });
    this.done.catch(() => undefined);
  }

  async write(text: string): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.stream.write(text)) {
      await Promise.race([once(this.stream, 'drain'), this.done]);
      if (this.failed) throw this.failed;
    }
  }

  async close(): Promise<{ bytes: number; sha256: string }> {
    this.stream.end();
    await this.done;
    return { bytes: this.digest.bytes, sha256: this.digest.digest() };
  }
}

/**
 * Streams the eligible users into import files split at Cognito's limits (rows, and bytes minus
 * a safety margin), each starting with the header line; writes beside each file a line index
 * (line number → snapshot username and the `cognito:username` written), and one report of the
 * ineligible users. Memory does not grow with the number of users.
 *
 * Line numbers are physical lines of the file: the header is line 1, the first user line 2;
 * `row` is the 1-based data row. (Which of the two Cognito's CloudWatch "Line Number" counts is
 * not documented; both are recorded.)
 */
export async function writeImportFiles(
  users: AsyncIterable<ImportableUser>,
  encoder: ImportRowEncoder,
  sink: Storage,
  opts: WriteImportFilesOptions = {},
): Promise<ImportFileSet> {
  const prefix = opts.prefix ?? 'users';
  const maxRows = Math.min(opts.maxRows ?? IMPORT_LIMITS.maxRows, IMPORT_LIMITS.maxRows);
  const maxBytes = Math.min(
    opts.maxBytes ?? IMPORT_LIMITS.maxBytes - IMPORT_BYTES_SAFETY_MARGIN,
    IMPORT_LIMITS.maxBytes - IMPORT_BYTES_SAFETY_MARGIN,
  );
  const headerLine = `${encoder.headerLine()}\n`;
  const headerBytes = Buffer.byteLength(headerLine, 'utf8');
  if (headerBytes + IMPORT_LIMITS.maxRowChars + 1 > maxBytes && opts.maxBytes === undefined) {
    throw new RangeError('import header does not fit a file');
  }
  const reportKey = `${prefix}-ineligible.jsonl`;
  const report = new SinkFile(sink, reportKey, opts.signal);
  const files: ImportFile[] = [];
  const byReason: Partial<Record<IneligibleReason, number>> = {};
  let ineligible = 0;
  let eligible = 0;

  let csv: SinkFile | undefined;
  let index: SinkFile | undefined;
  let current: ImportFile | undefined;
  let rowsInFile = 0;
  let bytesInFile = 0;

  const closeFile = async (): Promise<void> => {
    if (!csv || !index || !current) return;
    const { bytes, sha256 } = await csv.close();
    await index.close();
    current.bytes = bytes;
    current.sha256 = sha256;
    current.rows = rowsInFile;
    files.push(current);
    csv = index = current = undefined;
  };

  const openFile = async (): Promise<void> => {
    const n = String(files.length + 1).padStart(5, '0');
    current = {
      name: `${prefix}-${n}.csv`,
      index: `${prefix}-${n}.index.jsonl`,
      rows: 0,
      bytes: 0,
      sha256: '',
    };
    csv = new SinkFile(sink, current.name, opts.signal);
    index = new SinkFile(sink, current.index, opts.signal);
    rowsInFile = 0;
    bytesInFile = headerBytes;
    await csv.write(headerLine);
  };

  try {
    for await (const user of users) {
      if (opts.signal?.aborted) throw new InterruptedError();
      const r = encoder.encode(user);
      if (!r.ok) {
        ineligible++;
        byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
        await report.write(
          `${JSON.stringify({ username: user.Username ?? '', reason: r.reason, ...(r.detail ? { detail: r.detail } : {}) })}\n`,
        );
        continue;
      }
      const text = `${r.line}\n`;
      const size = Buffer.byteLength(text, 'utf8');
      if (csv && (rowsInFile >= maxRows || bytesInFile + size > maxBytes)) await closeFile();
      if (!csv) await openFile();
      await (csv as SinkFile).write(text);
      rowsInFile++;
      bytesInFile += size;
      eligible++;
      await (index as SinkFile).write(
        `${JSON.stringify({ line: rowsInFile + 1, row: rowsInFile, username: user.Username ?? '', importUsername: r.username })}\n`,
      );
    }
    await closeFile();
    await report.close();
  } catch (e) {
    csv?.stream.destroy();
    index?.stream.destroy();
    report.stream.destroy();
    throw e;
  }
  return {
    header: [...encoder.header],
    files,
    eligible,
    ineligible: { total: ineligible, byReason },
    report: reportKey,
  };
}
