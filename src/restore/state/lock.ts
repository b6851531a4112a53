import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  unlinkSync,
  writeSync,
  fsyncSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { InternalError, UsageError } from '../../core/errors.js';

/**
 * The exclusive lock on a restore's state directory.
 *
 * A lock is a file `lock.<generation>` whose content (pid, host, process start time, a random
 * token) is complete before the file appears: it is written to a private temporary file and
 * published with link(2), which fails atomically if that generation exists. The holder is the
 * owner of the highest generation.
 *
 * Taking over a stale lock (its process is gone from this host, or the pid now belongs to a
 * younger process) never deletes anything first: the taker links generation N+1, which exactly
 * one process can do. After linking, a process that sees a higher generation than its own backs
 * off (it raced with a newer taker), so two runs can never both hold the directory. Only then
 * are older generations removed. A lock from another host is never taken over (its pid means
 * nothing here): remove `lock.*` by hand once that run is known to be gone.
 */
export interface LockInfo {
  pid: number;
  host: string;
  /** Process start time (Linux: clock ticks since boot from /proc/PID/stat); '' if unknown. */
  start: string;
  token: string;
  at: string;
}

const LOCK_PREFIX = 'lock.';
const FILE_MODE = 0o600;
/** Tokens of locks this process holds (a second run in the same process must not take them). */
const held = new Set<string>();

function processStart(pid: number | 'self'): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the parenthesised command name (which may hold spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? '';
  } catch {
    return '';
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the run that wrote `info` is certainly gone. */
export function isStale(info: LockInfo): boolean {
  if (info.host !== hostname()) return false;
  if (info.pid === process.pid) return !held.has(info.token);
  if (!pidAlive(info.pid)) return true;
  // The pid is alive, but is it the same process? A different start time: the pid was reused.
  const now = processStart(info.pid);
  return Boolean(info.start && now && now !== info.start);
}

function generations(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(LOCK_PREFIX) && /^\d+$/.test(n.slice(LOCK_PREFIX.length)))
    .map((n) => Number(n.slice(LOCK_PREFIX.length)))
    .sort((a, b) => b - a);
}

function lockPath(dir: string, gen: number): string {
  return path.join(dir, `${LOCK_PREFIX}${gen}`);
}

function readInfo(file: string): LockInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
    return typeof v.pid === 'number' && typeof v.token === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // gone
  }
}

/** Temporary lock files of runs killed before publishing them (they hold their LockInfo). */
function removeDeadTemporaries(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith('.lock-tmp-')) continue;
    const file = path.join(dir, n);
    const info = readInfo(file);
    // An unreadable one may be a live run's, being written: left alone.
    if (info && isStale(info)) unlinkQuiet(file);
  }
}

export class StateDirLock {
  private released = false;

  private constructor(
    readonly dir: string,
    readonly generation: number,
    readonly info: LockInfo,
  ) {}

  /** Takes the lock or throws STATE_DIR_LOCKED (exit 2). The directory must exist. */
  static acquire(dir: string): StateDirLock {
    for (let attempt = 0; attempt < 20; attempt++) {
      const gens = generations(dir);
      const top = gens[0];
      if (top !== undefined) {
        const file = lockPath(dir, top);
        const info = readInfo(file);
        if (!info) {
          // Released between listing and reading: look again. (A corrupt one is taken over.)
          if (existsSync(file)) {
            // fall through
          } else continue;
        } else if (!isStale(info)) {
          throw lockedError(dir, info);
        }
      }
      const gen = (top ?? 0) + 1;
      const info: LockInfo = {
        pid: process.pid,
        host: hostname(),
        start: processStart('self'),
        token: randomUUID(),
        at: new Date().toISOString(),
      };
      const tmp = path.join(dir, `.lock-tmp-${info.token}`);
      const fd = openSync(tmp, 'wx', FILE_MODE);
      try {
        writeSync(fd, JSON.stringify(info));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        linkSync(tmp, lockPath(dir, gen));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        continue; // another run took this generation first: judge it on the next pass
      } finally {
        unlinkQuiet(tmp);
      }
      // A newer generation than ours means a newer taker won: back off.
      if (generations(dir).some((g) => g > gen)) {
        unlinkQuiet(lockPath(dir, gen));
        continue;
      }
      held.add(info.token);
      for (const g of generations(dir)) if (g < gen) unlinkQuiet(lockPath(dir, g));
      removeDeadTemporaries(dir);
      return new StateDirLock(dir, gen, info);
    }
    throw new UsageError('STATE_DIR_LOCKED', `cannot lock ${dir}: another run keeps taking it`, {
      stateDir: dir,
    });
  }

  /** Whether this process still holds the lock (its generation file is still ours). */
  stillHeld(): boolean {
    if (this.released) return false;
    return readInfo(lockPath(this.dir, this.generation))?.token === this.info.token;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.info.token);
    if (readInfo(lockPath(this.dir, this.generation))?.token === this.info.token) {
      unlinkQuiet(lockPath(this.dir, this.generation));
    }
  }
}

function lockedError(dir: string, info: LockInfo): UsageError {
  const where = info.host === hostname() ? `pid ${info.pid}` : `pid ${info.pid} on ${info.host}`;
  return new UsageError(
    'STATE_DIR_LOCKED',
    `another restore (${where}) is using ${dir}; wait for it or stop it first` +
      (info.host === hostname()
        ? ''
        : ` (if that run is gone, remove ${path.join(dir, 'lock.*')})`),
    { stateDir: dir, pid: info.pid },
  );
}

/**
 * The state directory's lock while a restore (full or selective) plans: held from its preflight
 * until the journal takes it over (`takeLock`), or released by `releaseUntaken`.
 */
export interface LockSlot {
  lock: StateDirLock | undefined;
  /** Whether preflight created the state directory (removed again if left empty). */
  createdStateDir: boolean;
}

/** The lock, handed over to the journal (the slot no longer holds it). */
export function takeLock(slot: LockSlot): StateDirLock {
  const lock = slot.lock;
  if (!lock) throw new InternalError('state directory not locked');
  slot.lock = undefined;
  return lock;
}

/**
 * A lock the journal never took (preflight failed, a dry run, exit 2, 4, 9…): released, and the
 * state directory removed when this run created it and left it empty.
 */
export function releaseUntaken(slot: LockSlot): void {
  const lock = slot.lock;
  if (!lock) return;
  slot.lock = undefined;
  lock.release();
  if (!slot.createdStateDir) return;
  try {
    rmdirSync(lock.dir);
  } catch {
    // not empty, or gone
  }
}
