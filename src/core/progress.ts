/** Progress events engines emit; the CLI renders them (bar on a TTY, JSON lines with --json). */
export type ProgressEvent =
  | { type: 'phase'; phase: string; detail?: string }
  | { type: 'users'; done: number; total?: number }
  | { type: 'memberships'; done: number; groupsDone: number; groups: number }
  | { type: 'warning'; code: string; message: string }
  | { type: 'restore'; phase: string; done: number; total?: number };

export type ProgressListener = (event: ProgressEvent) => void;

export const noProgress: ProgressListener = () => undefined;
