import cliProgress from 'cli-progress';
import type { RegionProgressEvent } from '../backup/regions.js';
import type { ProgressEvent, ProgressListener } from '../core/progress.js';
import { forTerminal, jsonForTerminal } from '../core/terminal.js';

export interface Renderer {
  listener: ProgressListener;
  stop(): void;
}

/**
 * Progress on stderr: a bar on a TTY (users listed against EstimatedNumberOfUsers), JSON lines
 * with --json, phase lines otherwise. Never prints attribute values.
 */
export function createProgressRenderer(opts: { json: boolean; quiet: boolean }): Renderer {
  if (opts.quiet) return { listener: () => undefined, stop: () => undefined };
  if (opts.json) {
    let last = 0;
    return {
      listener: (e: ProgressEvent) => {
        // Counters can fire per page: at most ~4 lines a second for them.
        if (e.type === 'users' || e.type === 'memberships' || e.type === 'restore') {
          const now = Date.now();
          if (now - last < 250) return;
          last = now;
        }
        process.stderr.write(`${jsonForTerminal(JSON.stringify({ progress: e }))}\n`);
      },
      stop: () => undefined,
    };
  }
  if (!process.stderr.isTTY) {
    return {
      listener: (e) => {
        if (e.type === 'phase')
          process.stderr.write(`… ${e.phase}${e.detail ? `: ${forTerminal(e.detail)}` : ''}\n`);
        if (e.type === 'warning') process.stderr.write(`warning: ${forTerminal(e.message)}\n`);
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: ' {phase} [{bar}] {value}/{total} {unit} | {eta_formatted} left',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let active = false;
  let phase = '';
  const ensure = (total: number, unit: string): void => {
    if (!active) {
      bar.start(Math.max(total, 1), 0, { phase, unit });
      active = true;
    }
  };
  return {
    listener: (e) => {
      switch (e.type) {
        case 'phase':
          // Phases run alongside the bar's counter (settings while users are listed, groups
          // while users are created): the bar keeps its own label; phases print only when idle.
          phase = e.phase;
          if (!active) process.stderr.write(`… ${e.phase}\n`);
          break;
        case 'users':
          ensure(e.total ?? e.done, 'users');
          if (e.total !== undefined && e.done > e.total) bar.setTotal(e.done);
          bar.update(e.done, { phase: 'users', unit: 'users' });
          break;
        case 'restore':
          ensure(e.total ?? e.done, e.phase);
          if (e.total !== undefined) bar.setTotal(Math.max(e.total, e.done));
          bar.update(e.done, { phase: e.phase, unit: e.phase });
          break;
        case 'memberships':
          break;
        case 'warning':
          if (active) bar.stop();
          active = false;
          process.stderr.write(`warning: ${forTerminal(e.message)}\n`);
          break;
      }
    },
    stop: () => {
      if (active) bar.stop();
      active = false;
    },
  };
}

/**
 * Progress of a backup of several Regions at once: no bar (parallel Regions would fight over
 * one), one line per event, each prefixed with its Region (and pool); the users counter at most
 * every COUNTER_LINE_MS per pool. With --json, JSON lines carrying `region` and `userPoolId`.
 * Never prints attribute values: pool ids, counts, phases, error codes and tool messages only.
 */
export const COUNTER_LINE_MS = 5_000;

export function createRegionalRenderer(opts: { json: boolean; quiet: boolean }): {
  listener: (e: RegionProgressEvent) => void;
  stop: () => void;
} {
  if (opts.quiet) return { listener: () => undefined, stop: () => undefined };
  const lastCounter = new Map<string, number>();
  const counterDue = (key: string, every: number): boolean => {
    const now = Date.now();
    if (now - (lastCounter.get(key) ?? 0) < every) return false;
    lastCounter.set(key, now);
    return true;
  };
  if (opts.json) {
    return {
      listener: (e) => {
        if (e.type === 'users' || e.type === 'memberships') {
          if (!counterDue(`${e.region} ${e.userPoolId ?? ''}`, 250)) return;
        }
        process.stderr.write(`${jsonForTerminal(JSON.stringify({ progress: e }))}\n`);
      },
      stop: () => undefined,
    };
  }
  const line = (e: RegionProgressEvent, text: string): void => {
    const where = e.userPoolId ? `${e.region} ${e.userPoolId}` : e.region;
    process.stderr.write(`[${where}] ${forTerminal(text)}\n`);
  };
  return {
    listener: (e) => {
      switch (e.type) {
        case 'region':
          if (e.status === 'listed') line(e, `${e.pools} pool(s)`);
          else line(e, `${e.status} (${e.code})`);
          break;
        case 'pool':
          if (e.status === 'started') line(e, `pool ${e.index}/${e.of}`);
          else if (e.status === 'done')
            line(e, `backed up: ${e.users} users in ${(e.durationMs / 1000).toFixed(1)} s`);
          else line(e, `failed (${e.code}, exit ${e.exitCode})`);
          break;
        case 'phase':
          line(e, `… ${e.phase}${e.detail ? `: ${e.detail}` : ''}`);
          break;
        case 'users':
          if (counterDue(`${e.region} ${e.userPoolId ?? ''}`, COUNTER_LINE_MS))
            line(e, `${e.done}${e.total !== undefined ? `/${e.total}` : ''} users`);
          break;
        case 'warning':
          line(e, `warning: ${e.message}`);
          break;
        default:
          break;
      }
    },
    stop: () => undefined,
  };
}
