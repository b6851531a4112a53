import {
  chmodSync,
  closeSync,
  constants,
  createReadStream,
  fdatasyncSync,
  fstatSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { InternalError, StorageError, UsageError, VaultError } from '../../core/errors.js';
import { makeDir, storageErrorFromFs } from '../../storage/local.js';
import { StateDirLock } from './lock.js';
import type { ResourceFailure, RestoreTarget, RestoreWarning } from '../types.js';
import { opt } from '../../core/options.js';

export const JOURNAL_FILE = 'journal.jsonl';
const JOURNAL_VERSION = 1;
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/**
 * One line of the journal. Keys are short: a million-user restore writes a few million lines.
 *
 * - `begin`: first line; which snapshot goes to which target.
 * - `preflight`: the preflight passed once (a resumed run skips the "target is empty" check).
 * - `pool-intent` / `pool`: about to create the pool (with the ids of same-named pools that
 *   already existed, and the attempt's token, which the pool carries as its
 *   `cognito-vault:restore-token` tag; one line per attempt) / the pool exists with this id.
 * - `pool-settings`, `domain`: MFA configuration / domain done.
 * - `group`, `rs`, `idp`: one resource done (`s` = c created, e existing, k skipped).
 * - `clients-before`: the target's client ids before this restore created any.
 * - `client-intent` / `client`: about to create / created (or kept) the client for an old id.
 * - `brand`: the managed login style of the client with old id `old` is in the target
 *   (`s` = c created, e the target client had one already).
 * - `phase`: every resource of that phase is done.
 * - `ui` / `u`: about to create / a user exists (`n` new username when it differs, `os`/`ns`
 *   old/new sub, `s` = c created, e existing, i imported by a CSV import job; `x` 1 for a
 *   federated user precreated as a local profile).
 * - `si`: a user's sign-in state is final (`k` = c CONFIRMED with a random password nobody
 *   knows, p passwordless, f FORCE_CHANGE_PASSWORD; `a` why an administrator must act, with the
 *   snapshot status `st` and the new username `n`). Never a password.
 * - `if`: the CSV import files were written (name, sha256, rows, bytes of each), once.
 * - `ij`: one step of the import job for file `f` (`s` = create (about to call
 *   CreateUserImportJob, job name `n`, attempt `a`), created (`id`), uploaded, started, done
 *   (final `st` status, `i`/`k`/`x` imported/skipped/failed counts, `m` completion message),
 *   dropped (an unused job given up: its upload URL expired)).
 * - `l`: one identity link done. `f`: every follow-up of a user done (`m` memberships,
 *   `d` disabled 0/1, `a` 1 when its SMS/email MFA preference was set).
 * - `rf`: a pool resource that could not be restored (`k` kind, `n` name, `o` operation, `e`
 *   error); not retried by later runs (its dependants were adjusted), still reported.
 * - `w`: a warning, kept so a resumed run still reports it. `end`: a run finished.
 * - `triggers`: --without-triggers: `pending` before CreateUserPool (the pool is created without
 *   its Lambda triggers), `attached` once the closing UpdateUserPool put them back.
 */
export type JournalEntry =
  | {
      t: 'begin';
      v: number;
      snapshotId: string;
      sourcePoolId: string;
      target: RestoreTarget;
      at: string;
    }
  | { t: 'preflight'; at: string }
  | { t: 'pool-intent'; name: string; preexisting: string[]; token?: string }
  | { t: 'pool'; id: string }
  | { t: 'pool-settings' }
  | { t: 'domain'; d: string }
  | { t: 'group'; n: string; s: 'c' | 'e' }
  | { t: 'rs'; n: string; s: 'c' | 'e' }
  | { t: 'idp'; n: string; s: 'c' | 'e' | 'k' }
  | { t: 'clients-before'; ids: string[] }
  | { t: 'client-intent'; old: string; name: string }
  | { t: 'client'; old: string; new: string; s: 'c' | 'e' }
  | { t: 'brand'; old: string; s: 'c' | 'e' }
  | { t: 'phase'; p: string }
  | { t: 'ui'; u: string }
  | { t: 'u'; u: string; n?: string; os?: string; ns?: string; s: 'c' | 'e' | 'i'; x?: 1 }
  | {
      t: 'si';
      u: string;
      k: 'c' | 'p' | 'f';
      a?: 'no-verified-contact' | 'unconfirmed' | 'force-change';
      st?: string;
      n?: string;
    }
  | { t: 'if'; files: ImportFileEntry[] }
  | ImportJobEntry
  | { t: 'l'; u: string; p: string; v: string }
  | { t: 'f'; u: string; m: number; d: 0 | 1; a?: 1 }
  | { t: 'rf'; k: ResourceFailure['kind']; n: string; o: string; e: string }
  | { t: 'w'; code: string; message: string }
  | { t: 'triggers'; s: 'pending' | 'attached' }
  | { t: 'end'; at: string };

/** One CSV import file as journaled: name, sha256, data rows, bytes. */
export interface ImportFileEntry {
  f: string;
  sha: string;
  rows: number;
  bytes: number;
}

export type ImportJobStep = 'create' | 'created' | 'uploaded' | 'started' | 'done' | 'dropped';

export interface ImportJobEntry {
  t: 'ij';
  /** The import file this job imports. */
  f: string;
  s: ImportJobStep;
  /** Job name (create), job id (created and later). */
  n?: string;
  id?: string;
  /** Attempt number for this file (a job whose upload URL expired unused is replaced). */
  a?: number;
  /** created: when (epoch ms, this machine's clock) the job was created or adopted. */
  at?: number;
  /** done: final status, imported / skipped / failed counts, completion message. */
  st?: string;
  i?: number;
  k?: number;
  x?: number;
  m?: string;
}

/** Where the import job of one file stands (from its `ij` entries). */
export interface ImportJobProgress {
  step: ImportJobStep;
  attempt: number;
  name?: string;
  id?: string;
  /** When the job was created (epoch ms): its upload URL is valid for 15 minutes. */
  createdAt?: number;
  status?: string;
  imported?: number;
  skipped?: number;
  failed?: number;
  message?: string;
}

/** What the journal says is done; rebuilt from the file on every run. */
export class JournalState {
  begin: Extract<JournalEntry, { t: 'begin' }> | undefined;
  preflightPassed = false;
  /** The pool to create, the same-named pools before it, and every attempt's token (tag). */
  poolIntent: { name: string; preexisting: string[]; tokens: string[] } | undefined;
  poolId: string | undefined;
  poolSettingsDone = false;
  domain: string | undefined;
  readonly phases = new Set<string>();
  readonly groups = new Map<string, 'c' | 'e'>();
  readonly resourceServers = new Map<string, 'c' | 'e'>();
  readonly idps = new Map<string, 'c' | 'e' | 'k'>();
  clientsBefore: string[] | undefined;
  readonly clientIntents = new Map<string, string>();
  readonly clients = new Map<string, { id: string; s: 'c' | 'e' }>();
  /** Managed login styles in the target, by old client id. */
  readonly brandings = new Map<string, 'c' | 'e'>();
  /** Users that exist in the target: old username → new username ('' when unchanged). */
  readonly users = new Map<string, string>();
  /** Users whose AdminCreateUser was sent but whose outcome was never recorded. */
  readonly userIntents = new Set<string>();
  readonly followUpsDone = new Set<string>();
  /**
   * Users an earlier run found already in the target (--merge) or imported by a CSV import job:
   * the restore sets no password for them.
   */
  readonly existingUsers = new Set<string>();
  /** Users whose sign-in state (password / passwordless / force-change) is final. */
  readonly signInDone = new Set<string>();
  readonly signIn = { c: 0, p: 0, f: 0, needsAdmin: 0 };
  readonly linksDone = new Set<string>();
  /** The CSV import files, once written. */
  importFiles: ImportFileEntry[] | undefined;
  /** Per import file: its current job (few entries: one per file of up to 500,000 users). */
  readonly importJobs = new Map<string, ImportJobProgress>();
  created = 0;
  imported = 0;
  existing = 0;
  memberships = 0;
  disabled = 0;
  /** Federated users precreated as local profiles (`x` on their `u` line). */
  federatedCreated = 0;
  /** Users whose SMS/email MFA preference was set (`a` on their `f` line). */
  mfaPreferences = 0;
  links = 0;
  runs = 0;
  readonly warnings = new Map<string, RestoreWarning>();
  /** Resources not restored, by `kind\u0000name`. */
  readonly resourceFailures = new Map<string, ResourceFailure>();

  static resourceKey(kind: ResourceFailure['kind'], name: string): string {
    return `${kind}\u0000${name}`;
  }

  /** Whether that resource failed (in this run or an earlier one). */
  failed(kind: ResourceFailure['kind'], name: string): boolean {
    return this.resourceFailures.has(JournalState.resourceKey(kind, name));
  }
  /** --without-triggers: the pool was created without its triggers / they are back. */
  triggers: 'pending' | 'attached' | undefined;

  static linkKey(username: string, provider: string, value: string): string {
    return `${username}\u0000${provider}\u0000${value}`;
  }

  /**
   * Applies one entry. `live` entries (appended by this run) only move the counters for
   * per-user work: each user is read from the snapshot once per run, so the per-user sets are
   * only needed for work done by earlier runs — memory stays flat during a fresh run.
   */
  apply(e: JournalEntry, live = false): void {
    switch (e.t) {
      case 'begin':
        this.begin ??= e;
        this.runs++;
        break;
      case 'preflight':
        this.preflightPassed = true;
        break;
      case 'pool-intent':
        this.poolIntent ??= { name: e.name, preexisting: e.preexisting, tokens: [] };
        if (e.token) this.poolIntent.tokens.push(e.token);
        break;
      case 'pool':
        this.poolId = e.id;
        break;
      case 'pool-settings':
        this.poolSettingsDone = true;
        break;
      case 'domain':
        this.domain = e.d;
        break;
      case 'group':
        this.groups.set(e.n, e.s);
        break;
      case 'rs':
        this.resourceServers.set(e.n, e.s);
        break;
      case 'idp':
        this.idps.set(e.n, e.s);
        break;
      case 'clients-before':
        this.clientsBefore ??= e.ids;
        break;
      case 'client-intent':
        this.clientIntents.set(e.old, e.name);
        break;
      case 'client':
        this.clients.set(e.old, { id: e.new, s: e.s });
        this.clientIntents.delete(e.old);
        break;
      case 'brand':
        this.brandings.set(e.old, e.s);
        break;
      case 'phase':
        this.phases.add(e.p);
        break;
      case 'ui':
        if (!this.users.has(e.u)) this.userIntents.add(e.u);
        break;
      case 'u':
        if (!this.users.has(e.u)) {
          if (e.s === 'c') this.created++;
          else if (e.s === 'i') this.imported++;
          else this.existing++;
          if (e.x) this.federatedCreated++;
        }
        if (!live) {
          this.users.set(e.u, e.n ?? '');
          // Already there, or imported by a CSV import job: the restore sets no password.
          if (e.s === 'e' || e.s === 'i') this.existingUsers.add(e.u);
        }
        this.userIntents.delete(e.u);
        break;
      case 'si':
        if (!this.signInDone.has(e.u)) {
          this.signIn[e.k]++;
          if (e.a) this.signIn.needsAdmin++;
        }
        if (!live) this.signInDone.add(e.u);
        break;
      case 'l': {
        const key = JournalState.linkKey(e.u, e.p, e.v);
        if (!this.linksDone.has(key)) this.links++;
        if (!live) this.linksDone.add(key);
        break;
      }
      case 'f':
        if (!this.followUpsDone.has(e.u)) {
          this.memberships += e.m;
          this.disabled += e.d;
          this.mfaPreferences += e.a ?? 0;
        }
        if (!live) this.followUpsDone.add(e.u);
        break;
      case 'rf':
        this.resourceFailures.set(JournalState.resourceKey(e.k, e.n), {
          kind: e.k,
          name: e.n,
          operation: e.o,
          error: e.e,
        });
        break;
      case 'if':
        this.importFiles ??= e.files;
        break;
      case 'ij': {
        const prev = this.importJobs.get(e.f);
        const attempt = e.a ?? prev?.attempt ?? 1;
        if (e.s === 'create') {
          this.importJobs.set(e.f, { step: 'create', attempt, ...(e.n ? { name: e.n } : {}) });
        } else if (e.s === 'done') {
          this.importJobs.set(e.f, {
            ...prev,
            step: 'done',
            attempt,
            ...(e.id ? { id: e.id } : {}),
            ...(e.st ? { status: e.st } : {}),
            imported: e.i ?? 0,
            skipped: e.k ?? 0,
            failed: e.x ?? 0,
            ...(e.m ? { message: e.m } : {}),
          });
        } else {
          this.importJobs.set(e.f, {
            ...prev,
            step: e.s,
            attempt,
            ...(e.id ? { id: e.id } : {}),
            ...(e.at !== undefined ? { createdAt: e.at } : {}),
          });
        }
        break;
      }
      case 'w':
        this.warnings.set(e.message, { code: e.code, message: e.message });
        break;
      case 'triggers':
        if (this.triggers !== 'attached') this.triggers = e.s;
        break;
      case 'end':
        break;
    }
  }

  /** The new username of a user that exists in the target (undefined: not done). */
  newUsername(oldUsername: string): string | undefined {
    const n = this.users.get(oldUsername);
    if (n === undefined) return undefined;
    return n === '' ? oldUsername : n;
  }
}

async function readEntries(file: string, state: JournalState): Promise<void> {
  const rl = createInterface({
    input: createReadStream(file, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  let lineNo = 0;
  let pendingError: string | undefined;
  for await (const line of rl) {
    lineNo++;
    if (!line) continue;
    if (pendingError !== undefined) {
      // A bad line that is not the last one: the journal was edited or corrupted.
      throw new UsageError(
        'JOURNAL_CORRUPT',
        `${file}: line ${lineNo - 1} is not a journal entry (${pendingError}); move the state directory away to start over`,
        { path: file },
      );
    }
    let e: JournalEntry;
    try {
      e = JSON.parse(line) as JournalEntry;
      if (typeof e !== 'object' || e === null || typeof e.t !== 'string')
        throw new Error('no entry type');
    } catch (err) {
      // A torn last line (the process was killed mid-write) is ignored.
      pendingError = (err as Error).message;
      continue;
    }
    state.apply(e);
  }
}

/** Reads a journal without locking or writing (preflight, --dry-run). */
export async function readJournal(dir: string): Promise<JournalState | undefined> {
  const file = path.join(dir, JOURNAL_FILE);
  try {
    await stat(file);
  } catch {
    return undefined;
  }
  const state = new JournalState();
  await readEntries(file, state);
  return state;
}

function describeTarget(t: RestoreTarget): string {
  return 'userPoolId' in t ? `pool ${t.userPoolId}` : `new pool "${t.createPool}"`;
}

function sameTarget(a: RestoreTarget, b: RestoreTarget): boolean {
  if ('userPoolId' in a && 'userPoolId' in b) return a.userPoolId === b.userPoolId;
  if ('createPool' in a && 'createPool' in b) return a.createPool === b.createPool;
  return false;
}

/** Refuses a state directory whose journal belongs to another snapshot or target. */
export function assertJournalMatches(
  state: JournalState,
  dir: string,
  snapshotId: string,
  target: RestoreTarget,
): void {
  const b = state.begin;
  if (!b) return;
  if (b.snapshotId !== snapshotId || !sameTarget(b.target, target)) {
    throw new UsageError(
      'STATE_DIR_MISMATCH',
      `state directory ${dir} belongs to a restore of snapshot ${b.snapshotId} into ${describeTarget(b.target)}, ` +
        `not of ${snapshotId} into ${describeTarget(target)}; use another ${opt('stateDir')}`,
      { stateDir: dir },
    );
  }
}

/**
 * The append-only restore journal: every finished unit of work is one JSON line, written with a
 * single write(2) as soon as the work is done (so it survives SIGKILL) and fdatasync'ed every
 * second and on close (so it survives a machine crash, up to the last second). A re-run of the
 * same command reads it back and skips what is done. The state directory's lock (lock.ts) stops
 * two runs sharing it.
 */
export class RestoreJournal {
  private fd: number | undefined;
  private dirty = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly dir: string,
    readonly file: string,
    readonly state: JournalState,
    fd: number,
    private readonly lock: StateDirLock,
  ) {
    this.fd = fd;
    this.timer = setInterval(() => this.sync(), 1000);
    this.timer.unref();
  }

  /**
   * Creates the state directory (0700) if needed and takes its lock. Read the journal only
   * after this: a journal read before the lock may be stale by the time the lock is held.
   */
  static async lockDir(dir: string): Promise<StateDirLock> {
    try {
      await makeDir(dir, DIR_MODE);
    } catch (e) {
      throw new StorageError(
        'UNWRITABLE',
        `cannot create the state directory ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        { path: dir },
        { cause: e },
      );
    }
    try {
      return StateDirLock.acquire(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
        throw new StorageError(
          'UNWRITABLE',
          `cannot lock the state directory ${dir} (${code})`,
          { path: dir },
          { cause: e },
        );
      }
      throw e;
    }
  }

  /**
   * Opens the journal of a locked state directory for appending (reading it under the lock).
   * The journal owns the lock from here: close() releases it; on failure it is released too.
   */
  static async open(
    lock: StateDirLock,
    begin: { snapshotId: string; sourcePoolId: string; target: RestoreTarget; at: string },
  ): Promise<RestoreJournal> {
    const dir = lock.dir;
    try {
      if (!lock.stillHeld()) {
        throw new UsageError('STATE_DIR_LOCKED', `lost the lock on ${dir}`, { stateDir: dir });
      }
      const file = path.join(dir, JOURNAL_FILE);
      const state = (await readJournal(dir)) ?? new JournalState();
      assertJournalMatches(state, dir, begin.snapshotId, begin.target);
      const fd = openSync(
        file,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
        FILE_MODE,
      );
      // A torn last line (killed mid-write) must not swallow the next entry.
      const size = fstatSync(fd).size;
      if (size > 0) {
        const rfd = openSync(file, 'r');
        const last = Buffer.alloc(1);
        readSync(rfd, last, 0, 1, size - 1);
        closeSync(rfd);
        if (last[0] !== 0x0a) writeSync(fd, '\n');
      }
      const journal = new RestoreJournal(dir, file, state, fd, lock);
      journal.append({ t: 'begin', v: JOURNAL_VERSION, ...begin });
      return journal;
    } catch (e) {
      lock.release();
      if (e instanceof VaultError) throw e;
      throw storageErrorFromFs(e, 'write', path.join(dir, JOURNAL_FILE));
    }
  }

  /** Records one finished unit of work (durable against the process dying on return). */
  append(entry: JournalEntry): void {
    if (this.fd === undefined) throw new InternalError('journal is closed');
    try {
      writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    } catch (e) {
      // A full disk or a vanished device: the run stops (exit 8); a re-run resumes.
      throw storageErrorFromFs(e, 'write', this.file);
    }
    this.dirty = true;
    this.state.apply(entry, true);
  }

  sync(): void {
    if (this.fd === undefined || !this.dirty) return;
    this.dirty = false;
    try {
      fdatasyncSync(this.fd);
    } catch {
      // best effort; the data is in the page cache
    }
  }

  close(): void {
    clearInterval(this.timer);
    if (this.fd !== undefined) {
      this.sync();
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.lock.release();
  }

  /** Every `u` entry once per user, in journal order (for the sub map). */
  users(): AsyncGenerator<Extract<JournalEntry, { t: 'u' }>> {
    return this.entriesOf('u');
  }

  /** Every `si` entry once per user, in journal order (for the needs-admin list). */
  signIns(): AsyncGenerator<Extract<JournalEntry, { t: 'si' }>> {
    return this.entriesOf('si');
  }

  private async *entriesOf<T extends 'u' | 'si'>(
    type: T,
  ): AsyncGenerator<Extract<JournalEntry, { t: T }>> {
    const seen = new Set<string>();
    const prefix = `{"t":"${type}"`;
    const rl = createInterface({
      input: createReadStream(this.file, { encoding: 'utf8' }),
      crlfDelay: Infinity,
    });
    for await (const line of rl) {
      if (!line.startsWith(prefix)) continue;
      let e: JournalEntry;
      try {
        e = JSON.parse(line) as JournalEntry;
      } catch {
        continue;
      }
      if (e.t !== type) continue;
      const u = (e as { u: string }).u;
      if (seen.has(u)) continue;
      seen.add(u);
      yield e as Extract<JournalEntry, { t: T }>;
    }
  }
}

/** Writes a small file atomically with mode 0600 (temp file + rename). */
export function writePrivateFile(file: string, content: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, content, { mode: FILE_MODE });
    renameSync(tmp, file);
    chmodSync(file, FILE_MODE);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw storageErrorFromFs(e, 'write', file);
  }
}
