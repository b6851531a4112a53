import { withReadLease } from '../../src/snapshot/lease.js';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import {
  AdminAddUserToGroupCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminUpdateUserAttributesCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolCommand,
  ListUserPoolClientsCommand,
  UpdateGroupCommand,
  UpdateIdentityProviderCommand,
  UpdateUserPoolClientCommand,
  CreateUserPoolDomainCommand,
  SetUserPoolMfaConfigCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { backupAllPools, backupPool } from '../../src/backup/engine.js';
import { findResumableBackup } from '../../src/backup/resume.js';
import type { VaultError } from '../../src/core/errors.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import {
  type CommandName,
  COMMAND_OPERATIONS,
  COMMAND_STORAGE,
  operationsOf,
  operationsOfFeatures,
  type StorageOperation,
} from '../../src/cognito/operations.js';
import { seedPool } from '../../testing/seed.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import { runDrill } from '../../src/drill/index.js';
import { putFile, UploadRefusedError } from '../../src/restore/users/import/jobs.js';
import { planPoolCreation } from '../../src/restore/pool/target.js';
import { restoreSelection } from '../../src/restore/selective/engine.js';
import { chooseLatest } from '../../src/snapshot/choose.js';
import { forgetUser } from '../../src/snapshot/forget.js';
import type { RestoreOptions } from '../../src/restore/types.js';
import { actionsOf, iamPolicy } from '../../src/policy/iam.js';
import { prune } from '../../src/snapshot/retention.js';
import {
  FILES,
  PoolDocument,
  SnapshotReader,
  SnapshotWriter,
  UserRecord,
  MembershipRecord,
} from '../../src/snapshot/index.js';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { LocalDirStorage } from '../../src/storage/local.js';
import { S3Storage } from '../../src/storage/s3.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { MOTO_ENV } from '../support/moto.js';
import type { Storage, StorageEntry } from '../../src/storage/storage.js';
import { type MotoFixture, REGION, startMotoFixture } from '../support/fixture.js';

/**
 * A restore that must stop at an operation moto lacks (HTTP 500): the request was sent and
 * recorded, which is the point. Any other outcome — finishing, or failing elsewhere (a bug, a
 * request-guard violation) — fails the test instead of being swallowed.
 */
async function stopsAt(run: Promise<unknown>, operation: string): Promise<void> {
  const e = await run.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (e === undefined) throw new Error(`the run finished: expected it to stop at ${operation}`);
  const context = (e as Partial<VaultError>).context as { operation?: unknown } | undefined;
  // moto's HTTP 500 for an operation it lacks, after the retries: SERVICE_ERROR naming it.
  if (context?.operation !== operation || (e as Partial<VaultError>).code !== 'SERVICE_ERROR')
    throw e;
}

/**
 * The IAM policies are derived from src/cognito/operations.ts. This test records what each
 * command really sends (an SDK middleware sees every request, also those that bypass the
 * gateway's helpers) and what it does to storage, and checks both directions against the
 * table and the generated policy: nothing missing (AccessDenied in production), nothing unused.
 */

let fixture: MotoFixture | undefined;
let endpoint: string;
let work: string;

/** Leases are writable here; an unwritable one would fail the test. */
const noWarning = (e: unknown): never => {
  throw e;
};

/** A gateway whose client records the name of every command it sends. */
function recordingGateway(sink: Set<string>, transientAttempts = 8): CognitoGateway {
  const client = new CognitoIdentityProviderClient({ region: REGION, endpoint, maxAttempts: 1 });
  client.middlewareStack.add(
    (next, context) => (args) => {
      sink.add(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'recordOperation' },
  );
  return new CognitoGateway(client, { rate: { unlimited: true }, retry: { transientAttempts } });
}

/**
 * A storage that records which of its operations are used. Lease objects (`locks/…`,
 * docs/format.md#leases) count as the `lease` operation, whatever is done to them.
 */
function recordingStorage(inner: Storage, sink: Set<StorageOperation>): Storage {
  const op = (key: string | undefined, o: StorageOperation): void => {
    if (key !== undefined && /(^|\/)locks(\/|$)/.test(key)) sink.add('lease');
    // Completion records removed by a backup (a scoped permission of their own).
    else if (o === 'delete' && key !== undefined && /(^|\/)progress\//.test(key))
      sink.add('progress');
    else sink.add(o);
  };
  return {
    get location() {
      return inner.location;
    },
    put(key: string, body: Readable | Uint8Array | string, signal?: AbortSignal) {
      op(key, 'put');
      return inner.put(key, body, signal);
    },
    get(key: string) {
      op(key, 'get');
      return inner.get(key);
    },
    exists(key: string) {
      op(key, 'exists');
      return inner.exists(key);
    },
    stat(key: string) {
      op(key, 'exists');
      return inner.stat(key);
    },
    list(prefix?: string): AsyncIterable<StorageEntry> {
      op(prefix, 'list');
      return inner.list(prefix);
    },
    delete(key: string) {
      op(key, 'delete');
      return inner.delete(key);
    },
    removeEmptyDirs() {
      return inner.removeEmptyDirs();
    },
    child(prefix: string) {
      return recordingStorage(inner.child(prefix), sink);
    },
  };
}

interface Scenario {
  command: CommandName;
  features: string[];
  cognito: Set<string>;
  storage: Set<StorageOperation>;
}
const scenarios: Scenario[] = [];

async function record(
  command: CommandName,
  features: string[],
  body: (gw: CognitoGateway, wrap: (s: Storage) => Storage) => Promise<unknown>,
  transientAttempts?: number,
): Promise<Scenario> {
  const s: Scenario = { command, features, cognito: new Set(), storage: new Set() };
  const gw = recordingGateway(s.cognito, transientAttempts);
  try {
    await body(gw, (st) => recordingStorage(st, s.storage));
  } finally {
    gw.destroy();
  }
  scenarios.push(s);
  return s;
}

let sourcePoolId: string;
let snapshotRoot: string;
let snapshotDir: string;

/** The backup's snapshot with one user linked to the Google IdP (moto keeps no identities). */
async function withLink(reader: SnapshotReader): Promise<SnapshotReader> {
  const storage = new LocalDirStorage(path.join(work, 'linked'));
  const w = new SnapshotWriter(storage);
  await w.writeJson(FILES.pool, 'pool', await reader.readJson('pool', PoolDocument), 1);
  for (const kind of ['clients', 'identityProviders', 'resourceServers', 'groups'] as const) {
    const value = await reader.readJson(kind, z.array(z.unknown()));
    await w.writeJson(FILES[kind], kind, value, value.length);
  }
  let first = true;
  const users = async function* () {
    for await (const u of reader.records('users', UserRecord)) {
      if (first) {
        first = false;
        yield {
          ...u,
          Attributes: [
            ...u.Attributes,
            {
              Name: 'identities',
              Value: JSON.stringify([
                { providerName: 'Google', userId: 'g-1', providerType: 'Google' },
              ]),
            },
          ],
        };
      } else yield u;
    }
  };
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', users());
  await w.writeJsonLines(
    'memberships/part-00000.jsonl.gz',
    'memberships',
    reader.records('memberships', MembershipRecord),
  );
  await w.commit({ ...reader.manifest });
  return SnapshotReader.open(storage);
}

/** A copy of the backup's snapshot whose pool document has `extra` merged in. */
async function withPool(
  reader: SnapshotReader,
  dir: string,
  extra: Record<string, unknown>,
  branding?: Record<string, unknown>[],
): Promise<void> {
  const w = new SnapshotWriter(new LocalDirStorage(dir));
  await w.writeJson(
    FILES.pool,
    'pool',
    { ...(await reader.readJson('pool', PoolDocument)), ...extra },
    1,
  );
  for (const kind of ['clients', 'identityProviders', 'resourceServers', 'groups'] as const) {
    const value = await reader.readJson(kind, z.array(z.unknown()));
    await w.writeJson(FILES[kind], kind, value, value.length);
  }
  if (branding)
    await w.writeJson(
      FILES.managedLoginBranding,
      'managedLoginBranding',
      branding,
      branding.length,
    );
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', reader.records('users', UserRecord));
  await w.writeJsonLines(
    'memberships/part-00000.jsonl.gz',
    'memberships',
    reader.records('memberships', MembershipRecord),
  );
  await w.commit({ ...reader.manifest });
}

/**
 * The snapshot as `backup --user-mfa` of a pool with a Lambda trigger would have it: one user
 * with SMS MFA, a PreSignUp trigger (in moto's account and Region, so the ARN check passes).
 */
async function withTriggersAndMfa(reader: SnapshotReader): Promise<SnapshotReader> {
  const storage = new LocalDirStorage(path.join(work, 'triggers-mfa'));
  const w = new SnapshotWriter(storage);
  const pool = await reader.readJson('pool', PoolDocument);
  pool.userPool = {
    ...pool.userPool,
    LambdaConfig: { PreSignUp: 'arn:aws:lambda:us-east-1:123456789012:function:pre-signup' },
  };
  await w.writeJson(FILES.pool, 'pool', pool, 1);
  for (const kind of ['clients', 'identityProviders', 'resourceServers', 'groups'] as const) {
    const value = await reader.readJson(kind, z.array(z.unknown()));
    await w.writeJson(FILES[kind], kind, value, value.length);
  }
  let first = true;
  const users = async function* () {
    for await (const u of reader.records('users', UserRecord)) {
      if (first) {
        first = false;
        yield { ...u, UserMFASettingList: ['SMS_MFA'], PreferredMfaSetting: 'SMS_MFA' };
      } else yield { ...u, UserMFASettingList: [] };
    }
  };
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', users());
  await w.writeJsonLines(
    'memberships/part-00000.jsonl.gz',
    'memberships',
    reader.records('memberships', MembershipRecord),
  );
  await w.commit({
    ...reader.manifest,
    options: { ...reader.manifest.options, userMfa: true },
  });
  return SnapshotReader.open(storage);
}

async function emptyPoolLike(gw: CognitoGateway, reader: SnapshotReader, name: string) {
  const doc = await reader.readJson('pool', PoolDocument);
  return (
    (await gw.send(new CreateUserPoolCommand(planPoolCreation(doc, name).input))).UserPool?.Id ?? ''
  );
}

beforeAll(async () => {
  if (!existsSync(path.resolve('dist/cli/main.js'))) {
    throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  }
  // With the CSV import-job double in front of moto (GetCSVHeader for export-csv).
  fixture = await startMotoFixture('cv-policy-ops-', { withImportJobs: true });
  ({ work } = fixture);
  endpoint = fixture.moto.endpoint;
  const seeded = await seedPool(fixture.gw, {
    poolName: 'policy-source',
    users: 40,
    groups: 6,
    concurrency: 8,
  });
  sourcePoolId = seeded.userPoolId;
  // A domain (backup describes it) and TOTP MFA (a new pool gets it by SetUserPoolMfaConfig).
  await fixture.gw.send(
    new CreateUserPoolDomainCommand({ UserPoolId: sourcePoolId, Domain: 'policy-source-x' }),
  );
  await fixture.gw.send(
    new SetUserPoolMfaConfigCommand({
      UserPoolId: sourcePoolId,
      SoftwareTokenMfaConfiguration: { Enabled: true },
      MfaConfiguration: 'OPTIONAL',
    }),
  );
  snapshotRoot = path.join(work, 'snapshots');
  const secrets = path.join(work, 'idp-secrets.json');
  writeFileSync(secrets, JSON.stringify({ Google: { client_secret: 'x' } }));

  // ---- backup: one pool, and --all --------------------------------------------------------
  const one = await record('backup', ['pool'], async (gw, wrap) => {
    const r = await backupPool(gw, wrap(new LocalDirStorage(snapshotRoot)), {
      userPoolId: sourcePoolId,
    });
    snapshotDir = path.join(snapshotRoot, sourcePoolId, r.manifest.snapshotId);
  });
  expect(one.cognito.size).toBeGreaterThan(0);
  // An interrupted backup, resumed: reads its completion records (and the catalog).
  const resumeRoot = path.join(work, 'resume');
  const stop = new AbortController();
  const interrupted = await backupPool(fixture.gw, new LocalDirStorage(resumeRoot), {
    userPoolId: sourcePoolId,
    signal: stop.signal,
    onProgress: (e) => {
      if (e.type === 'phase' && e.phase === 'users') stop.abort();
    },
  }).then(
    () => undefined,
    (e: unknown) => e as VaultError,
  );
  const resumeId = String(interrupted?.context.snapshotId);
  await record('backup', ['pool'], async (gw, wrap) => {
    const root = wrap(new LocalDirStorage(resumeRoot));
    expect(await findResumableBackup(root, sourcePoolId)).toBe(resumeId);
    await backupPool(gw, root, { userPoolId: sourcePoolId, resume: resumeId });
  });
  await record('backup', ['pool', 'allPools'], (gw, wrap) =>
    backupAllPools(gw, wrap(new LocalDirStorage(path.join(work, 'all'))), {}),
  );
  await record('backup', ['pool', 'userMfa'], (gw, wrap) =>
    backupPool(gw, wrap(new LocalDirStorage(path.join(work, 'mfa'))), {
      userPoolId: sourcePoolId,
      userMfa: true,
    }),
  );

  // --include-secrets also asks which secrets each app client holds (moto lacks the
  // operation: the backup reports it NOT_CAPTURED, and the request was sent).
  await record(
    'backup',
    ['pool', 'secrets'],
    (gw, wrap) =>
      backupPool(gw, wrap(new LocalDirStorage(path.join(work, 'with-secrets'))), {
        userPoolId: sourcePoolId,
        includeSecrets: true,
      }),
    1,
  );

  const reader = await SnapshotReader.open(new LocalDirStorage(snapshotDir));
  await withLink(reader);
  const idpSecrets = { Google: { client_secret: 'x' } };
  const state = async () => mkdtemp(path.join(work, 'state-'));
  const opts = async (over: Partial<RestoreOptions> & Pick<RestoreOptions, 'target'>) => ({
    stateDir: await state(),
    idpSecrets,
    ...over,
  });

  // ---- restore: --create-pool with a domain and links; into an existing pool; --merge -----
  await record('restore', ['any', 'createPool', 'domain'], async (gw, wrap) => {
    // As the CLI does: a read lease on the snapshot for the whole run.
    const snap = wrap(new LocalDirStorage(snapshotDir));
    await withReadLease(snap, 'restore', noWarning, async () => {
      const r = await SnapshotReader.open(snap);
      await restoreSnapshot(
        gw,
        r,
        await opts({ target: { createPool: 'policy-new' }, domain: 'policy-new-x' }),
      );
    });
  });
  // --without-triggers and per-user MFA: a new pool without its trigger, SMS MFA for one user
  // (moto refuses it for want of a phone number: a user failure, but the request was sent).
  await withTriggersAndMfa(reader);
  await record('restore', ['any', 'createPool', 'withoutTriggers', 'userMfa'], async (gw, wrap) => {
    const r = await SnapshotReader.open(wrap(new LocalDirStorage(path.join(work, 'triggers-mfa'))));
    await restoreSnapshot(
      gw,
      r,
      await opts({ target: { createPool: 'policy-triggers' }, withoutTriggers: true }),
    );
  });
  // Identity links: moto answers AdminLinkProviderForUser with HTTP 500, so the run fails, but
  // the request was sent, which is what is recorded.
  const linkTarget = await emptyPoolLike(fixture.gw, reader, 'policy-links');
  await record(
    'restore',
    ['any', 'existingPool'],
    async (gw, wrap) => {
      const r = await SnapshotReader.open(wrap(new LocalDirStorage(path.join(work, 'linked'))));
      await stopsAt(
        restoreSnapshot(gw, r, await opts({ target: { userPoolId: linkTarget } })),
        'AdminLinkProviderForUser',
      );
    },
    1,
  );
  // Pool settings set after CreateUserPool. moto implements none of them (HTTP 500), so each
  // run stops at its first one: one snapshot per setting, each request sent and recorded.
  const poolSettings: Record<string, unknown>[] = [
    { uiCustomization: { CSS: '.banner-customizable { background-color: red; }' } },
    {
      riskConfiguration: {
        RiskExceptionConfiguration: { BlockedIPRangeList: ['192.0.2.0/24'] },
      },
    },
    {
      logDeliveryConfiguration: {
        LogConfigurations: [
          {
            LogLevel: 'ERROR',
            EventSource: 'userNotification',
            CloudWatchLogsConfiguration: {
              LogGroupArn: 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/cognito/x',
            },
          },
        ],
      },
    },
  ];
  for (const [i, extra] of poolSettings.entries()) {
    const dir = path.join(work, `settings-${i}`);
    await withPool(reader, dir, extra);
    await record(
      'restore',
      ['any', 'createPool', 'poolSettings'],
      async (gw, wrap) => {
        const r = await SnapshotReader.open(wrap(new LocalDirStorage(dir)));
        await stopsAt(
          restoreSnapshot(gw, r, await opts({ target: { createPool: `policy-settings-${i}` } })),
          ['SetUICustomization', 'SetRiskConfiguration', 'SetLogDeliveryConfiguration'][i] ?? '',
        );
      },
      1,
    );
  }
  // App clients' own UI customization and risk configuration (moto implements neither: each
  // run stops at its first Set call, which is sent, checked by the request guard and recorded).
  const ownClient = (
    await reader.readJson('clients', z.array(z.looseObject({ ClientId: z.string() })))
  )[0];
  const clientSettings: Record<string, unknown>[] = [
    {
      clientUICustomizations: [
        { ClientId: ownClient?.ClientId, CSS: '.banner-customizable { background-color: blue; }' },
      ],
    },
    {
      clientRiskConfigurations: [
        {
          ClientId: ownClient?.ClientId,
          RiskExceptionConfiguration: { SkippedIPRangeList: ['198.51.100.0/24'] },
        },
      ],
    },
  ];
  for (const [i, extra] of clientSettings.entries()) {
    const dir = path.join(work, `client-settings-${i}`);
    await withPool(reader, dir, extra);
    await record(
      'restore',
      ['any', 'createPool', 'clientSettings'],
      async (gw, wrap) => {
        const r = await SnapshotReader.open(wrap(new LocalDirStorage(dir)));
        await stopsAt(
          restoreSnapshot(
            gw,
            r,
            await opts({ target: { createPool: `policy-client-settings-${i}` } }),
          ),
          ['SetUICustomization', 'SetRiskConfiguration'][i] ?? '',
        );
      },
      1,
    );
  }
  // Managed login branding of one app client: moto implements no managed login operation
  // (a backup reports DescribeManagedLoginBrandingByClient as NOT_CAPTURED; CreateManagedLoginBranding
  // fails with HTTP 500, a resource failure), but the request is sent and recorded.
  const brandedClient = (
    await reader.readJson('clients', z.array(z.looseObject({ ClientId: z.string() })))
  )[0];
  expect(brandedClient).toBeDefined();
  const brandingDir = path.join(work, 'branding');
  await withPool(reader, brandingDir, {}, [
    { ClientId: brandedClient?.ClientId, Settings: { components: {} }, Assets: [] },
  ]);
  await record(
    'restore',
    ['any', 'createPool', 'managedLoginBranding'],
    async (gw, wrap) => {
      const r = await SnapshotReader.open(wrap(new LocalDirStorage(brandingDir)));
      await stopsAt(
        restoreSnapshot(gw, r, await opts({ target: { createPool: 'policy-branding' } })),
        'CreateManagedLoginBranding',
      );
    },
    1,
  );
  const empty = await emptyPoolLike(fixture.gw, reader, 'policy-empty');
  await record('restore', ['any', 'existingPool'], async (gw, wrap) => {
    const r = await SnapshotReader.open(wrap(new LocalDirStorage(snapshotDir)));
    await restoreSnapshot(gw, r, await opts({ target: { userPoolId: empty } }));
  });
  await record('restore', ['any', 'existingPool'], async (gw, wrap) => {
    const r = await SnapshotReader.open(wrap(new LocalDirStorage(snapshotDir)));
    await restoreSnapshot(gw, r, await opts({ target: { userPoolId: empty }, merge: true }));
  });

  // ---- restore --users auto through CSV import jobs (the import-job double) ----------------
  // The first upload is refused (as an expired URL is): the job is stopped and replaced, so
  // StopUserImportJob is exercised too.
  let refusedOnce = false;
  await record('restore', ['any', 'createPool', 'importJobs'], async (gw, wrap) => {
    const r = await SnapshotReader.open(wrap(new LocalDirStorage(snapshotDir)));
    await restoreSnapshot(
      gw,
      r,
      await opts({
        target: { createPool: 'policy-import' },
        usersPath: 'auto',
        importLogsRoleArn: 'arn:aws:iam::123456789012:role/CognitoImportLogs',
        importPollMs: { min: 50, max: 200 },
        importUpload: async (url, file, signal) => {
          if (!refusedOnce) {
            refusedOnce = true;
            throw new UploadRefusedError(403);
          }
          await putFile(url, file, signal);
        },
      }),
    );
  });

  // ---- drill: admin-create, and import jobs; the heartbeat ticks (moto has no TagResource:
  // it answers an error, the drill goes on with a warning — the request was sent) -----------
  await record('drill', ['lifecycle', 'restore', 'compare'], async (gw, wrap) => {
    const snap = wrap(new LocalDirStorage(snapshotDir));
    await withReadLease(snap, 'restore', noWarning, async () => {
      const r = await SnapshotReader.open(snap);
      const result = await runDrill(gw, r, {
        usersPath: 'admin-create',
        heartbeatMs: 20,
        restoreOverrides: { rttMs: 400 },
      });
      expect(result.cleanup.scratchDeleted).toBe(true);
    });
  });
  await record('drill', ['lifecycle', 'restore', 'compare', 'importJobs'], async (gw, wrap) => {
    const r = await SnapshotReader.open(wrap(new LocalDirStorage(snapshotDir)));
    const result = await runDrill(gw, r, {
      usersPath: 'auto',
      importLogsRoleArn: 'arn:aws:iam::123456789012:role/CognitoImportLogs',
      restoreOverrides: { importPollMs: { min: 50, max: 200 } },
    });
    expect(result.cleanup.scratchDeleted).toBe(true);
  });

  // The same settings snapshots through a drill (moto answers each Set with HTTP 500: the drill
  // fails, deletes its scratch pool, and the request was sent).
  const settingsDirs: [string, string][] = [
    ...poolSettings.map((_, i): [string, string] => [
      path.join(work, `settings-${i}`),
      'poolSettings',
    ]),
    ...clientSettings.map((_, i): [string, string] => [
      path.join(work, `client-settings-${i}`),
      'clientSettings',
    ]),
    [brandingDir, 'managedLoginBranding'],
  ];
  for (const [dir, feature] of settingsDirs) {
    await record(
      'drill',
      ['lifecycle', 'restore', 'compare', feature],
      async (gw, wrap) => {
        const r = await SnapshotReader.open(wrap(new LocalDirStorage(dir)));
        await runDrill(gw, r, { usersPath: 'admin-create', sample: 2 }).catch(() => undefined);
      },
      1,
    );
  }

  // ---- export-csv: a CLI command; recorded on the wire by a proxy (Cognito and S3) ---------
  const s3 = new S3Client({
    region: REGION,
    endpoint: fixture.moto.motoEndpoint,
    forcePathStyle: true,
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'vault' }));
  const s3root = new S3Storage({ client: s3, bucket: 'vault', prefix: 'snapshots' });
  const onS3 = await backupPool(fixture.gw, s3root, { userPoolId: sourcePoolId });
  const proxy = await startFaultProxy({ target: fixture.moto.endpoint, dropResponses: {} });
  try {
    const r = await runCli([
      'export-csv',
      `s3://vault/snapshots/${sourcePoolId}/${onS3.manifest.snapshotId}`,
      '--to',
      's3://vault/csv',
      '--header-from',
      sourcePoolId,
      '--endpoint-url',
      proxy.endpoint,
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
  } finally {
    await proxy.close();
    s3.destroy();
  }
  scenarios.push({
    command: 'export-csv',
    features: ['headerFrom'],
    cognito: new Set([...proxy.calls].filter((c) => !c.startsWith('s3:'))),
    storage: new Set(
      [...proxy.calls]
        .filter((c) => c.startsWith('s3:'))
        .map((c) => c.slice(3) as StorageOperation),
    ),
  });

  // ---- restore with a selection: the source pool broken, then reverted --------------------
  // (last: it writes to the source pool). `--from latest` lists the root for the snapshot.
  const raw = fixture.raw;
  const U = (i: number) => `user-${String(i).padStart(6, '0')}`;
  await raw.send(
    new AdminUpdateUserAttributesCommand({
      UserPoolId: sourcePoolId,
      Username: U(1),
      // custom:beta is only on even users: added here, removed by the revert.
      UserAttributes: [
        { Name: 'custom:tier', Value: 'changed' },
        { Name: 'custom:beta', Value: 'true' },
      ],
    }),
  );
  await raw.send(new AdminDisableUserCommand({ UserPoolId: sourcePoolId, Username: U(2) }));
  await raw.send(new AdminEnableUserCommand({ UserPoolId: sourcePoolId, Username: U(5) }));
  await raw.send(
    new AdminRemoveUserFromGroupCommand({
      UserPoolId: sourcePoolId,
      Username: U(3),
      GroupName: 'team-003',
    }),
  );
  await raw.send(
    // user 2 is in team-002 only (seedUserPlan): the revert removes it from team-004 …
    new AdminAddUserToGroupCommand({
      UserPoolId: sourcePoolId,
      Username: U(2),
      GroupName: 'team-004',
    }),
  );
  await raw.send(
    // … and user 4 (team-004 only) from the selected group team-002.
    new AdminAddUserToGroupCommand({
      UserPoolId: sourcePoolId,
      Username: U(4),
      GroupName: 'team-002',
    }),
  );
  await raw.send(
    new UpdateGroupCommand({ UserPoolId: sourcePoolId, GroupName: 'team-002', Description: 'x' }),
  );
  await raw.send(
    new UpdateIdentityProviderCommand({
      UserPoolId: sourcePoolId,
      ProviderName: 'Google',
      AttributeMapping: { email: 'email', given_name: 'given_name' },
    }),
  );
  const web = (
    await raw.send(new ListUserPoolClientsCommand({ UserPoolId: sourcePoolId, MaxResults: 60 }))
  ).UserPoolClients?.find((c) => c.ClientName === 'web');
  await raw.send(
    new UpdateUserPoolClientCommand({
      UserPoolId: sourcePoolId,
      ClientId: web?.ClientId,
      ClientName: 'web',
      RefreshTokenValidity: 3,
    }),
  );
  await record('restore', ['any', 'selective'], async (gw, wrap) => {
    const root = wrap(new LocalDirStorage(snapshotRoot));
    const chosen = await chooseLatest(root, sourcePoolId);
    const r = await SnapshotReader.open(root.child(chosen.path));
    const out = await restoreSelection(
      gw,
      r,
      { userPoolId: sourcePoolId },
      {
        selection: {
          users: [U(1), U(2), U(3), U(5)],
          groups: ['team-002'],
          identityProviders: ['Google'],
          clients: ['web'],
        },
        existing: 'revert',
        stateDir: await state(),
        idpSecrets,
      },
    );
    if (out.dryRun) throw new Error('not a dry run');
    expect(out.failedUsers).toEqual([]);
    expect(out.reverted).toBe(4);
  });
  // moto 5.2.1 has no UpdateResourceServer: a snapshot whose resource server differs makes the
  // restore send it (answered with a 404 page; the request is what is recorded).
  const rsDir = path.join(work, 'rs-changed');
  {
    const src = await SnapshotReader.open(new LocalDirStorage(snapshotDir));
    const w = new SnapshotWriter(new LocalDirStorage(rsDir));
    for (const kind of ['pool', 'clients', 'identityProviders', 'groups'] as const) {
      const value = await src.readJson(kind, z.unknown());
      await w.writeJson(FILES[kind], kind, value, Array.isArray(value) ? value.length : 1);
    }
    const servers = (
      await src.readJson('resourceServers', z.array(z.record(z.string(), z.unknown())))
    ).map((x) => ({ ...x, Name: 'renamed' }));
    await w.writeJson(FILES.resourceServers, 'resourceServers', servers, servers.length);
    await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', src.records('users', UserRecord));
    await w.writeJsonLines(
      'memberships/part-00000.jsonl.gz',
      'memberships',
      src.records('memberships', MembershipRecord),
    );
    await w.commit({ ...src.manifest });
  }
  await record(
    'restore',
    ['any', 'selective'],
    async (gw, wrap) => {
      const r = await SnapshotReader.open(wrap(new LocalDirStorage(rsDir)));
      await restoreSelection(
        gw,
        r,
        { userPoolId: sourcePoolId },
        {
          selection: { resourceServers: ['https://api.example.com'] },
          existing: 'revert',
          stateDir: await state(),
        },
      ).catch(() => undefined);
    },
    1,
  );

  // ---- forget: storage only (ledger, rewritten parts and manifest, old parts deleted) -----
  const forgetRoot = path.join(work, 'forget');
  await backupPool(fixture.gw, new LocalDirStorage(forgetRoot), { userPoolId: sourcePoolId });
  await record('forget', [], async (_gw, wrap) => {
    const r = await forgetUser(wrap(new LocalDirStorage(forgetRoot)), sourcePoolId, {
      username: U(4),
    });
    expect(r.snapshots.rewritten).toBe(1);
  });

  // ---- verify and prune: storage only ----------------------------------------------------
  await record('verify', [], async (_gw, wrap) => {
    const snap = wrap(new LocalDirStorage(snapshotDir));
    // `verify latest`: the root is listed for the newest complete snapshot.
    await chooseLatest(wrap(new LocalDirStorage(snapshotRoot)), sourcePoolId);
    await withReadLease(snap, 'verify', noWarning, async () => {
      const r = await SnapshotReader.open(snap);
      await r.verify();
    });
  });
  const pruneRoot = new LocalDirStorage(path.join(work, 'prune'));
  for (let i = 0; i < 2; i++) {
    await backupPool(fixture.gw, pruneRoot, {
      userPoolId: sourcePoolId,
      now: () => new Date(Date.UTC(2026, 0, 1 + i)),
    });
  }
  await record('prune', [], async (_gw, wrap) => {
    const r = await prune(wrap(pruneRoot), { keepLast: 1 });
    expect(r.deletedObjects).toBeGreaterThan(0);
  });
}, 300_000);

afterAll(async () => {
  await fixture?.stop();
});

/** Runs the built CLI (for commands whose body lives in the CLI), through `endpoint`. */
function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...MOTO_ENV };
    delete env.AWS_PROFILE;
    const child = spawn(process.execPath, [path.resolve('dist/cli/main.js'), ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const commands = Object.keys(COMMAND_OPERATIONS) as CommandName[];

describe('IAM policies against the operations each command sends (moto)', () => {
  it('every scenario sends only operations of the features it uses', () => {
    for (const s of scenarios) {
      const allowed = new Set(operationsOfFeatures(s.command, s.features));
      const extra = [...s.cognito].filter((op) => !allowed.has(op as never));
      expect(extra, `${s.command} [${s.features.join(', ')}] sent unlisted operations`).toEqual([]);
    }
  });

  it.each(commands)('%s: the table lists nothing the command never sends', (command) => {
    const sent = new Set(
      scenarios.filter((s) => s.command === command).flatMap((s) => [...s.cognito]),
    );
    const unused = operationsOf(command).filter((op) => !sent.has(op));
    expect(unused, `${command}: listed but never sent`).toEqual([]);
  });

  it.each(commands)('%s: storage operations match the table both ways', (command) => {
    const used = new Set(
      scenarios.filter((s) => s.command === command).flatMap((s) => [...s.storage]),
    );
    expect([...used].sort()).toEqual([...COMMAND_STORAGE[command]].sort());
  });

  it.each(commands)('%s: the generated policy allows exactly what the command sends', (command) => {
    // With every opt-in feature the scenarios use (--user-mfa, --without-triggers).
    const policy = iamPolicy(command, {
      s3Location: 's3://vault/cognito',
      kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/k',
      userMfa: true,
      withoutTriggers: true,
    });
    const cognitoActions = actionsOf(policy).filter((a) => a.startsWith('cognito-idp:'));
    const sent = new Set(
      scenarios
        .filter((s) => s.command === command)
        .flatMap((s) => [...s.cognito])
        .map((op) => `cognito-idp:${op}`),
    );
    expect(cognitoActions.sort()).toEqual([...sent].sort());
  });
});
