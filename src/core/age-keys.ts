import { UsageError } from './errors.js';
import { opt } from './options.js';

/**
 * Syntax of age X25519 keys (age-encryption.org/v1): a recipient is the Bech32 encoding of a
 * 32-byte public key with the human-readable part `age` (`age1…`, lower case, 62 characters); an
 * identity is that of the 32-byte secret scalar with `AGE-SECRET-KEY-` (upper case, 74
 * characters). Checked here without loading the age library, so the CLI can refuse a bad key at
 * parse time (exit 2) before any AWS call. The age library checks them again when it uses them.
 */

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

function polymod(values: number[]): number {
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i] as number;
  }
  return chk >>> 0;
}

/** The payload bytes of a valid Bech32 string with human-readable part `hrp`, else undefined. */
export function bech32Bytes(s: string, hrp: string): Uint8Array | undefined {
  const lower = s.toLowerCase();
  if (s !== lower && s !== s.toUpperCase()) return undefined; // mixed case is invalid Bech32
  const sep = lower.lastIndexOf('1');
  if (sep < 1 || lower.slice(0, sep) !== hrp || lower.length - sep - 1 < 6) return undefined;
  const data: number[] = [];
  for (const c of lower.slice(sep + 1)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) return undefined;
    data.push(v);
  }
  const expanded = [
    ...[...hrp].map((c) => c.charCodeAt(0) >> 5),
    0,
    ...[...hrp].map((c) => c.charCodeAt(0) & 31),
  ];
  if (polymod([...expanded, ...data]) !== 1) return undefined;
  // 5-bit words (without the 6 checksum words) to bytes; leftover bits must be zero padding.
  const words = data.slice(0, -6);
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const w of words) {
    acc = (acc << 5) | w;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) return undefined;
  return Uint8Array.from(out);
}

/** True for a well-formed age X25519 recipient (`age1…`, 32-byte key, valid checksum). */
export function isX25519Recipient(s: string): boolean {
  return s === s.toLowerCase() && bech32Bytes(s, 'age')?.length === 32;
}

/** True for a well-formed age X25519 identity (`AGE-SECRET-KEY-1…`). */
export function isX25519Identity(s: string): boolean {
  return s === s.toUpperCase() && bech32Bytes(s, 'age-secret-key-')?.length === 32;
}

/**
 * Validates one `--encrypt-to` value. Post-quantum (`age1pq1…`), tag and plugin recipients and
 * SSH keys are refused: snapshots are encrypted to X25519 recipients only.
 */
export function parseRecipient(value: string, what = opt('encryptTo')): string {
  const s = value.trim();
  if (isX25519Recipient(s)) return s;
  const kind = /^age1[a-z0-9]+1/.test(s)
    ? 'only X25519 recipients (age1… from age-keygen) are supported, not plugin, tag or post-quantum ones'
    : s.startsWith('ssh-')
      ? 'SSH keys are not supported; give an age X25519 recipient (age-keygen -y FILE prints it)'
      : s.startsWith('AGE-SECRET-KEY-')
        ? 'that is a secret key (an identity); give its public recipient (age-keygen -y FILE prints it)'
        : 'not an age X25519 recipient (age1 followed by 58 Bech32 characters with a valid checksum)';
  // The value itself is a public key and not personal data, but a pasted secret key must never
  // be echoed: only its first characters.
  throw new UsageError('BAD_RECIPIENT', `${what} "${s.slice(0, 8)}…": ${kind}`, {
    option: 'encryptTo',
  });
}

/** Several recipients (comma- or whitespace-separated), e.g. the Lambda's environment. */
export function parseRecipientList(value: string, what: string): string[] {
  const list = value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  return [...new Set(list.map((s) => parseRecipient(s, what)))];
}

/**
 * The identities of an age identity file as age-keygen writes it: one `AGE-SECRET-KEY-1…` per
 * line, `#` comment lines and blank lines ignored (CRLF accepted). Anything else — another key
 * type, a truncated or mistyped key — is a usage error (exit 2) naming the line number only,
 * never its text (it is a secret).
 */
export function parseIdentityText(text: string, file: string): string[] {
  const keys: string[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!isX25519Identity(line)) {
      const why = line.startsWith('AGE-SECRET-KEY-PQ-')
        ? 'post-quantum identities are not supported'
        : line.startsWith('AGE-PLUGIN-')
          ? 'plugin identities are not supported'
          : line.startsWith('age1')
            ? 'that is a public recipient; the identity file holds the secret key (AGE-SECRET-KEY-1…)'
            : 'not an age X25519 identity (AGE-SECRET-KEY-1…)';
      throw new UsageError('BAD_IDENTITY', `${opt('identity')} ${file}: line ${i + 1}: ${why}`, {
        option: 'identity',
        file,
        line: i + 1,
      });
    }
    keys.push(line);
  }
  if (keys.length === 0) {
    throw new UsageError(
      'BAD_IDENTITY',
      `${opt('identity')} ${file}: no identity in the file (expected AGE-SECRET-KEY-1… lines)`,
      { option: 'identity', file },
    );
  }
  return keys;
}
