import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode, InterruptedError, UsageError } from '../core/errors.js';
import { noProgress, type ProgressEvent } from '../core/progress.js';
import type { CognitoGateway } from '../cognito/gateway.js';
import { QUOTA_CATEGORIES, type QuotaCategory } from '../cognito/quotas.js';
import { compareSides, poolSide, readSubMapFile, snapshotSide } from '../compare/index.js';
import { restoreSnapshot, type RestoreResult } from '../restore/index.js';
import { readDocuments, type SnapshotReader, underReadLease } from '../snapshot/index.js';
import { runGuarded, startHeartbeat } from './lifecycle.js';
import {
  assertPoolRoom,
  cleanupDrillPools,
  DEFAULT_POOL_LIMIT,
  drillPoolName,
  drillTags,
  listAccountPools,
} from './pools.js';
import { placeholderSecrets } from './placeholders.js';
import { checkRecovery } from './recovery.js';
import { estimateRto } from './rto.js';
import { drawSample } from './sample.js';
import type { DrillCheck, DrillDifference, DrillOptions, DrillResult, UsersPath } from './types.js';
import { scratchSide, scratchView } from './view.js';

export const DEFAULT_SEED = 'cognito-vault';

/** 0 when every check passed; 9 when the scratch pool differs or users cannot recover; 6 when
 * the restore itself left users or resources behind; 1 when the scratch pool could not be
 * deleted. */
export function drillExitCode(r: DrillResult): number {
  const failed = new Set(r.checks.filter((c) => !c.passed).map((c) => c.name));
  if (failed.has('cleanup')) return ExitCode.Unexpected;
  if (failed.has('restore')) return ExitCode.PartialRestore;
  if (failed.has('compare') || failed.has('recovery')) return ExitCode.Differs;
  return ExitCode.Ok;
}

type Sample = Awaited<ReturnType<typeof drawSample>>;

/** What the steps inside the scratch pool's guard share. */
interface ScratchRun {
  /** The gateway bound to the drill's abort signal. */
  run: CognitoGateway;
  view: SnapshotReader;
  dir: string;
  signal: AbortSignal;
  options: DrillOptions;
  usersPath: UsersPath;
  idpSecrets: Record<string, Record<string, string>>;
  sample: Sample;
  memberships: { total: number; sampled: number };
  /** When each restore phase began (performance.now()). */
  phaseAt: Map<string, number>;
  relay: (e: ProgressEvent) => void;
  progress: (e: ProgressEvent) => void;
  result: DrillResult;
  checks: DrillCheck[];
  warnings: string[];
}

/** The drill's result before anything ran (every count 0, passed false). */
function newDrillResult(
  reader: SnapshotReader,
  o: {
    drillId: string;
    name: string;
    options: DrillOptions;
    seed: string;
    sample: Sample;
    usersPath: UsersPath;
    checks: DrillCheck[];
    plannedCost: DrillResult['plannedCost'];
    stale: DrillResult['cleanup']['stale'];
    warnings: string[];
  },
): DrillResult {
  return {
    drillId: o.drillId,
    passed: false,
    snapshot: reader.location,
    snapshotId: reader.manifest.snapshotId,
    sourceUserPoolId: reader.manifest.userPool.id,
    scratchPoolName: o.name,
    sample: {
      size: o.options.sample,
      seed: o.seed,
      users: o.sample.sampled.users,
      of: o.sample.counts.users,
    },
    usersPath: o.usersPath,
    checks: o.checks,
    counts: {
      users: { restored: 0, created: 0, imported: 0, failed: 0, externalProvider: 0 },
      groups: 0,
      memberships: 0,
      clients: 0,
      identityProviders: 0,
      resourceServers: 0,
      resourceFailures: 0,
    },
    differences: { total: 0, listed: [] },
    plannedCost: o.plannedCost,
    cost: { usersWritten: 0, mauBilled: 0 },
    cleanup: { scratchDeleted: false, stale: o.stale },
    durationMs: 0,
    warnings: o.warnings,
  };
}

/** Step 4: the restore into the scratch pool (restore engine); its counts, cost and check. */
async function restoreScratch(
  s: ScratchRun,
  name: string,
  onPool: (id: string) => void,
): Promise<RestoreResult> {
  const { options, result, warnings } = s;
  const outcome = await restoreSnapshot(s.run, s.view, {
    target: { createPool: name },
    stateDir: path.join(s.dir, 'restore'),
    usersPath: s.usersPath,
    idpSecrets: s.idpSecrets,
    ...(options.importLogsRoleArn ? { importLogsRoleArn: options.importLogsRoleArn } : {}),
    ...(options.importLogs ? { importLogs: options.importLogs } : {}),
    ...options.restoreOverrides,
    signal: s.signal,
    onProgress: s.relay,
  });
  if (outcome.dryRun) throw new Error('the restore answered with a plan');
  onPool(outcome.userPoolId);
  result.scratchPoolId = outcome.userPoolId;
  const u = outcome.users;
  result.counts = {
    users: {
      restored: u.created + u.imported + (u.federatedPrecreated ?? 0),
      created: u.created,
      imported: u.imported,
      failed: u.failed,
      externalProvider: u.externalProvider,
    },
    groups: outcome.groups,
    memberships: outcome.memberships,
    clients: outcome.clients,
    identityProviders: outcome.identityProviders,
    resourceServers: outcome.resourceServers,
    resourceFailures: outcome.resourceFailures.length,
  };
  s.memberships.sampled = outcome.memberships;
  result.cost = { usersWritten: u.created + u.imported, mauBilled: u.created };
  for (const w of outcome.warnings) warnings.push(w.message);
  const restoreOk = outcome.failedUsers.length === 0 && outcome.resourceFailures.length === 0;
  s.checks.push({
    name: 'restore',
    passed: restoreOk,
    detail: restoreOk
      ? `${result.counts.users.restored} users, ${outcome.groups} groups, ${outcome.clients} app clients restored`
      : `${outcome.failedUsers.length} user operation(s) and ${outcome.resourceFailures.length} resource(s) failed`,
  });
  return outcome;
}

/** Step 5: the scratch pool against the snapshot (compare engine, the same lens on both sides). */
async function compareScratch(s: ScratchRun, outcome: RestoreResult): Promise<void> {
  s.progress({
    type: 'phase',
    phase: 'drill',
    detail: 'comparing the scratch pool with the snapshot',
  });
  const users = s.sample.sampled.users;
  const cmp = await compareSides(
    scratchSide(snapshotSide(s.view, 'the snapshot'), users),
    scratchSide(poolSide(s.run, outcome.userPoolId, 'the scratch pool'), users),
    {
      userStatus: 'restored',
      restoredStatuses: ['RESET_REQUIRED'],
      subMap: await readSubMapFile(outcome.subMap),
      tempDir: s.dir,
      signal: s.signal,
    },
  );
  s.result.differences = {
    total: cmp.differenceCount,
    listed: cmp.differences.slice(0, 100).map((d): DrillDifference => ({
      kind: d.kind,
      ...(d.field ? { field: d.field } : {}),
      ...(d.class ? { class: d.class } : {}),
      ...(d.only ? { only: d.only } : {}),
      // Usernames and emails are personal data: only configuration names are listed.
      ...(d.kind !== 'user' && d.kind !== 'membership' && d.kind !== 'subMap'
        ? { key: d.key }
        : {}),
    })),
  };
  s.checks.push({
    name: 'compare',
    passed: cmp.equal,
    detail: cmp.equal
      ? `equal: ${cmp.summary.users.matched} users, ${cmp.summary.groups.b} groups, ${cmp.summary.memberships.b} memberships`
      : `${cmp.differenceCount} difference(s)`,
  });
}

/** Step 6: every restored user's way back in. */
async function recoveryScratch(s: ScratchRun, outcome: RestoreResult): Promise<void> {
  s.progress({
    type: 'phase',
    phase: 'drill',
    detail: 'checking that restored users can recover',
  });
  const recovery = await checkRecovery(s.run, outcome.userPoolId);
  s.result.recovery = recovery;
  s.checks.push({
    name: 'recovery',
    passed: recovery.passed,
    detail: recovery.passed
      ? `${recovery.canRecover} can reset their password, ${recovery.noVerifiedContact} need an administrator (no verified contact)`
      : `${recovery.lockedOut} user(s) with a verified contact cannot recover`,
  });
}

/** Step 7: the RTO estimate, from the restore's own phases and rates. */
function rtoOfScratch(s: ScratchRun, outcome: RestoreResult, tRestore: number): DrillResult['rto'] {
  const at = (k: string): number | undefined => s.phaseAt.get(k);
  const usersStart =
    at('users-written') ?? at('users') ?? at('import-files') ?? at('outputs') ?? performance.now();
  const poolStart = at('pool') ?? usersStart;
  const end = tRestore + outcome.durationMs;
  const imported = outcome.importJobs.filter((j) => j.status === 'Succeeded');
  return estimateRto({
    preflightSeconds: (poolStart - tRestore) / 1000,
    setupSeconds: Math.max(0, usersStart - poolStart) / 1000,
    usersSeconds: Math.max(0, end - usersStart) / 1000,
    counts: s.sample.counts,
    sampled: s.sample.sampled,
    memberships: s.memberships,
    rates: outcome.rates,
    created: outcome.users.created,
    imported: outcome.users.imported,
    ...(imported.length
      ? {
          importJobs: {
            jobs: imported.length,
            rows: imported.reduce((a, j) => a + j.rows, 0),
            seconds: importSeconds(s.phaseAt, end),
          },
        }
      : {}),
    ceilings: ceilings(s.run),
  });
}

/** Step 8: the cleanup check from the guard's answer. */
function cleanupCheck(guarded: {
  deleted: boolean;
  poolId?: string;
  deleteError?: string;
}): DrillCheck {
  return {
    name: 'cleanup',
    passed: guarded.deleted || !guarded.poolId,
    detail: guarded.deleted
      ? `scratch pool ${guarded.poolId} deleted`
      : guarded.poolId
        ? `scratch pool ${guarded.poolId} could not be deleted: ${guarded.deleteError ?? 'unknown'}`
        : 'no scratch pool was created',
  };
}

/**
 * A restore drill: the snapshot restored into a scratch pool of this account (drill-tagged,
 * triggers detached, no domain, deletion protection off; every resource and every user or a
 * deterministic sample), compared with the snapshot, each restored user's way back in checked,
 * the rates achieved turned into an RTO estimate — and the scratch pool deleted, whatever
 * happens (success, failure, interruption; after a kill -9 the next drill or cleanup does it).
 *
 * The snapshot is read under a lease (snapshot/read-lease.ts) from start to end.
 *
 * Steps: snapshot check → stale pools and pool room → sample → cost → restore (restoreScratch,
 * heartbeat running) → compare (compareScratch) → recovery (recoveryScratch) → RTO
 * (rtoOfScratch) → delete (cleanupCheck).
 */
export async function runDrill(
  gw: CognitoGateway,
  reader: SnapshotReader,
  options: DrillOptions = {},
): Promise<DrillResult> {
  // The whole drill under a read lease on the snapshot (a concurrent prune leaves it alone while
  // it is verified, sampled, restored and compared; the CLI and the Lambda take none of their own).
  return underReadLease(reader, 'restore', options.onProgress ?? noProgress, () =>
    drillUnderLease(gw, reader, options),
  );
}

async function drillUnderLease(
  gw: CognitoGateway,
  reader: SnapshotReader,
  options: DrillOptions,
): Promise<DrillResult> {
  const t0 = performance.now();
  const now = options.now ?? (() => new Date());
  const progress = options.onProgress ?? noProgress;
  const seed = options.seed ?? DEFAULT_SEED;
  const usersPath: UsersPath = options.usersPath ?? 'auto';
  if (options.sample !== undefined && !(Number.isInteger(options.sample) && options.sample > 0))
    throw new UsageError(
      'BAD_FLAG',
      `sample expects a positive whole number of users, got ${options.sample}`,
      {
        option: 'sample',
      },
    );
  const drillId = options.drillId ?? randomBytes(6).toString('hex');
  const name = drillPoolName(drillId);
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onOuterAbort = (): void => controller.abort(new InterruptedError());
  if (options.signal?.aborted) throw new InterruptedError();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const run = gw.withSignal(controller.signal);
  const warnings: string[] = [];
  const checks: DrillCheck[] = [];
  let work: string | undefined;

  try {
    // 1. The snapshot, whole: every file against the manifest (exit 3 before anything exists).
    progress({ type: 'phase', phase: 'drill', detail: 'verifying the snapshot' });
    await reader.assertValid();
    checks.push({
      name: 'snapshot',
      passed: true,
      detail: `${reader.manifest.files.length} files verified`,
    });

    // 2. What killed drills left behind, then room for one more pool.
    progress({ type: 'phase', phase: 'drill', detail: 'cleaning up stale drill pools' });
    const stale = await cleanupDrillPools(run, { now });
    const { total } = await listAccountPools(run);
    assertPoolRoom(total, options.poolLimit ?? DEFAULT_POOL_LIMIT);

    // 3. The sample (one pass over the users) and what the drill costs.
    const sample = await drawSample(reader, options.sample, seed);
    const nativeSampled = sample.sampled.users - sample.sampled.externalProvider;
    const plannedCost = {
      usersWritten: nativeSampled,
      mauBilled: usersPath === 'import-job' ? 0 : nativeSampled,
    };
    progress({
      type: 'phase',
      phase: 'drill-cost',
      detail:
        `writes ${plannedCost.usersWritten} users into scratch pool ${name}; ` +
        (usersPath === 'import-job'
          ? 'import jobs bill no monthly active users'
          : `up to ${plannedCost.mauBilled} billed as monthly active users of the scratch pool (AdminCreateUser; users an import job takes add none)`),
    });

    const idps = placeholderSecrets((await readDocuments(reader)).identityProviders);
    if (idps.providers.length)
      warnings.push(
        `identity provider(s) ${idps.providers.join(', ')} restored with placeholder secrets (the snapshot holds none): their configuration is tested, sign-in through them is not`,
      );
    const memberships = { total: reader.manifest.counts.memberships, sampled: 0 };
    const tags = drillTags(drillId, now());
    const view = scratchView(reader, { tags, usernames: sample.usernames });
    const dir = options.workDir ?? (await mkdtemp(path.join(tmpdir(), 'cognito-vault-drill-')));
    if (!options.workDir) work = dir;
    await chmod(dir, 0o700);

    const result = newDrillResult(reader, {
      drillId,
      name,
      options,
      seed,
      sample,
      usersPath,
      checks,
      plannedCost,
      stale,
      warnings,
    });

    // 4–7. Restore, compare, recover: inside the guard that always deletes the scratch pool.
    const phaseAt = new Map<string, number>();
    const relay = (e: ProgressEvent): void => {
      const key = e.type === 'phase' ? e.phase : e.type === 'users' ? 'users-written' : undefined;
      if (key && !phaseAt.has(key)) phaseAt.set(key, performance.now());
      if (e.type === 'memberships') memberships.sampled = Math.max(memberships.sampled, e.done);
      progress(e);
    };
    const heartbeat = startHeartbeat(gw, drillId, {
      now,
      everyMs: options.heartbeatMs,
      onPool: (id) => {
        result.scratchPoolId = id;
        options.onScratchPool?.(id);
      },
      onError: (msg) => warnings.push(msg),
    });
    const scratch: ScratchRun = {
      run,
      view,
      dir,
      signal: controller.signal,
      options,
      usersPath,
      idpSecrets: idps.secrets,
      sample,
      memberships,
      phaseAt,
      relay,
      progress,
      result,
      checks,
      warnings,
    };
    const guarded = await runGuarded(gw, drillId, heartbeat, async () => {
      const tRestore = performance.now();
      const outcome = await restoreScratch(scratch, name, (id) => heartbeat.known(id));
      await compareScratch(scratch, outcome);
      await recoveryScratch(scratch, outcome);
      result.rto = rtoOfScratch(scratch, outcome, tRestore);
    });
    result.cleanup.scratchDeleted = guarded.deleted;
    if (guarded.poolId) result.scratchPoolId = guarded.poolId;
    checks.push(cleanupCheck(guarded));
    if (guarded.error) throw guarded.error;
    result.passed = checks.every((c) => c.passed);
    result.durationMs = Math.round(performance.now() - t0);
    return result;
  } catch (e) {
    if (options.signal?.aborted)
      throw new InterruptedError('drill interrupted; the scratch pool was deleted');
    throw e;
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    // The journal, sub map and report hold usernames: nothing of them outlives the drill.
    if (work) await rm(work, { recursive: true, force: true });
  }
}

/** Seconds the import jobs ran: from the first import-job event to the users' follow-ups. */
function importSeconds(phaseAt: Map<string, number>, end: number): number {
  const start = phaseAt.get('import-job');
  const after = phaseAt.get('import-map') ?? end;
  return start === undefined ? 0 : Math.max(0, after - start) / 1000;
}

function ceilings(gw: CognitoGateway): Partial<Record<QuotaCategory, number>> {
  const out: Partial<Record<QuotaCategory, number>> = {};
  for (const c of Object.keys(QUOTA_CATEGORIES) as QuotaCategory[]) out[c] = gw.rate.ceilingOf(c);
  return out;
}
