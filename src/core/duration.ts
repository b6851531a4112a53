/**
 * How long an incomplete snapshot is left alone after its last activity (its newest object's
 * modification time), default 7 days. The longest backup is far shorter: a Lambda run stops
 * within 15 minutes, and a CLI backup of a 40-million-user pool (Cognito's largest) lists users
 * at 30 requests/s × 60 users in about 6 hours, or some 60 hours at --rate-share 0.1. A week also
 * spans a weekend of an operator not looking. Running backups hold a lease on top of that.
 */
export const DEFAULT_INCOMPLETE_GRACE_MS = 7 * 24 * 3_600_000;

/** `7d`, `36h`, `90m`, `3600s`: a duration in milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(d|h|m|s)$/.exec(text.trim());
  if (!m?.[1] || !m[2]) return undefined;
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 }[m[2] as 'd' | 'h' | 'm' | 's'];
  const ms = Number(m[1]) * unit;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.round(ms / 60_000)}m`;
}
