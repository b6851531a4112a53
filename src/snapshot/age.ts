import { open } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { parseIdentityText, parseRecipient } from '../core/age-keys.js';
import { SnapshotInvalidError, UsageError, VaultError } from '../core/errors.js';
import { opt } from '../core/options.js';

/**
 * Client-side encryption of snapshot files with age (age-encryption.org/v1, X25519 recipients),
 * through `age-encryption`, the TypeScript implementation by age's author. Its stream API is
 * used: files are encrypted and decrypted in 64 KiB STREAM chunks as they flow, so memory does
 * not grow with the file (docs/format.md, "Encryption"). The library is loaded on first use
 * only: unencrypted snapshots never load it.
 */

export const AGE_SCHEME = 'age-encryption.org/v1';
/** Suffix of an encrypted file's path: `users/part-00000.jsonl.gz.age`, `pool.json.age`. */
export const AGE_SUFFIX = '.age';
/** An identity file is a few lines; anything this large is not one. */
const MAX_IDENTITY_FILE_BYTES = 64 * 1024;

type AgeModule = typeof import('age-encryption');
let loaded: Promise<AgeModule> | undefined;
function age(): Promise<AgeModule> {
  loaded ??= import('age-encryption');
  return loaded;
}

function toWeb(stream: Readable): ReadableStream<Uint8Array> {
  // Node's stream/web types and the DOM ReadableStream age-encryption is typed with differ only
  // in declarations; the object is the same WHATWG stream.
  return Readable.toWeb(stream) as ReadableStream<Uint8Array>;
}
function fromWeb(stream: ReadableStream<Uint8Array>): Readable {
  return Readable.fromWeb(stream as NodeWebReadableStream<Uint8Array>);
}

/** The recipients a backup encrypts to (validated, deduplicated, in the order given). */
export class AgeRecipients {
  readonly recipients: string[];

  constructor(recipients: readonly string[]) {
    if (recipients.length === 0)
      throw new UsageError('BAD_RECIPIENT', 'AgeRecipients needs at least one recipient');
    this.recipients = [...new Set(recipients.map((r) => parseRecipient(r)))];
  }

  /**
   * The age encryption of `source`, as a stream. Errors of the source (a failing Cognito call,
   * an abort) fail the returned stream too.
   */
  async encrypt(source: Readable): Promise<Readable> {
    const { Encrypter } = await age();
    const e = new Encrypter();
    for (const r of this.recipients) e.addRecipient(r);
    return fromWeb(await e.encrypt(toWeb(source)));
  }
}

/** An encrypted snapshot and no --identity: exit 3, one line. */
export class KeyRequiredError extends SnapshotInvalidError {
  constructor(location: string, recipients: readonly string[]) {
    super(
      `${location} is encrypted (age, to ${describeRecipients(recipients)}): it needs ${opt('identity')}, an age identity file holding a matching secret key`,
      [`encrypted: no ${opt('identity')} given`],
      { location },
      'KEY_REQUIRED',
    );
  }
}

/** --identity holds no key the snapshot (or one of its files) was encrypted to: exit 3. */
export class KeyMismatchError extends SnapshotInvalidError {
  constructor(location: string, recipients: readonly string[], keyring: AgeKeyring) {
    super(
      `${location} is encrypted to ${describeRecipients(recipients)}; ${opt('identity')} ${keyring.source} holds ${describeRecipients(keyring.recipients)}, none of them`,
      [`wrong ${opt('identity')}`],
      { location },
      'KEY_MISMATCH',
    );
  }
}

/** A recipient list for a message: public keys only (not personal data, not secret). */
export function describeRecipients(recipients: readonly string[]): string {
  const shown = recipients.slice(0, 3).join(', ');
  return recipients.length > 3 ? `${shown} and ${recipients.length - 3} more` : shown;
}

/**
 * The secret keys of an `--identity` file, and their public recipients. Decrypts files.
 */
export class AgeKeyring {
  private constructor(
    private readonly identities: readonly string[],
    /** The recipients (public keys) of the identities, in the same order. */
    readonly recipients: readonly string[],
    /** Where the keys came from, for messages (a path; never a key). */
    readonly source: string,
  ) {}

  static async fromKeys(identities: readonly string[], source: string): Promise<AgeKeyring> {
    const { identityToRecipient } = await age();
    const recipients = await Promise.all(identities.map((i) => identityToRecipient(i)));
    return new AgeKeyring(identities, recipients, source);
  }

  /**
   * Reads an identity file. Unreadable (missing, a directory, no permission), too large, or
   * malformed: a UsageError (exit 2). A file that group or others may read is accepted with a
   * warning (`onWarning`): it is a secret key, `chmod 600` it.
   */
  static async fromFile(
    file: string,
    onWarning?: (code: string, message: string) => void,
  ): Promise<AgeKeyring> {
    let text: string;
    try {
      const fh = await open(file, 'r');
      try {
        const st = await fh.stat();
        if (!st.isFile()) {
          throw new UsageError('BAD_IDENTITY', `${opt('identity')} ${file} is not a file`, {
            option: 'identity',
            file,
          });
        }
        if (st.size > MAX_IDENTITY_FILE_BYTES) {
          throw new UsageError(
            'BAD_IDENTITY',
            `${opt('identity')} ${file} is ${st.size} bytes: not an age identity file`,
            { option: 'identity', file },
          );
        }
        if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
          onWarning?.(
            'IDENTITY_FILE_PERMISSIONS',
            `${opt('identity')} ${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}): it holds a secret key, chmod 600 it`,
          );
        }
        text = (await fh.readFile()).toString('utf8');
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
      const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new UsageError(
        'IDENTITY_UNREADABLE',
        `${opt('identity')} ${file} cannot be read (${code})`,
        { option: 'identity', file },
      );
    }
    return AgeKeyring.fromKeys(parseIdentityText(text, file), file);
  }

  /** True when one of the keys belongs to one of `recipients`. */
  opens(recipients: readonly string[]): boolean {
    return this.recipients.some((r) => recipients.includes(r));
  }

  /**
   * The plaintext of an age-encrypted stream. The header is read and checked before this
   * resolves: no matching key is a KeyMismatchError (`location`, `recipients` for its message),
   * a header that is not age a SnapshotInvalidError. A later failure (a tampered or truncated
   * payload: the chunk's Poly1305 tag does not verify) fails the returned stream with a
   * SnapshotInvalidError naming `what`.
   */
  async decrypt(
    source: Readable,
    what: string,
    location: string,
    recipients: readonly string[],
  ): Promise<Readable> {
    const { Decrypter } = await age();
    const d = new Decrypter();
    for (const i of this.identities) d.addIdentity(i);
    let plain: ReadableStream<Uint8Array>;
    try {
      plain = await d.decrypt(toWeb(source));
    } catch (e) {
      if (!source.destroyed) source.destroy();
      if (e instanceof VaultError) throw e;
      if (e instanceof Error && /no identity matched/.test(e.message)) {
        throw new KeyMismatchError(location, recipients, this);
      }
      throw new DecryptError(location, what, e);
    }
    const out = fromWeb(plain);
    // The library's errors ("invalid tag", "final chunk is empty") name no data; they become a
    // SnapshotInvalidError so every reader reports them as a corrupt snapshot (exit 3). A
    // storage error of the source (exit 8) or an abort passes through as it is.
    const wrapped = new PassThrough();
    out.on('error', (e) => {
      wrapped.destroy(e instanceof VaultError ? e : new DecryptError(location, what, e));
    });
    wrapped.on('close', () => {
      if (!out.destroyed) out.destroy();
      if (!source.destroyed) source.destroy();
    });
    return out.pipe(wrapped);
  }
}

/** An age file that does not decrypt: not age, a bad header MAC, a tampered or cut payload. */
export class DecryptError extends SnapshotInvalidError {
  constructor(location: string, what: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `${location}: ${what} does not decrypt (${why}): the file is corrupt, truncated or was altered`,
      [`${what}: does not decrypt (${why})`],
      { location },
      'DECRYPT_FAILED',
    );
  }
}
