import cliProgress from 'cli-progress';
import type { ProgressEvent, ProgressListener } from '../core/progress.js';

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
        process.stderr.write(`${JSON.stringify({ progress: e })}\n`);
      },
      stop: () => undefined,
    };
  }
  if (!process.stderr.isTTY) {
    return {
      listener: (e) => {
        if (e.type === 'phase')
          process.stderr.write(`… ${e.phase}${e.detail ? `: ${e.detail}` : ''}\n`);
        if (e.type === 'warning') process.stderr.write(`warning: ${e.message}\n`);
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
          process.stderr.write(`warning: ${e.message}\n`);
          break;
      }
    },
    stop: () => {
      if (active) bar.stop();
      active = false;
    },
  };
}
