import { setMaxListeners } from 'node:events';
import type {
  GroupType,
  IdentityProviderType,
  ManagedLoginBrandingType,
  ResourceServerType,
  UserPoolClientType,
  UserPoolType,
  UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { z } from 'zod';
import {
  CognitoError,
  InterruptedError,
  ServiceUnavailableError,
  SnapshotInvalidError,
  UsageError,
  VaultError,
} from '../core/errors.js';
import { noProgress, type ProgressListener } from '../core/progress.js';
import { TOOL_NAME, TOOL_VERSION } from '../core/version.js';
import { isExpiredPaginationToken, rootAwsName } from '../cognito/errors.js';
import {
  DescribeIdentityProviderCommand,
  DescribeManagedLoginBrandingByClientCommand,
  DescribeRiskConfigurationCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  DescribeUserPoolDomainCommand,
  GetLogDeliveryConfigurationCommand,
  GetUICustomizationCommand,
  GetUserPoolMfaConfigCommand,
  ListTagsForResourceCommand,
  ListUserPoolClientSecretsCommand,
  paginateListGroups,
  paginateListIdentityProviders,
  paginateListResourceServers,
  paginateListUserPoolClients,
  paginateListUserPools,
  paginateListUsers,
  paginateListUsersInGroup,
} from '@aws-sdk/client-cognito-identity-provider';
import { type CallOptions, type CognitoGateway, items, resolveRegion } from '../cognito/gateway.js';
import type { CategoryReport } from '../cognito/rate.js';
import {
  type Counts,
  type FileEntry,
  FILES,
  type Manifest,
  MembershipRecord,
  newSnapshotId,
  PART_DIRS,
  partPath,
  brandingJson,
  type ClientRecord,
  type GroupRecord,
  type Json,
  type ManagedLoginBrandingRecord,
  type ClientUICustomizationRecord,
  type PoolDocument,
  REDACTED,
  type UICustomizationRecord,
  type UserRecord,
  type Warning,
} from '../snapshot/format.js';
import { acquireLease, type HeldLease } from '../snapshot/lease.js';
import { redactPaths, SECRET_PATHS } from '../snapshot/redaction.js';
import { AgeRecipients } from '../snapshot/age.js';
import {
  MEMBERSHIPS_UNIT,
  PLAN_FILE,
  PROGRESS_DIR,
  PROGRESS_VERSION,
  type ProgressPlan,
  RESOURCES_UNIT,
  unitRecordPath,
  type UnitRecord,
  usersUnit,
  writePlan,
  writeUnitRecord,
} from '../snapshot/progress.js';
import { SnapshotWriter } from '../snapshot/writer.js';
import { openForResume } from './resume.js';
import { UserMfaReader, type UserMfaSettings } from './user-mfa.js';
import type { Storage } from '../storage/storage.js';
import { opt } from '../core/options.js';

export interface BackupOptions {
  userPoolId: string;
  /** Region the caller expects (from --region); must match the pool id's region. */
  region?: string;
  /** Keep client secrets and IdP secrets in the snapshot (default: replaced by a marker). */
  includeSecrets?: boolean;
  /**
   * age X25519 recipients (`age1…`, `backup --encrypt-to`): every data file of the snapshot is
   * encrypted to them before it leaves the process; the manifest stays clear (format version 2).
   */
  encryptTo?: readonly string[];
  /** ListUsers shards by sub prefix: 1 (one chain), 16 or 256; default by pool size. */
  shards?: 1 | 16 | 256;
  /**
   * Read each user's MFA settings with AdminGetUser (ListUsers does not return them). Each
   * AdminGetUser counts the user as a monthly active user (MAU) for billing that month.
   */
  userMfa?: boolean;
  /** Parallel ListUsersInGroup chains. */
  membershipWorkers?: number;
  /**
   * The id of an incomplete snapshot of this pool to finish instead of starting a new one
   * (`backup --resume`): only its unfinished units run. Its options (secrets, user MFA,
   * shards) are kept; giving different ones is a UsageError.
   */
  resume?: string;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  now?: () => Date;
  /** Downloads the hosted UI logo (default: an HTTPS GET, see downloadUiImage). Tests stub it. */
  fetchImage?: (url: string, signal: AbortSignal) => Promise<Uint8Array>;
}

/** SetUICustomization's ImageFile limit: the logo must fit to be restorable. */
export const UI_IMAGE_MAX_BYTES = 131_072;

/**
 * GETs the hosted UI logo GetUICustomization points at (ImageUrl): HTTPS only, at most
 * UI_IMAGE_MAX_BYTES (read no further), 15 s.
 */
export async function downloadUiImage(url: string, signal: AbortSignal): Promise<Uint8Array> {
  const u = new URL(url);
  if (u.protocol !== 'https:') throw new Error(`not an https URL (${u.protocol})`);
  const res = await fetch(u, { signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]) });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > UI_IMAGE_MAX_BYTES) {
      await res.body.cancel().catch(() => undefined);
      throw new Error(`larger than ${UI_IMAGE_MAX_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export interface BackupResult {
  /** Where the snapshot is (a path or s3:// URL). */
  snapshot: string;
  snapshotId: string;
  userPoolId: string;
  userPoolName: string;
  users: number;
  groups: number;
  memberships: number;
  clients: number;
  identityProviders: number;
  resourceServers: number;
  durationMs: number;
  /** backup --user-mfa: AdminGetUser calls made (each one a billed MAU this month). */
  userMfa?: UserMfaSummary;
  /** backup --encrypt-to: the age recipients every data file was encrypted to. */
  encryptedTo?: string[];
  /** Present when this run finished a snapshot earlier runs had started (backup --resume). */
  resumed?: { count: number; unitsKept: number };
  warnings: Warning[];
  rates: CategoryReport[];
  manifest: Manifest;
}

export interface UserMfaSummary {
  /** AdminGetUser calls: each user read this way is a billed monthly active user. */
  usersRead: number;
  billedAsMau: number;
  /** Users with at least one MFA factor activated, by factor. */
  factors: Record<string, number>;
  /** Users gone between ListUsers and AdminGetUser (captured without MFA settings). */
  vanished: number;
}

/** ListUsers chains open at once (see captureUsers). */
export const MAX_OPEN_SHARDS = 16;

/** Times one ListUsers part is listed again after its pagination token expired. */
export const MAX_CHAIN_RESTARTS = 2;

export type BackupSummary = Omit<BackupResult, 'manifest' | 'userPoolName'>;

/** The result without the manifest: what the CLI's --json and the Lambda report. */
export function backupSummary(r: BackupResult): BackupSummary {
  const { manifest: _manifest, userPoolName: _name, ...rest } = r;
  return rest;
}

const SECRET_KEYS = /secret|private_?key|password/i;

/** Replaces secret values of an identity provider's ProviderDetails with the marker. */
export function redactProviderDetails(
  details: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!details) return details;
  return Object.fromEntries(
    Object.entries(details).map(([k, v]) => [k, SECRET_KEYS.test(k) ? REDACTED : v]),
  );
}

function hexPrefixes(n: 1 | 16 | 256): string[] {
  if (n === 1) return [''];
  const hex = '0123456789abcdef'.split('');
  return n === 16 ? hex : hex.flatMap((a) => hex.map((b) => a + b));
}

/** A user record as stored: ListUsers' UserType, dates as ISO strings. */
function userRecord(u: UserType, mfa?: Map<string, UserMfaSettings>): Json<UserRecord> {
  const m = u.Username ? mfa?.get(u.Username) : undefined;
  if (m && u.Username) mfa?.delete(u.Username);
  return {
    Username: u.Username ?? '',
    Attributes: (u.Attributes ?? []).map((a) => ({ ...a, Name: a.Name ?? '' })),
    UserCreateDate: u.UserCreateDate?.toISOString(),
    UserLastModifiedDate: u.UserLastModifiedDate?.toISOString(),
    Enabled: u.Enabled,
    UserStatus: u.UserStatus,
    MFAOptions: u.MFAOptions ?? [],
    ...(m
      ? { UserMFASettingList: m.list, ...(m.preferred ? { PreferredMfaSetting: m.preferred } : {}) }
      : {}),
  };
}

/**
 * Captures a whole user pool into a new snapshot under `root/<userPoolId>/<snapshotId>/`:
 * settings, MFA config, domain, app clients, identity providers, resource servers, groups,
 * every user (sharded ListUsers, streamed) and every membership. Writes the manifest last.
 *
 * While it runs, each finished unit (a users shard, the resource documents, the memberships) is
 * recorded under `progress/` once its files are durable; with `resume` (an incomplete
 * snapshot's id) only the units without a valid record run (see src/backup/resume.ts). Stopped
 * by `signal`, it throws InterruptedError with `{ snapshotId }` in its context and leaves the
 * records for a later resume.
 */
export async function backupPool(
  gateway: CognitoGateway,
  root: Storage,
  opts: BackupOptions,
): Promise<BackupResult> {
  const clock = opts.now ?? (() => new Date());
  const runStarted = clock();
  const t0 = performance.now();
  const progress = opts.onProgress ?? noProgress;
  const poolId = opts.userPoolId;
  const region = resolveRegion(poolId, opts.region);
  const warnings: Warning[] = [];
  const warn = (w: Warning): void => {
    warnings.push(w);
    progress({ type: 'warning', code: w.code, message: w.message });
  };
  /** A warn that also keeps the unit's own warnings, for its completion record. */
  const unitWarn =
    (list: Warning[]) =>
    (w: Warning): void => {
      list.push(w);
      warn(w);
    };

  // One controller for the whole run: a failure in any shard stops the others.
  const run = new AbortController();
  setMaxListeners(0, run.signal);
  const onOuterAbort = (): void => run.abort(new InterruptedError());
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (opts.signal?.aborted) throw new InterruptedError();
  // This run's view of the gateway: every call carries this run's signal, whatever other runs
  // share the client.
  const gw = gateway.withSignal(run.signal);
  let lease: HeldLease | undefined;
  let snapshotId: string | undefined;

  try {
    progress({ type: 'phase', phase: 'pool' });
    const pool = await describePool(gw, poolId, region);
    let plan: ProgressPlan;
    let kept = new Map<string, UnitRecord>();
    if (opts.resume !== undefined) {
      // Named from here on if interrupted: a refused or stopped resume leaves it resumable.
      snapshotId = opts.resume;
      // Leases are judged by the real clock (`now` only names and dates the snapshot).
      const state = await openForResume(root, poolId, opts.resume);
      lease = state.lease;
      plan = state.plan;
      kept = state.kept;
      // Encrypted: groups.json cannot be read back without a key, so memberships still to be
      // listed take their groups from resources captured again (its record goes first).
      if (
        state.plan.options.encryptTo?.length &&
        kept.has(RESOURCES_UNIT) &&
        !kept.has(MEMBERSHIPS_UNIT)
      ) {
        kept.delete(RESOURCES_UNIT);
        state.redone++;
        await writer0(root, poolId, opts.resume).delete(unitRecordPath(RESOURCES_UNIT));
      }
      const o = plan.options;
      const differs = [
        opts.includeSecrets !== undefined && opts.includeSecrets !== o.includeSecrets
          ? opt('includeSecrets')
          : '',
        opts.userMfa !== undefined && opts.userMfa !== Boolean(o.userMfa) ? opt('userMfa') : '',
        opts.shards !== undefined && opts.shards !== o.requestedShards ? opt('shards') : '',
        opts.encryptTo !== undefined &&
        [...opts.encryptTo].sort().join() !== [...(o.encryptTo ?? [])].sort().join()
          ? opt('encryptTo')
          : '',
      ].filter(Boolean);
      if (differs.length > 0) {
        throw new UsageError(
          'RESUME_OPTIONS_DIFFER',
          `snapshot ${plan.snapshotId} was started with other options (${differs.join(', ')}); a resume keeps the options it started with — leave them out or give the same ones`,
          { snapshotId: plan.snapshotId },
        );
      }
      plan.resumes.push({
        at: runStarted.toISOString(),
        unitsKept: kept.size,
        unitsRedone: state.redone,
      });
    } else {
      const id = newSnapshotId(runStarted);
      const estimatedAtStart = pool.EstimatedNumberOfUsers;
      plan = {
        progressVersion: PROGRESS_VERSION,
        tool: { name: TOOL_NAME, version: TOOL_VERSION },
        snapshotId: id,
        userPoolId: poolId,
        startedAt: runStarted.toISOString(),
        options: {
          includeSecrets: Boolean(opts.includeSecrets),
          ...(opts.userMfa ? { userMfa: true } : {}),
          ...(opts.encryptTo?.length ? { encryptTo: [...opts.encryptTo] } : {}),
          requestedShards:
            opts.shards ??
            (estimatedAtStart !== undefined && estimatedAtStart > 2_000_000 ? 256 : 16),
        },
        warnings: [],
        resumes: [],
      };
    }
    snapshotId = plan.snapshotId;
    const includeSecrets = plan.options.includeSecrets;
    const userMfa = Boolean(plan.options.userMfa);
    const recipients = plan.options.encryptTo;
    const writer = new SnapshotWriter(
      root.child(`${poolId}/${snapshotId}`),
      run.signal,
      recipients?.length ? new AgeRecipients(recipients) : undefined,
    );
    const snap = writer.storage;
    // A lease on the snapshot being written, refreshed while the backup runs: prune leaves a
    // snapshot with a live lease alone, however long the backup takes.
    lease ??= await acquireLease(snap, 'backup');
    await writePlan(snap, plan);
    progress({ type: 'phase', phase: 'snapshot', detail: snapshotId });
    /** A new part name for each resume, so an unrecorded part of an earlier run never mixes in. */
    const partSuffix = plan.resumes.length > 0 ? `-r${plan.resumes.length}` : '';
    const record = async (
      unit: string,
      files: FileEntry[],
      counts: Record<string, number>,
      unitWarnings: Warning[],
      extra: { prefix?: string } = {},
    ): Promise<void> => {
      // After the files' puts resolved (durable); not tied to the run's signal: a finished unit
      // is worth recording even while the run is being stopped.
      await writeUnitRecord(snap, {
        progressVersion: PROGRESS_VERSION,
        unit,
        completedAt: new Date().toISOString(),
        files,
        counts,
        warnings: unitWarnings,
        ...extra,
      });
    };
    const adopt = (r: UnitRecord): void => {
      for (const f of r.files) writer.adopt(f);
      warnings.push(...r.warnings);
    };

    // Users need nothing but the pool, so they are listed while the settings, groups and
    // memberships are captured: those use other quota categories (memberships share UserList),
    // and the UserList quota is busy from the start instead of after a dozen sequential calls.
    const estimated = pool.EstimatedNumberOfUsers;
    const requested = plan.options.requestedShards;
    let shards: 1 | 16 | 256 = plan.options.sharding?.shards ?? 1;

    let usersListed = 0;
    const mfa = userMfa ? new UserMfaReader(gw, poolId, run.signal) : undefined;
    const userShard = async function* (
      filterPrefix: string,
      started: ProbedShard | undefined,
      chain: { listed: number },
    ): AsyncGenerator<Json<UserRecord>> {
      const filter = filterPrefix ? `sub ^= "${filterPrefix}"` : undefined;
      // Shards run in the background: a group's member pages (one sequential chain
      // each) must not queue behind sixteen shards in the UserList schedule.
      const pages = started
        ? continueShard(started)
        : usersPages(gw, poolId, filter, { background: shards > 1 });
      for await (const page of pages) {
        if (mfa) await mfa.readPage(page);
        for (const u of page) yield userRecord(u, mfa?.settings);
        usersListed += page.length;
        chain.listed += page.length;
        progress({
          type: 'users',
          done: usersListed,
          ...(estimated !== undefined ? { total: estimated } : {}),
        });
      }
    };

    /**
     * One ListUsers chain into one part file. If Cognito refuses the chain's pagination token
     * (it expires them after one hour: a chain slowed by throttling, or the single chain of a
     * large pool when sharding is refused), the part is written again from a new chain — one
     * chain writes one part, so nothing is duplicated and nothing held in memory — and the
     * manifest says so. After MAX_CHAIN_RESTARTS restarts the backup fails instead. A shard
     * left unfinished by an interrupted run is listed from its beginning by the resume (tokens
     * are never kept across runs).
     */
    const writeUserPart = async (
      prefix: string,
      index: number,
      started: ProbedShard | undefined,
      warnShard: (w: Warning) => void,
    ): Promise<FileEntry> => {
      for (let restarts = 0; ; restarts++) {
        const chain = { listed: 0 };
        const t0 = performance.now();
        try {
          return await writer.writeJsonLines(
            partPath(PART_DIRS.users, index, partSuffix),
            'users',
            userShard(prefix, restarts === 0 ? started : undefined, chain),
          );
        } catch (e) {
          usersListed -= chain.listed;
          if (!isExpiredPaginationToken(e) || run.signal.aborted) throw e;
          const minutes = Math.round((performance.now() - t0) / 60_000);
          const what = prefix ? `the ListUsers chain of shard "${prefix}"` : 'the ListUsers chain';
          if (restarts >= MAX_CHAIN_RESTARTS) {
            throw new ServiceUnavailableError(
              'PAGINATION_EXPIRED',
              `${what} lost its pagination token ${restarts + 1} times (Cognito expires them after one hour); the backup cannot complete at this rate — raise the UserList rate (${opt('rateShare')}, ${opt('maxRps')} UserList=N) or use more shards`,
              { operation: 'ListUsers', restarts },
              { cause: e },
            );
          }
          warnShard({
            code: 'LISTUSERS_CHAIN_RESTARTED',
            operation: 'ListUsers',
            message: `${what} lost its pagination token after ${minutes} min (Cognito expires them after one hour); that part was listed again from the start`,
          });
        }
      }
    };

    const captureUsers = async (): Promise<void> => {
      progress({ type: 'phase', phase: 'users' });
      let probe: Awaited<ReturnType<typeof probeSharding>> | undefined;
      if (plan.options.sharding) {
        // Decided by the run that started the snapshot: the kept shards' files depend on it.
        warnings.push(...plan.warnings);
      } else {
        const probeWarnings: Warning[] = [];
        probe =
          requested === 1
            ? undefined
            : await probeSharding(gw, poolId, requested, unitWarn(probeWarnings));
        shards = probe?.shards ?? 1;
        plan.options.sharding = { mode: shards === 1 ? 'single' : 'sub-prefix', shards };
        plan.warnings = probeWarnings;
        await writePlan(snap, plan);
      }
      // At most MAX_OPEN_SHARDS chains at a time: enough to keep UserList busy at any round
      // trip, and each chain finishes well inside the 1-hour life of a pagination token even
      // when a pool is split 256 ways (256 concurrent chains would each crawl for hours).
      const todo: (() => Promise<void>)[] = [];
      for (const [i, prefix] of hexPrefixes(shards).entries()) {
        const unit = usersUnit(i);
        const done = kept.get(unit);
        if (done) {
          adopt(done);
          usersListed += done.files.reduce((n, f) => n + f.records, 0);
          continue;
        }
        todo.push(async () => {
          const shardWarnings: Warning[] = [];
          // The probe's first page is shard "0"'s first page: not fetched twice.
          const entry = await writeUserPart(
            prefix,
            i,
            prefix === probe?.started?.prefix ? probe.started : undefined,
            unitWarn(shardWarnings),
          );
          await record(unit, [entry], { users: entry.records }, shardWarnings, { prefix });
        });
      }
      if (kept.size > 0) progress({ type: 'users', done: usersListed });
      await allOrAbort(todo, run, MAX_OPEN_SHARDS);
    };

    const counts = {
      clients: 0,
      identityProviders: 0,
      resourceServers: 0,
      groups: 0,
      memberships: 0,
    };
    let membershipsListed = 0;

    /** The resource documents: pool, clients, branding, IdPs, resource servers, groups. */
    let capturedGroupNames: string[] = [];
    const captureResources = async (resourceWarn: (w: Warning) => void): Promise<FileEntry[]> => {
      const files: FileEntry[] = [];
      const poolDoc = await capturePoolDocument(
        gw,
        pool,
        resourceWarn,
        run.signal,
        opts.fetchImage,
      );
      if (!includeSecrets) redactPaths(poolDoc, SECRET_PATHS.pool);

      progress({ type: 'phase', phase: 'clients' });
      const clients: ClientRecord[] = [];
      for await (const c of items(
        gw.pages(paginateListUserPoolClients, { UserPoolId: poolId }),
        'UserPoolClients',
      )) {
        const { UserPoolClient: full } = await gw.send(
          new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: c.ClientId ?? '' }),
        );
        if (!full) continue;
        if (!includeSecrets) redactPaths(full, SECRET_PATHS.client);
        // With secrets kept: which secrets the client holds (a client may hold two during a
        // rotation; Cognito reveals only the value DescribeUserPoolClient returns), so a
        // restore can say which one comes back.
        if (full.ClientSecret && includeSecrets && full.ClientId) {
          const clientId = full.ClientId;
          const secrets = await bestEffort('ListUserPoolClientSecrets', resourceWarn, () =>
            gw
              .send(
                new ListUserPoolClientSecretsCommand({ UserPoolId: poolId, ClientId: clientId }),
                { transientAttempts: 2 },
              )
              .then((r) => r.ClientSecrets ?? []),
          );
          if (secrets) {
            clients.push({
              ...full,
              ClientId: clientId,
              ClientSecrets: secrets.map((x) => ({
                ClientSecretId: x.ClientSecretId,
                ClientSecretCreateDate: x.ClientSecretCreateDate,
              })),
            });
            continue;
          }
        }
        clients.push({ ...full, ClientId: full.ClientId ?? '' });
      }
      files.push(await writer.writeJson(FILES.clients, 'clients', clients, clients.length));
      counts.clients = clients.length;
      // Per-client UI customization and risk configuration live in pool.json, next to the
      // pool's own: written once the clients are known.
      await captureClientSettings(gw, poolId, clients, poolDoc, {
        warn: resourceWarn,
        // The pool-level read was refused (bestEffort's warning; not a logo download).
        refused: (op) =>
          warnings.some(
            (w) =>
              w.code === 'NOT_CAPTURED' &&
              w.operation === op &&
              w.message.startsWith(`${op} was refused`),
          ),
        signal: run.signal,
        ...(opts.fetchImage ? { fetchImage: opts.fetchImage } : {}),
      });
      files.push(await writer.writeJson(FILES.pool, 'pool', poolDoc, 1));
      const brandings = await captureManagedLoginBranding(gw, poolId, clients, resourceWarn);
      files.push(
        await writer.writeJson(
          FILES.managedLoginBranding,
          'managedLoginBranding',
          brandings,
          brandings.length,
        ),
      );

      progress({ type: 'phase', phase: 'identity-providers' });
      const idps: IdentityProviderType[] = [];
      for await (const p of items(
        gw.pages(paginateListIdentityProviders, { UserPoolId: poolId }),
        'Providers',
      )) {
        const { IdentityProvider: full } = await gw.send(
          new DescribeIdentityProviderCommand({
            UserPoolId: poolId,
            ProviderName: p.ProviderName ?? '',
          }),
        );
        if (!full) continue;
        if (!includeSecrets) full.ProviderDetails = redactProviderDetails(full.ProviderDetails);
        idps.push(full);
      }
      files.push(
        await writer.writeJson(FILES.identityProviders, 'identityProviders', idps, idps.length),
      );
      counts.identityProviders = idps.length;

      progress({ type: 'phase', phase: 'resource-servers' });
      const servers: ResourceServerType[] = [];
      for await (const s of items(
        gw.pages(paginateListResourceServers, { UserPoolId: poolId }),
        'ResourceServers',
      ))
        servers.push(s);
      files.push(
        await writer.writeJson(FILES.resourceServers, 'resourceServers', servers, servers.length),
      );
      counts.resourceServers = servers.length;

      progress({ type: 'phase', phase: 'groups' });
      const groups: GroupType[] = [];
      for await (const g of items(gw.pages(paginateListGroups, { UserPoolId: poolId }), 'Groups'))
        groups.push(g);
      files.push(
        await writer.writeJson(
          FILES.groups,
          'groups',
          groups.map((g): GroupRecord => ({
            GroupName: g.GroupName ?? '',
            Description: g.Description,
            Precedence: g.Precedence,
            RoleArn: g.RoleArn,
            CreationDate: g.CreationDate,
            LastModifiedDate: g.LastModifiedDate,
          })),
          groups.length,
        ),
      );
      counts.groups = groups.length;
      capturedGroupNames = groups.map((g) => g.GroupName ?? '');
      return files;
    };

    /** Every group's members, from `groupNames` (the groups in groups.json). */
    const captureMemberships = async (groupNames: string[]): Promise<FileEntry[]> => {
      let groupsDone = 0;
      let nextGroup = 0;
      const membershipWorker = async function* (): AsyncGenerator<MembershipRecord> {
        while (nextGroup < groupNames.length) {
          const g = groupNames[nextGroup++] ?? '';
          for await (const u of items(
            gw.pages(paginateListUsersInGroup, { UserPoolId: poolId, GroupName: g }),
            'Users',
          )) {
            membershipsListed++;
            yield { group: g, username: u.Username ?? '' };
          }
          groupsDone++;
          progress({
            type: 'memberships',
            done: membershipsListed,
            groupsDone,
            groups: groupNames.length,
          });
        }
      };
      const workers = Math.max(1, Math.min(opts.membershipWorkers ?? 4, groupNames.length));
      const files: FileEntry[] = [];
      if (groupNames.length > 0) {
        await allOrAbort(
          Array.from(
            { length: workers },
            (_, i) => async () =>
              files.push(
                await writer.writeJsonLines(
                  partPath(PART_DIRS.memberships, i, partSuffix),
                  'memberships',
                  membershipWorker(),
                ),
              ),
          ),
          run,
        );
      }
      return files;
    };

    const captureSettings = async (): Promise<void> => {
      let groupNames: string[];
      const keptResources = kept.get(RESOURCES_UNIT);
      if (keptResources) {
        adopt(keptResources);
        Object.assign(counts, keptResources.counts);
        groupNames = kept.has(MEMBERSHIPS_UNIT) ? [] : await recordedGroupNames(snap);
      } else {
        const resourceWarnings: Warning[] = [];
        const files = await captureResources(unitWarn(resourceWarnings));
        const { memberships: _m, ...resourceCounts } = counts;
        await record(RESOURCES_UNIT, files, resourceCounts, resourceWarnings);
        groupNames = capturedGroupNames;
      }
      const keptMemberships = kept.get(MEMBERSHIPS_UNIT);
      if (keptMemberships) {
        adopt(keptMemberships);
        membershipsListed = keptMemberships.files.reduce((n, f) => n + f.records, 0);
        return;
      }
      const files = await captureMemberships(groupNames);
      await record(
        MEMBERSHIPS_UNIT,
        files,
        { memberships: files.reduce((n, f) => n + f.records, 0) },
        [],
      );
    };

    await allOrAbort([captureUsers, captureSettings], run);

    const manifestCounts: Counts = {
      users: usersListed,
      groups: counts.groups,
      memberships: membershipsListed,
      clients: counts.clients,
      identityProviders: counts.identityProviders,
      resourceServers: counts.resourceServers,
    };
    progress({ type: 'phase', phase: 'manifest' });
    const manifest = await writer.commit({
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
      snapshotId,
      userPool: {
        id: poolId,
        name: pool.Name ?? '',
        region,
        ...(pool.Arn ? { arn: pool.Arn } : {}),
        ...(estimated !== undefined ? { estimatedNumberOfUsers: estimated } : {}),
      },
      startedAt: plan.startedAt,
      finishedAt: new Date().toISOString(),
      counts: manifestCounts,
      options: {
        includeSecrets,
        ...(mfa ? { userMfa: true } : {}),
        sharding: { mode: shards === 1 ? 'single' : 'sub-prefix', shards },
      },
      warnings,
      ...(plan.resumes.length > 0 ? { resumes: plan.resumes } : {}),
    });
    // Complete: the records have done their job (a leftover is ignored by every reader).
    await removeProgress(snap);
    return {
      snapshot: writer.location,
      snapshotId,
      userPoolId: poolId,
      userPoolName: pool.Name ?? '',
      ...manifestCounts,
      durationMs: Math.round(performance.now() - t0),
      ...(mfa ? { userMfa: mfa.summary() } : {}),
      ...(manifest.encryption ? { encryptedTo: manifest.encryption.recipients } : {}),
      ...(plan.resumes.length > 0
        ? { resumed: { count: plan.resumes.length, unitsKept: kept.size } }
        : {}),
      warnings,
      rates: gw.rate.report(),
      manifest,
    };
  } catch (e) {
    if (opts.signal?.aborted)
      throw new InterruptedError('interrupted', snapshotId ? { snapshotId } : {});
    throw e;
  } finally {
    await lease?.release();
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** The storage of one snapshot under a backup root. */
function writer0(root: Storage, poolId: string, snapshotId: string): Storage {
  return root.child(`${poolId}/${snapshotId}`);
}

/** The group names of the snapshot's groups.json (memberships are listed for exactly those). */
async function recordedGroupNames(snap: Storage): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of await snap.get(FILES.groups))
    chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  const parsed = z
    .array(z.looseObject({ GroupName: z.string().min(1) }))
    .safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
  if (!parsed.success)
    throw new SnapshotInvalidError(`${snap.location}/${FILES.groups} is not a list of groups`);
  return parsed.data.map((g) => g.GroupName);
}

/** Deletes the completion records of a committed snapshot (best effort). */
async function removeProgress(snap: Storage): Promise<void> {
  try {
    const keys: string[] = [];
    for await (const e of snap.list(PROGRESS_DIR)) keys.push(e.key);
    // The plan last: records without a plan are never taken for a resumable snapshot.
    keys.sort((a, b) => Number(a === PLAN_FILE) - Number(b === PLAN_FILE));
    for (const k of keys) await snap.delete(k);
    await snap.child(PROGRESS_DIR).removeEmptyDirs();
  } catch {
    // Harmless: a complete snapshot's progress/ is ignored (docs/format.md).
  }
}

/**
 * Awaits every task; on the first failure aborts the rest and rethrows the root cause. Calls
 * nest (users ‖ settings, each with its own parts), so the first failure *here* may only be the
 * echo of an abort caused elsewhere (InterruptedError, AbortError): the run's abort reason is
 * the cause, unless the run was interrupted from outside (Ctrl-C), which the caller reports.
 */
/**
 * Runs every task, at most `concurrency` at a time; on the first failure aborts the run (so the
 * running ones stop), starts no more, and rethrows that failure.
 */
async function allOrAbort(
  tasks: (() => Promise<unknown>)[],
  run: AbortController,
  concurrency = Infinity,
): Promise<void> {
  let first: unknown;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (first === undefined && next < tasks.length) {
      const task = tasks[next++];
      try {
        await task?.();
      } catch (e) {
        if (first === undefined) {
          first = e;
          run.abort(e);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  if (first !== undefined) {
    const reason: unknown = run.signal.reason;
    throw reason !== undefined && !(reason instanceof InterruptedError) ? reason : first;
  }
}

export async function describePool(
  gw: CognitoGateway,
  poolId: string,
  region: string,
): Promise<UserPoolType> {
  try {
    const { UserPool: pool } = await gw.send(new DescribeUserPoolCommand({ UserPoolId: poolId }));
    if (!pool)
      throw new UsageError('POOL_NOT_FOUND', `user pool ${poolId} does not exist in ${region}`, {
        userPoolId: poolId,
        region,
      });
    return pool;
  } catch (e) {
    if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') {
      throw new UsageError(
        'POOL_NOT_FOUND',
        `user pool ${poolId} does not exist in ${region}`,
        { userPoolId: poolId, region },
        { cause: e },
      );
    }
    throw e;
  }
}

/**
 * One ListUsers chain as pages (the engine counts users per page for progress): the SDK's
 * paginator on the paced client, 60 users a page.
 */
async function* usersPages(
  gw: CognitoGateway,
  poolId: string,
  filter: string | undefined,
  opts: CallOptions,
): AsyncGenerator<UserType[]> {
  const input = { UserPoolId: poolId, ...(filter ? { Filter: filter } : {}) };
  for await (const page of gw.pages(paginateListUsers, input, opts)) yield page.Users ?? [];
}

/** Probes one shard filter; falls back to a single ListUsers chain when Cognito refuses it. */
/** A shard whose first page the sharding probe already fetched. */
interface ProbedShard {
  prefix: string;
  page: UserType[];
  rest: AsyncGenerator<UserType[]>;
}

async function* continueShard(started: ProbedShard): AsyncGenerator<UserType[]> {
  yield started.page;
  yield* started.rest;
}

/**
 * Fetches the first page of shard "0" to learn whether Cognito takes the `sub ^=` filter; falls
 * back to a single ListUsers chain (and says so) when it does not. The page is kept for shard 0.
 */
async function probeSharding(
  gw: CognitoGateway,
  poolId: string,
  shards: 16 | 256,
  warn: (w: Warning) => void,
): Promise<{ shards: 1 | 16 | 256; started?: ProbedShard }> {
  const prefix = shards === 16 ? '0' : '00';
  try {
    const rest = usersPages(gw, poolId, `sub ^= "${prefix}"`, { background: true });
    const first = await rest.next();
    if (first.done) return { shards };
    return { shards, started: { prefix, page: first.value, rest } };
  } catch (e) {
    if (
      e instanceof CognitoError &&
      (e.awsCode === 'InvalidParameterException' || e.awsCode === 'ValidationException')
    ) {
      warn({
        code: 'SHARDING_REFUSED',
        operation: 'ListUsers',
        message: `Cognito refused the sub prefix filter (${e.awsCode}); listing users in one chain, which is slower`,
      });
      return { shards: 1 };
    }
    throw e;
  }
}

async function bestEffort<T>(
  operation: string,
  warn: (w: Warning) => void,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    if (e instanceof VaultError && e.exitCode === 5 && e.code === 'NO_CREDENTIALS') throw e;
    warn({
      code: 'NOT_CAPTURED',
      operation,
      message: `${operation} was refused (${rootAwsName(e)}); that setting is not in the snapshot`,
    });
    return undefined;
  }
}

async function capturePoolDocument(
  gw: CognitoGateway,
  pool: UserPoolType,
  warn: (w: Warning) => void,
  signal: AbortSignal,
  fetchImage?: BackupOptions['fetchImage'],
): Promise<PoolDocument> {
  const poolId = pool.Id ?? '';
  const mfa = await gw.send(new GetUserPoolMfaConfigCommand({ UserPoolId: poolId }));
  const { $metadata: _m, ...mfaConfig } = mfa;
  const doc: PoolDocument = { userPool: { ...pool, Id: poolId }, mfaConfig };
  const quick: CallOptions = { transientAttempts: 2 };
  const domainName = pool.CustomDomain ?? pool.Domain;
  if (domainName) {
    const d = await bestEffort('DescribeUserPoolDomain', warn, () =>
      gw
        .send(new DescribeUserPoolDomainCommand({ Domain: domainName }), quick)
        .then((r) => r.DomainDescription),
    );
    if (d) doc.domain = d;
  }
  if (pool.Arn) {
    const arn = pool.Arn;
    const tags = await bestEffort('ListTagsForResource', warn, () =>
      gw
        .send(new ListTagsForResourceCommand({ ResourceArn: arn }), quick)
        .then((r) => r.Tags ?? {}),
    );
    if (tags) doc.tags = tags;
  }
  const ui = await bestEffort('GetUICustomization', warn, () =>
    gw
      .send(new GetUICustomizationCommand({ UserPoolId: poolId }), quick)
      .then((r) => r.UICustomization),
  );
  if (ui) {
    const uiCustomization: UICustomizationRecord = { ...ui };
    doc.uiCustomization = uiCustomization;
    // GetUICustomization gives a URL, SetUICustomization wants the bytes: keep the logo itself.
    if (ui.ImageUrl) {
      const url = ui.ImageUrl;
      try {
        const bytes = await (fetchImage ?? downloadUiImage)(url, signal);
        uiCustomization.ImageFile = Buffer.from(bytes).toString('base64');
      } catch (e) {
        if (signal.aborted) throw new InterruptedError();
        warn({
          code: 'NOT_CAPTURED',
          operation: 'GetUICustomization',
          message: `the hosted UI logo could not be downloaded (${(e as Error).message}); a restore sets the CSS only`,
        });
      }
    }
  }
  const logs = await bestEffort('GetLogDeliveryConfiguration', warn, () =>
    gw
      .send(new GetLogDeliveryConfigurationCommand({ UserPoolId: poolId }), quick)
      .then((r) => r.LogDeliveryConfiguration),
  );
  if (logs) doc.logDeliveryConfiguration = logs;
  const risk = await bestEffort('DescribeRiskConfiguration', warn, () =>
    gw
      .send(new DescribeRiskConfigurationCommand({ UserPoolId: poolId }), quick)
      .then((r) => r.RiskConfiguration),
  );
  if (risk) doc.riskConfiguration = risk;
  return doc;
}

/**
 * The app clients' own UI customizations and risk configurations (GetUICustomization and
 * DescribeRiskConfiguration with a ClientId), into `clientUICustomizations` and
 * `clientRiskConfigurations` of the pool document. Both answer with the pool's setting when the
 * client has none of its own (ClientId ALL, or none): only answers naming the client are kept.
 * Best effort like the pool's: skipped when the pool-level read was refused already (the same
 * refusal would follow); the first refusal is one NOT_CAPTURED warning and leaves the list out
 * (a snapshot without it says "not captured", not "none").
 */
async function captureClientSettings(
  gw: CognitoGateway,
  poolId: string,
  clients: readonly UserPoolClientType[],
  doc: PoolDocument,
  ctx: {
    warn: (w: Warning) => void;
    refused: (operation: string) => boolean;
    signal: AbortSignal;
    fetchImage?: BackupOptions['fetchImage'];
  },
): Promise<void> {
  const quick = { transientAttempts: 2 };
  const ids = clients.map((c) => c.ClientId).filter((id): id is string => Boolean(id));
  /** Each client's own setting, or undefined when a read was refused (warned once). */
  const perClient = async <T extends { ClientId?: string | undefined }>(
    operation: string,
    read: (clientId: string) => Promise<T | undefined>,
  ): Promise<Map<string, T> | undefined> => {
    if (ctx.refused(operation)) return undefined;
    const out = new Map<string, T>();
    for (const clientId of ids) {
      let refused = false;
      const v = await bestEffort(
        operation,
        (w) => {
          refused = true;
          ctx.warn({ ...w, message: `${w.message} (per app client)` });
        },
        () => read(clientId),
      );
      if (refused) return undefined;
      if (v && v.ClientId === clientId) out.set(clientId, v);
    }
    return out;
  };

  const ui = await perClient('GetUICustomization', (clientId) =>
    gw
      .send(new GetUICustomizationCommand({ UserPoolId: poolId, ClientId: clientId }), quick)
      .then((r) => r.UICustomization),
  );
  if (ui) {
    const list: ClientUICustomizationRecord[] = [];
    for (const [clientId, u] of ui) {
      const entry: ClientUICustomizationRecord = { ...u, ClientId: clientId };
      if (u.ImageUrl) {
        const url = u.ImageUrl;
        try {
          const bytes = await (ctx.fetchImage ?? downloadUiImage)(url, ctx.signal);
          entry.ImageFile = Buffer.from(bytes).toString('base64');
        } catch (e) {
          if (ctx.signal.aborted) throw new InterruptedError();
          ctx.warn({
            code: 'NOT_CAPTURED',
            operation: 'GetUICustomization',
            message: `the hosted UI logo of an app client could not be downloaded (${(e as Error).message}); a restore sets its CSS only`,
          });
        }
      }
      list.push(entry);
    }
    doc.clientUICustomizations = list;
  }
  const risk = await perClient('DescribeRiskConfiguration', (clientId) =>
    gw
      .send(new DescribeRiskConfigurationCommand({ UserPoolId: poolId, ClientId: clientId }), quick)
      .then((r) => r.RiskConfiguration),
  );
  if (risk)
    doc.clientRiskConfigurations = [...risk].map(([clientId, r]) => ({ ...r, ClientId: clientId }));
}

/**
 * Each app client's managed login style (no operation lists them: one
 * DescribeManagedLoginBrandingByClient per client). ResourceNotFoundException = that client has
 * none. Best effort like the other pool settings: the first other refusal is a NOT_CAPTURED
 * warning and stops asking (the same refusal would follow for every client).
 */
async function captureManagedLoginBranding(
  gw: CognitoGateway,
  poolId: string,
  clients: readonly UserPoolClientType[],
  warn: (w: Warning) => void,
): Promise<Json<ManagedLoginBrandingRecord>[]> {
  const out: Json<ManagedLoginBrandingRecord>[] = [];
  for (const [i, c] of clients.entries()) {
    const clientId = c.ClientId;
    if (!clientId) continue;
    let branding: ManagedLoginBrandingType | undefined;
    try {
      ({ ManagedLoginBranding: branding } = await gw.send(
        new DescribeManagedLoginBrandingByClientCommand({
          UserPoolId: poolId,
          ClientId: clientId,
          ReturnMergedResources: false,
        }),
        { transientAttempts: 2 },
      ));
    } catch (e) {
      if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') continue;
      if (e instanceof InterruptedError) throw e;
      if (e instanceof VaultError && e.exitCode === 5 && e.code === 'NO_CREDENTIALS') throw e;
      const left = clients.length - i;
      warn({
        code: 'NOT_CAPTURED',
        operation: 'DescribeManagedLoginBrandingByClient',
        message: `DescribeManagedLoginBrandingByClient was refused (${rootAwsName(e)}); the managed login branding of ${left} app client(s) is not in the snapshot`,
      });
      break;
    }
    if (!branding) continue;
    out.push(
      brandingJson({
        ClientId: clientId,
        ...(branding.ManagedLoginBrandingId
          ? { ManagedLoginBrandingId: branding.ManagedLoginBrandingId }
          : {}),
        ...(branding.UseCognitoProvidedValues !== undefined
          ? { UseCognitoProvidedValues: branding.UseCognitoProvidedValues }
          : {}),
        ...(branding.Settings !== undefined ? { Settings: branding.Settings } : {}),
        ...(branding.Assets ? { Assets: branding.Assets } : {}),
      }),
    );
  }
  return out;
}

/**
 * Backs up every pool in the region, one after another (ListUserPools, every page); the first
 * failure stops it. `backupRegions` (./regions.ts) is the one the CLI and the Lambda use: any
 * number of Regions in parallel, every pool attempted and reported.
 */
export async function backupAllPools(
  gw: CognitoGateway,
  root: Storage,
  opts: Omit<BackupOptions, 'userPoolId'>,
): Promise<BackupResult[]> {
  const ids: string[] = [];
  for await (const p of items(gw.pages(paginateListUserPools, { MaxResults: 60 }), 'UserPools'))
    if (p.Id) ids.push(p.Id);
  const results: BackupResult[] = [];
  for (const id of ids) results.push(await backupPool(gw, root, { ...opts, userPoolId: id }));
  return results;
}
