/**
 * Cognito's CSV user-import rules as AWS documents them, for the import-job double and the CSV
 * unit tests — written from the documentation, NOT from the product's encoder
 * (src/snapshot/import-csv.ts), whose output they judge. Nothing here imports src.
 *
 * Sources ("Creating the user import CSV file", "Importing users into a user pool", the
 * GetCSVHeader API reference; fact sheet /work/shared/reference/cognito-facts.md §3):
 * - GetCSVHeader answers the pool's columns: the standard attributes, `cognito:mfa_enabled`,
 *   `cognito:username`, plus the pool's custom attributes (its sample response lists the first
 *   21 below, in this order).
 * - "Attribute values that are strings should not be in quotation marks"; a comma inside a value
 *   is written `\,`. The file is UTF-8 without a byte order mark.
 * - "Any leading or trailing white space in an attribute value will be trimmed."
 * - At most 500,000 users (rows after the header) and 100 MB per file; a row at most 16,000
 *   characters.
 *
 * Where AWS is silent, and what this reader does (where it may differ from Cognito):
 * - A backslash not followed by a comma: undefined by AWS; this reader refuses the row
 *   (`BackslashNotEscapingComma`) rather than guess a meaning.
 * - A `"` anywhere: values must not be quoted; the row is refused (`QuotationMark`).
 * - Where custom columns go in GetCSVHeader's list: AWS says only "plus custom attributes";
 *   the double appends them in schema order. A correct writer takes the order from
 *   GetCSVHeader, whatever it is.
 * - Line ends: LF or CRLF.
 */

/** GetCSVHeader's sample response (API reference), in its order. */
export const AWS_STANDARD_COLUMNS = [
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
  'cognito:mfa_enabled',
  'cognito:username',
] as const;

export const AWS_USERNAME_COLUMN = 'cognito:username';
export const AWS_MFA_COLUMN = 'cognito:mfa_enabled';

/** [IMP] and the quotas page. */
export const AWS_IMPORT_LIMITS = {
  maxRows: 500_000,
  maxBytes: 100 * 1024 * 1024,
  maxRowChars: 16_000,
} as const;

/** The header GetCSVHeader gives a pool: the standard columns, then its custom attributes. */
export function awsCsvHeader(schema: readonly { Name?: string | undefined }[]): string[] {
  const custom = schema.map((a) => a.Name ?? '').filter((n) => n.startsWith('custom:'));
  return [...AWS_STANDARD_COLUMNS, ...custom];
}

export type RowProblem = 'QuotationMark' | 'BackslashNotEscapingComma';

/**
 * Splits one data row into its trimmed values. Reads the row as AWS describes it: a field ends
 * at a comma that no backslash precedes; `\,` is a comma inside the value; quotes and other
 * backslashes are refused. (A regular-expression split, unlike the product's character loop.)
 */
export function readAwsCsvRow(row: string): { values: string[] } | { problem: RowProblem } {
  if (row.includes('"')) return { problem: 'QuotationMark' };
  if (/\\(?!,)/.test(row)) return { problem: 'BackslashNotEscapingComma' };
  const values = row.split(/(?<!\\),/).map((field) => field.replaceAll('\\,', ',').trim());
  return { values };
}

/** Splits a whole file into lines (LF or CRLF); a trailing newline ends the last row. */
export function awsCsvLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * A whole file read as Cognito would: its header columns and each row's column → value map
 * (blank values left out). For the CSV unit tests; the double reads row by row instead.
 */
export function readAwsCsv(text: string): {
  header: string[];
  rows: (Map<string, string> | { problem: RowProblem | 'ColumnCount' })[];
} {
  if (text.startsWith('\uFEFF')) throw new Error('the file starts with a byte order mark');
  const [headerLine = '', ...rows] = awsCsvLines(text);
  const header = headerLine.split(',').map((h) => h.trim());
  return {
    header,
    rows: rows.map((raw) => {
      const r = readAwsCsvRow(raw);
      if ('problem' in r) return r;
      if (r.values.length !== header.length) return { problem: 'ColumnCount' as const };
      return new Map(header.flatMap((h, i) => (r.values[i] ? [[h, r.values[i]!] as const] : [])));
    }),
  };
}
