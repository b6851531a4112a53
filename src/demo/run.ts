import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { backupPool, backupSummary, type BackupSummary } from '../backup/engine.js';
import { ExitCode, InternalError, VaultError } from '../core/errors.js';
import { noProgress, type ProgressListener } from '../core/progress.js';
import { paginateListUsers } from '@aws-sdk/client-cognito-identity-provider';
import { CognitoGateway, items } from '../cognito/gateway.js';
import type { CategoryReport, RateOptions } from '../cognito/rate.js';
import { comparePools, type PoolComparison, type SubMapEntry } from '../compare/index.js';
import { restoreSnapshot } from '../restore/index.js';
import type { RestoreResult } from '../restore/types.js';
import { SnapshotReader } from '../snapshot/reader.js';
import { LocalDirStorage } from '../storage/local.js';
import { cloudWatchLogReader } from '../restore/users/import/jobs.js';
import type { UsersPath } from '../restore/users/import/phase.js';
import { fromTestbedError, loadTestbed, type SeedResult } from './testbed.js';

export type { SeedResult } from './testbed.js';

export interface DemoOptions {
  users: number;
  groups: number;
  /**
   * How the restore writes users (default `auto`: CSV import jobs through the import-job double
   * for every user they can take, AdminCreateUser for the rest — the recommended path).
   */
  usersPath?: UsersPath;
  /** Where the snapshot and the restore state go. */
  dir: string;
  /** Rate limits for backup and restore; default: none (the emulator enforces no quotas). */
  rate?: RateOptions;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  /**
   * Check every Cognito request against Cognito's API model (botocore's, installed with moto):
   * requests real AWS would refuse are reported in `requestValidation`. Default: on when
   * COGNITO_VAULT_VALIDATE_REQUESTS=1.
   */
  validateRequests?: boolean;
}

export interface DemoResult {
  emulator: string;
  sourceUserPoolId: string;
  restoredUserPoolId: string;
  seeded: SeedResult;
  snapshot: string;
  subMap: string;
  clientMap: string;
  backup: BackupSummary;
  restore: {
    users: {
      created: number;
      imported: number;
      existing: number;
      failed: number;
      externalProvider: number;
    };
    groups: number;
    memberships: number;
    disabled: number;
    signIn: RestoreResult['signIn'];
    clients: number;
    identityProviders: number;
    resourceServers: number;
    usersPath: UsersPath;
    importJobs: {
      jobId: string;
      rows: number;
      imported: number;
      skipped: number;
      failed: number;
    }[];
    /** UserStatus counts in the restored pool (imported: RESET_REQUIRED). */
    statuses: Record<string, number>;
    warnings: string[];
    rates: CategoryReport[];
  };
  comparison: Pick<PoolComparison, 'equal' | 'differenceCount' | 'summary'> & {
    differences: string[];
  };
  durationMs: { seed: number; backup: number; restore: number; compare: number; total: number };
  /** Present when requests were validated: how many, and each violation (no values). */
  requestValidation?: { checked: number; violations: string[] };
}

/** The demo's stand-in for the CloudWatch Logs role (the double checks only its form). */
const DEMO_IMPORT_ROLE = 'arn:aws:iam::123456789012:role/cognito-vault-demo-import-logs';

/**
 * Accepted besides the status an AdminCreateUser restore gives each user: RESET_REQUIRED, what
 * a CSV import job leaves (their number is checked against the imported count). Everything else
 * is compared exactly.
 */
const RESTORED_STATUSES = ['RESET_REQUIRED'];

/** The secret the seeded Google IdP uses: what an operator would supply from a secret store. */
const DEMO_IDP_SECRETS = { Google: { client_secret: 'demo-google-secret' } };

async function readSubMap(file: string): Promise<SubMapEntry[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as SubMapEntry);
}

type Testbed = Awaited<ReturnType<typeof loadTestbed>>;
type Emulator = Awaited<ReturnType<Testbed['startEmulator']>>;
type DemoBackup = Awaited<ReturnType<typeof backupPool>>;

/** Milliseconds since the previous call (the first: since it was made). */
function lapTimer(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const ms = Math.round(now - last);
    last = now;
    return ms;
  };
}

/**
 * moto on a free loopback port, behind the CSV import-job double (moto has no import jobs) and
 * optionally the request guard (every request checked against Cognito's API model).
 */
async function startDemoEmulator(
  opts: DemoOptions,
  usersPath: UsersPath,
): Promise<{ testbed: Testbed; emulator: Emulator }> {
  const validate = opts.validateRequests ?? process.env.COGNITO_VAULT_VALIDATE_REQUESTS === '1';
  const testbed = await loadTestbed();
  const emulator = await testbed
    .startEmulator({
      validateRequests: validate,
      ...(usersPath === 'admin-create' ? {} : { importJobs: { jobDelayMs: 10 } }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    })
    .catch((e: unknown) => {
      throw fromTestbedError(e, opts.signal);
    });
  return { testbed, emulator };
}

/** The snapshot restored into a new pool (import jobs through the double, unless admin-create). */
async function restoreDemo(
  gw: CognitoGateway,
  backup: DemoBackup,
  opts: DemoOptions,
  usersPath: UsersPath,
  testbed: Testbed,
  emulator: Emulator,
): Promise<RestoreResult> {
  const reader = await SnapshotReader.open(new LocalDirStorage(backup.snapshot));
  const restored = await restoreSnapshot(gw, reader, {
    target: { createPool: 'demo-restored' },
    stateDir: path.join(opts.dir, 'restore', backup.manifest.snapshotId),
    idpSecrets: DEMO_IDP_SECRETS,
    usersPath,
    ...(usersPath === 'admin-create'
      ? {}
      : {
          importLogsRoleArn: DEMO_IMPORT_ROLE,
          importLogs: cloudWatchLogReader({
            region: 'us-east-1',
            endpointUrl: emulator.motoEndpoint,
            credentials: testbed.credentials,
          }),
          importPollMs: { min: 50, max: 500 },
        }),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: opts.onProgress ?? noProgress,
  });
  if (restored.dryRun) throw new InternalError('the demo restore returned a plan');
  return restored;
}

/** UserStatus counts of a pool. */
async function statusCounts(
  gw: CognitoGateway,
  userPoolId: string,
): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  const users = gw.pages(paginateListUsers, { UserPoolId: userPoolId });
  for await (const u of items(users, 'Users')) {
    const st = u.UserStatus ?? 'UNKNOWN';
    statuses[st] = (statuses[st] ?? 0) + 1;
  }
  return statuses;
}

/** Every imported user is RESET_REQUIRED, and the pools compare equal; else DEMO_MISMATCH. */
function checkDemo(
  statuses: Record<string, number>,
  restored: RestoreResult,
  comparison: PoolComparison,
): void {
  if ((statuses.RESET_REQUIRED ?? 0) < restored.users.imported) {
    throw new VaultError(
      'DEMO_MISMATCH',
      `${restored.users.imported} users were imported but only ${statuses.RESET_REQUIRED ?? 0} are RESET_REQUIRED`,
      ExitCode.Unexpected,
    );
  }
  if (!comparison.equal) {
    throw new VaultError(
      'DEMO_MISMATCH',
      `the restored pool differs from the source in ${comparison.differenceCount} places (first: ${comparison.differences[0]?.message ?? '?'})`,
      ExitCode.Unexpected,
      { differences: comparison.differenceCount },
    );
  }
}

/** The demo's result: what was seeded, backed up, restored and compared (no values). */
function demoResult(
  emulator: Emulator,
  seeded: SeedResult,
  backup: DemoBackup,
  restored: RestoreResult,
  usersPath: UsersPath,
  statuses: Record<string, number>,
  comparison: PoolComparison,
  durationMs: DemoResult['durationMs'],
): DemoResult {
  return {
    emulator: emulator.endpoint,
    sourceUserPoolId: seeded.userPoolId,
    restoredUserPoolId: restored.userPoolId,
    seeded,
    snapshot: backup.snapshot,
    subMap: restored.subMap,
    clientMap: restored.clientMap,
    backup: backupSummary(backup),
    restore: {
      users: restored.users,
      groups: restored.groups,
      memberships: restored.memberships,
      disabled: restored.disabled,
      signIn: restored.signIn,
      clients: restored.clients,
      identityProviders: restored.identityProviders,
      resourceServers: restored.resourceServers,
      usersPath,
      importJobs: restored.importJobs.map((j) => ({
        jobId: j.jobId,
        rows: j.rows,
        imported: j.imported,
        skipped: j.skipped,
        failed: j.failed,
      })),
      statuses,
      warnings: restored.warnings.map((w) => w.message),
      rates: restored.rates,
    },
    comparison: {
      equal: comparison.equal,
      differenceCount: comparison.differenceCount,
      summary: comparison.summary,
      differences: comparison.differences.slice(0, 20).map((d) => d.message),
    },
    ...(emulator.requestCheck
      ? {
          requestValidation: {
            checked: emulator.requestCheck.checked(),
            violations: emulator.requestCheck.violationMessages(),
          },
        }
      : {}),
    durationMs,
  };
}

/**
 * The whole round trip on a local emulator: start moto on a free loopback port, seed a
 * realistic pool, back it up, restore it into a new pool, compare both pools by API, stop moto.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const progress = opts.onProgress ?? noProgress;
  const t0 = performance.now();
  const lap = lapTimer();

  progress({ type: 'phase', phase: 'emulator', detail: 'starting moto_server on loopback' });
  const usersPath = opts.usersPath ?? 'auto';
  const { testbed, emulator } = await startDemoEmulator(opts, usersPath);
  const settings = {
    region: 'us-east-1',
    endpointUrl: emulator.endpoint,
    credentials: testbed.credentials,
  };
  // Every phase, seeding included, stops at SIGINT/SIGTERM.
  const seeder = CognitoGateway.create(settings, {
    rate: { unlimited: true },
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const gw = CognitoGateway.create(settings, {
    rate: opts.rate ?? { unlimited: true },
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  try {
    lap();
    progress({
      type: 'phase',
      phase: 'seed',
      detail: `${opts.users} users, ${opts.groups} groups`,
    });
    const seeded = await testbed.seedPool(seeder, {
      poolName: 'demo-source',
      users: opts.users,
      groups: opts.groups,
    });
    const seedMs = lap();

    const backup = await backupPool(gw, new LocalDirStorage(path.join(opts.dir, 'backups')), {
      userPoolId: seeded.userPoolId,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: progress,
    });
    const backupMs = lap();

    const restored = await restoreDemo(gw, backup, opts, usersPath, testbed, emulator);
    const statuses = await statusCounts(seeder, restored.userPoolId);
    const restoreMs = lap();

    progress({ type: 'phase', phase: 'compare', detail: 'reading both pools by API' });
    const comparison = await comparePools(seeder, seeded.userPoolId, seeder, restored.userPoolId, {
      subMap: await readSubMap(restored.subMap),
      userStatus: 'restored',
      restoredStatuses: RESTORED_STATUSES,
    });
    const compareMs = lap();
    checkDemo(statuses, restored, comparison);
    return demoResult(emulator, seeded, backup, restored, usersPath, statuses, comparison, {
      seed: seedMs,
      backup: backupMs,
      restore: restoreMs,
      compare: compareMs,
      total: Math.round(performance.now() - t0),
    });
  } finally {
    seeder.destroy();
    gw.destroy();
    await emulator.stop();
  }
}
