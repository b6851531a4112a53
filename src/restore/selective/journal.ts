import { closeSync, constants, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { storageErrorFromFs } from '../../storage/local.js';
import type { ResourceKind } from './types.js';

/**
 * The selective restore's own lines, next to the restore journal (journal.jsonl, which records
 * the users and resources created exactly as a full restore does) in the same locked state
 * directory:
 * - `plan`: the plan hash of the run that started this restore (a resumed run with the same
 *   --plan-hash is that reviewed plan continuing, not a changed one);
 * - `ur`: an existing user reverted (`a` attributes written, `d` removed, `e` enabled state set,
 *   `g`/`r` memberships added/removed); `rr`: a resource reverted; `ma`/`mr`: a member added
 *   to / removed from a selected group.
 * Reverts are idempotent (a resumed run recomputes the differences from the pool); the lines
 * give the result's counts over every run.
 */
export const SELECTIVE_JOURNAL_FILE = 'selective.jsonl';

export type SelectiveEntry =
  | { t: 'plan'; h: string; at: string }
  | { t: 'ur'; u: string; a: number; d: number; e?: 0 | 1; g: number; r: number }
  | { t: 'rr'; k: ResourceKind; n: string }
  | { t: 'ma' | 'mr'; g: string; u: string };

export class SelectiveState {
  planHash: string | undefined;
  readonly revertedUsers = new Set<string>();
  readonly revertedResources = new Set<string>();
  readonly removedMembers = new Set<string>();
  readonly addedMembers = new Set<string>();
  attributes = 0;
  membershipsAdded = 0;
  membershipsRemoved = 0;
  enabled = 0;
  disabled = 0;

  apply(e: SelectiveEntry): void {
    switch (e.t) {
      case 'plan':
        this.planHash ??= e.h;
        break;
      case 'ur':
        this.revertedUsers.add(e.u);
        this.attributes += e.a + e.d;
        this.membershipsAdded += e.g;
        this.membershipsRemoved += e.r;
        if (e.e === 1) this.enabled++;
        if (e.e === 0) this.disabled++;
        break;
      case 'rr':
        this.revertedResources.add(`${e.k}\u0000${e.n}`);
        break;
      case 'mr':
        if (!this.removedMembers.has(`${e.g}\u0000${e.u}`)) this.membershipsRemoved++;
        this.removedMembers.add(`${e.g}\u0000${e.u}`);
        break;
      case 'ma':
        if (!this.addedMembers.has(`${e.g}\u0000${e.u}`)) this.membershipsAdded++;
        this.addedMembers.add(`${e.g}\u0000${e.u}`);
        break;
    }
  }
}

export async function readSelectiveJournal(dir: string): Promise<SelectiveState | undefined> {
  const file = path.join(dir, SELECTIVE_JOURNAL_FILE);
  try {
    await stat(file);
  } catch {
    return undefined;
  }
  const state = new SelectiveState();
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    try {
      state.apply(JSON.parse(line) as SelectiveEntry);
    } catch {
      // a torn last line (killed mid-write): that unit is redone
    }
  }
  return state;
}

/** Appends with one write(2) per line (survives SIGKILL); fdatasync on close. */
export class SelectiveJournal {
  private fd: number | undefined;
  private constructor(
    readonly file: string,
    readonly state: SelectiveState,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Opens it in a state directory the caller holds the lock of. */
  static async open(dir: string): Promise<SelectiveJournal> {
    const file = path.join(dir, SELECTIVE_JOURNAL_FILE);
    const state = (await readSelectiveJournal(dir)) ?? new SelectiveState();
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      writeSync(fd, '\n');
      return new SelectiveJournal(file, state, fd);
    } catch (e) {
      throw storageErrorFromFs(e, 'write', file);
    }
  }

  append(e: SelectiveEntry): void {
    if (this.fd === undefined) throw new Error('journal is closed');
    try {
      writeSync(this.fd, `${JSON.stringify(e)}\n`);
    } catch (err) {
      throw storageErrorFromFs(err, 'write', this.file);
    }
    this.state.apply(e);
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      fdatasyncSync(this.fd);
    } catch {
      // best effort
    }
    closeSync(this.fd);
    this.fd = undefined;
  }
}
