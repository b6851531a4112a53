import path from 'node:path';
import { type Command, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import type { ProgressListener } from '../core/progress.js';
import { parsePoolId } from './validate.js';
import { type CommonFlags, makeStorage } from './common.js';
import { parseLocationArg } from './validate.js';

/** `--from latest` / `latest`: the newest complete snapshot of a pool under a backup root. */
export const LATEST = 'latest';
export const DEFAULT_ROOT = './cognito-backups';

export interface ChoiceFlags extends CommonFlags {
  root?: string;
  before?: string;
  sourcePoolId?: string;
}

/** --root, --before, --source-pool-id (meaningful with `latest` as the snapshot). */
export function addChoiceOptions(cmd: Command, snapshotArg: string): Command {
  return cmd
    .addOption(
      new Option(
        '--root <dir|s3://bucket/prefix>',
        `with ${snapshotArg} latest: the backup root to pick from (default ${DEFAULT_ROOT})`,
      ).argParser(parseLocationArg('--root')),
    )
    .option(
      '--before <iso-time>',
      `with ${snapshotArg} latest: the newest complete snapshot finished before this time (e.g. 2026-12-01T10:00Z)`,
    )
    .addOption(
      new Option(
        '--source-pool-id <id>',
        `with ${snapshotArg} latest: whose snapshots (default: the pool restored into or compared with)`,
      ).argParser(parsePoolId),
    );
}

function parseBefore(v: string): Date {
  // ISO 8601 with a time and a zone (Z or ±hh:mm); minutes suffice.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) {
    throw new UsageError(
      'BAD_FLAG',
      `--before expects an ISO 8601 time with a zone, e.g. 2026-12-01T10:00Z, got "${v}"`,
      { option: 'before' },
    );
  }
  const d = new Date(v.replace(/T(\d{2}:\d{2})(Z|[+-])/, 'T$1:00$2'));
  if (Number.isNaN(d.getTime()))
    throw new UsageError('BAD_FLAG', `--before is not a valid time: "${v}"`, { option: 'before' });
  return d;
}

/**
 * The snapshot location a command reads: `snapshot` as given, or — when it is `latest` — the
 * newest complete snapshot of the pool under --root (printed on stderr: which one, and what was
 * passed over). --root/--before/--source-pool-id without `latest` are refused.
 */
export async function choose(
  flags: ChoiceFlags & { from?: string },
  defaultPoolId: string | undefined,
  _progress?: ProgressListener,
  snapshot: string | undefined = flags.from,
): Promise<string> {
  if (snapshot !== LATEST) {
    for (const [flag, v] of [
      ['--root', flags.root],
      ['--before', flags.before],
      ['--source-pool-id', flags.sourcePoolId],
    ] as const) {
      if (v !== undefined)
        throw new UsageError('BAD_FLAG', `${flag} works with the snapshot "latest" only`);
    }
    if (snapshot === undefined) throw new UsageError('BAD_FLAG', 'give the snapshot');
    return snapshot;
  }
  const before = flags.before !== undefined ? parseBefore(flags.before) : undefined;
  const poolId = flags.sourcePoolId ?? defaultPoolId;
  if (!poolId) {
    throw new UsageError(
      'BAD_FLAG',
      'latest needs the pool whose snapshots to pick from: --source-pool-id ID',
    );
  }
  const rootLocation = flags.root ?? DEFAULT_ROOT;
  const root = await makeStorage(
    rootLocation,
    flags,
    flags.region ?? process.env.AWS_REGION,
    '--root',
  );
  const { chooseLatest } = await import('../snapshot/choose.js');
  const c = await chooseLatest(root, poolId, before);
  const location = /^s3:\/\//.test(rootLocation)
    ? `${rootLocation.replace(/\/+$/, '')}/${c.path}`
    : path.join(rootLocation, c.path);
  const skipped = c.passedOver;
  process.stderr.write(
    `cognito-vault: latest${before ? ` before ${before.toISOString()}` : ''}: ${location} (finished ${c.createdAt}` +
      `${skipped.incomplete || skipped.unreadable ? `; passed over ${skipped.incomplete} incomplete, ${skipped.unreadable} unreadable` : ''})\n`,
  );
  return location;
}

/**
 * The erasure ledger of the pool a snapshot location belongs to (`<root>/<pool>/<snapshot>`),
 * or undefined when the location is not laid out like that (a copied snapshot has none) or the
 * pool has no ledger.
 */
export async function openErasures(
  location: string,
  flags: CommonFlags,
  region: string | undefined,
): Promise<import('../snapshot/erasure-ledger.js').ErasureLedger | undefined> {
  const { ErasureLedger, poolDirOf } = await import('../snapshot/erasure-ledger.js');
  const abs = /^s3:\/\//.test(location) ? location : path.resolve(location);
  const pool = poolDirOf(abs);
  if (!pool) return undefined;
  const dir = await makeStorage(pool.dir, flags, region, '--from');
  const ledger = await ErasureLedger.read(dir, pool.userPoolId);
  // No ledger (nobody was ever erased from this pool): nothing to filter, and no `erased`
  // count in the result — it is reported only where a ledger applies.
  return ledger.size > 0 ? ledger : undefined;
}
