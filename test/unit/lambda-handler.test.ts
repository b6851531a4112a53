import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InterruptedError, StorageError } from '../../src/core/errors.js';

/**
 * The Lambda handler's bookkeeping without AWS: the backup engine and retention are replaced by
 * fakes (no client makes a call: pools are named, the storage is never touched).
 */
const fakes = vi.hoisted(() => ({
  backup: vi.fn(),
  prune: vi.fn(),
  findResumable: vi.fn(),
}));
vi.mock('../../src/backup/resume.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/backup/resume.js')>()),
  findResumableBackup: fakes.findResumable,
}));
vi.mock('../../src/backup/engine.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/backup/engine.js')>()),
  backupPool: fakes.backup,
}));
vi.mock('../../src/snapshot/retention.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/snapshot/retention.js')>()),
  prune: fakes.prune,
}));

const { configFromEnv, handler, planRegions } = await import('../../src/lambda/handler.js');

const A = 'us-east-1_PoolA';
const B = 'us-east-1_PoolB';
let saved: NodeJS.ProcessEnv;

function fakeBackup(userPoolId: string) {
  return {
    snapshot: `s3://vault/x/${userPoolId}/2026-11-01T00-00-00-000Z`,
    userPoolId,
    userPoolName: 'p',
    users: 1,
    groups: 0,
    memberships: 0,
    clients: 0,
    identityProviders: 0,
    resourceServers: 0,
    durationMs: 1,
    warnings: [],
    rates: [],
    manifest: {},
  };
}

beforeEach(() => {
  saved = { ...process.env };
  Object.assign(process.env, {
    COGNITO_VAULT_TO: 's3://vault/x',
    COGNITO_VAULT_USER_POOL_IDS: `${A},${B}`,
    COGNITO_VAULT_KEEP_LAST: '2',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'unit',
    AWS_SECRET_ACCESS_KEY: 'unit',
    COGNITO_VAULT_ENDPOINT_URL: 'http://127.0.0.1:9',
  });
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  fakes.findResumable.mockResolvedValue(undefined);
  fakes.backup.mockImplementation(async (_gw: unknown, _s: unknown, o: { userPoolId: string }) =>
    fakeBackup(o.userPoolId),
  );
});

afterEach(() => {
  process.env = saved;
  vi.restoreAllMocks();
  fakes.backup.mockReset();
  fakes.prune.mockReset();
  fakes.findResumable.mockReset();
});

describe('Lambda retention', () => {
  it('a prune failure is reported apart from the backups and does not make the handler throw', async () => {
    fakes.prune.mockImplementation(async (_s: unknown, _p: unknown, o: { userPoolId: string }) => {
      if (o.userPoolId === A)
        throw new StorageError('IO_ERROR', 'list failed (ServiceUnavailable)');
      return {
        decisions: [
          {
            path: `${B}/old`,
            userPoolId: B,
            snapshotId: 'old',
            status: 'complete',
            complete: true,
            keep: false,
            reasons: ['expired'],
          },
          {
            path: `${B}/odd`,
            userPoolId: B,
            snapshotId: 'odd',
            status: 'unreadable',
            complete: false,
            keep: true,
            reasons: ['unreadable'],
            why: 'manifest.json unreadable: access denied (AccessDenied)',
          },
        ],
        deletedObjects: 3,
        staleLeasesRemoved: 0,
        errors: [],
      };
    });
    const r = await handler({});
    expect(r.failures).toEqual([]);
    expect(r.snapshots.map((s) => s.userPoolId)).toEqual([A, B]);
    expect(r.pruneFailures).toEqual([
      expect.objectContaining({ userPoolId: A, code: 'IO_ERROR', exitCode: 8 }),
    ]);
    expect(r.pruned).toEqual([{ userPoolId: B, snapshotId: 'old' }]);
    expect(r.retained).toEqual([
      {
        userPoolId: B,
        snapshotId: 'odd',
        reasons: ['unreadable'],
        why: 'manifest.json unreadable: access denied (AccessDenied)',
      },
    ]);
  });

  it('deletion errors inside prune are prune failures too, not backup failures', async () => {
    fakes.prune.mockResolvedValue({
      decisions: [],
      deletedObjects: 0,
      staleLeasesRemoved: 0,
      errors: [{ path: `${A}/x`, code: 'UNWRITABLE', message: 'denied', exitCode: 8 }],
    });
    const r = await handler({});
    expect(r.failures).toEqual([]);
    expect(r.pruneFailures).toHaveLength(2);
  });

  it('a backup failure still makes the handler throw, and its pool is not pruned', async () => {
    fakes.backup.mockImplementation(
      async (_gw: unknown, _s: unknown, o: { userPoolId: string }) => {
        if (o.userPoolId === A) throw new StorageError('UNWRITABLE', 'denied');
        return fakeBackup(o.userPoolId);
      },
    );
    fakes.prune.mockResolvedValue({
      decisions: [],
      deletedObjects: 0,
      staleLeasesRemoved: 0,
      errors: [],
    });
    await expect(handler({})).rejects.toThrow(/1 of 2 pool backups failed: us-east-1_PoolA/);
    expect(fakes.prune.mock.calls.map((c) => (c[2] as { userPoolId: string }).userPoolId)).toEqual([
      B,
    ]);
  });
});

describe('Lambda retention configuration', () => {
  const base = { COGNITO_VAULT_TO: 's3://vault/x', COGNITO_VAULT_USER_POOL_IDS: A };
  it('refuses KEEP_LAST 0, negative, fractional or non-numeric values before any backup', () => {
    for (const v of ['0', '-1', '1.5', 'two', '0x10', '1e3', ' ']) {
      if (v.trim() === '') continue;
      expect(() => configFromEnv({ ...base, COGNITO_VAULT_KEEP_LAST: v }), v).toThrow(
        /COGNITO_VAULT_KEEP_LAST/,
      );
    }
    for (const name of ['COGNITO_VAULT_KEEP_DAILY', 'COGNITO_VAULT_KEEP_MONTHLY']) {
      for (const v of ['-1', '1.5', 'x', '99999999999999999999']) {
        expect(
          () => configFromEnv({ ...base, COGNITO_VAULT_KEEP_LAST: '1', [name]: v }),
          `${name}=${v}`,
        ).toThrow(new RegExp(name));
      }
    }
  });

  it('COGNITO_VAULT_MAX_RPS: CATEGORY=N pairs, checked like --max-rps', () => {
    expect(
      configFromEnv({ ...base, COGNITO_VAULT_MAX_RPS: 'UserList=0.8, UserCreation=20' }).maxRps,
    ).toEqual({ UserList: 0.8, UserCreation: 20 });
    expect(configFromEnv(base).maxRps).toBeUndefined();
    for (const v of ['UserList', 'UserList=0', 'Nope=3', 'UserList=-1', 'UserList=1e3']) {
      expect(() => configFromEnv({ ...base, COGNITO_VAULT_MAX_RPS: v }), v).toThrow(
        /COGNITO_VAULT_MAX_RPS/,
      );
    }
  });

  it('the errors are configuration errors (LAMBDA_CONFIG, exit 2)', () => {
    try {
      configFromEnv({ ...base, COGNITO_VAULT_KEEP_LAST: '0' });
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'LAMBDA_CONFIG', exitCode: 2 });
    }
  });

  it('takes a grace period for incomplete snapshots, at least an hour', () => {
    expect(
      configFromEnv({
        ...base,
        COGNITO_VAULT_KEEP_LAST: '3',
        COGNITO_VAULT_KEEP_DAILY: '0',
        COGNITO_VAULT_INCOMPLETE_GRACE: '3d',
      }).retention,
    ).toEqual({ keepLast: 3, keepDaily: 0, incompleteGraceMs: 3 * 86_400_000 });
    expect(() =>
      configFromEnv({
        ...base,
        COGNITO_VAULT_KEEP_LAST: '3',
        COGNITO_VAULT_INCOMPLETE_GRACE: '5m',
      }),
    ).toThrow(/COGNITO_VAULT_INCOMPLETE_GRACE must be at least 1h/);
    expect(() =>
      configFromEnv({ ...base, COGNITO_VAULT_KEEP_LAST: '3', COGNITO_VAULT_INCOMPLETE_GRACE: '7' }),
    ).toThrow(/COGNITO_VAULT_INCOMPLETE_GRACE/);
    expect(() => configFromEnv({ ...base, COGNITO_VAULT_INCOMPLETE_GRACE: '7d' })).toThrow(
      /need COGNITO_VAULT_KEEP_LAST/,
    );
  });

  it('refuses an event whose userPoolIds is not a list of strings', () => {
    expect(() => configFromEnv(base, { userPoolIds: A as unknown as string[] })).toThrow(
      /userPoolIds must be an array/,
    );
  });

  it('resume age: 24h by default (capped by the grace), off, a duration; never above the grace', () => {
    expect(configFromEnv(base).resumeMaxAgeMs).toBe(24 * 3_600_000);
    expect(
      configFromEnv({
        ...base,
        COGNITO_VAULT_KEEP_LAST: '3',
        COGNITO_VAULT_INCOMPLETE_GRACE: '2h',
      }).resumeMaxAgeMs,
    ).toBe(2 * 3_600_000);
    expect(configFromEnv({ ...base, COGNITO_VAULT_RESUME_MAX_AGE: 'off' }).resumeMaxAgeMs).toBe(
      undefined,
    );
    expect(configFromEnv({ ...base, COGNITO_VAULT_RESUME_MAX_AGE: '90m' }).resumeMaxAgeMs).toBe(
      5_400_000,
    );
    expect(() => configFromEnv({ ...base, COGNITO_VAULT_RESUME_MAX_AGE: 'soon' })).toThrow(
      /COGNITO_VAULT_RESUME_MAX_AGE must be a duration/,
    );
    expect(() =>
      configFromEnv({
        ...base,
        COGNITO_VAULT_KEEP_LAST: '3',
        COGNITO_VAULT_RESUME_MAX_AGE: '8d',
      }),
    ).toThrow(/must not exceed COGNITO_VAULT_INCOMPLETE_GRACE \(7d\)/);
  });
});

describe('Lambda resume', () => {
  it('resumes the newest resumable snapshot of a pool and says so in `resumed`', async () => {
    fakes.prune.mockResolvedValue({
      decisions: [],
      deletedObjects: 0,
      staleLeasesRemoved: 0,
      errors: [],
    });
    fakes.findResumable.mockImplementation(async (_s: unknown, pool: string) =>
      pool === A ? '2026-11-01T00-00-00-000Z' : undefined,
    );
    const r = await handler({}, { getRemainingTimeInMillis: () => 900_000 });
    expect(r.resumed).toEqual([{ userPoolId: A, snapshotId: '2026-11-01T00-00-00-000Z' }]);
    const calls = fakes.backup.mock.calls.map(
      (c) => c[2] as { userPoolId: string; resume?: string },
    );
    expect(calls.map((o) => [o.userPoolId, o.resume])).toEqual([
      [A, '2026-11-01T00-00-00-000Z'],
      [B, undefined],
    ]);
    expect(fakes.findResumable.mock.calls[0]?.[2]).toMatchObject({
      maxAgeMs: 24 * 3_600_000,
      includeSecrets: false,
    });
  });

  it('a failed lookup starts a new snapshot; an interrupted backup names its snapshot', async () => {
    fakes.prune.mockResolvedValue({
      decisions: [],
      deletedObjects: 0,
      staleLeasesRemoved: 0,
      errors: [],
    });
    fakes.findResumable.mockRejectedValue(new StorageError('S3_ERROR', 'listing failed'));
    fakes.backup.mockImplementation(
      async (_gw: unknown, _s: unknown, o: { userPoolId: string }) => {
        if (o.userPoolId === B)
          throw new InterruptedError('stopped', { snapshotId: '2026-11-02T00-00-00-000Z' });
        return fakeBackup(o.userPoolId);
      },
    );
    await expect(handler({}, { getRemainingTimeInMillis: () => 900_000 })).rejects.toThrow(
      /1 of 2 pool backups failed/,
    );
    const calls = fakes.backup.mock.calls.map((c) => (c[2] as { resume?: string }).resume);
    expect(calls).toEqual([undefined, undefined]);
    const logged = vi.mocked(console.error).mock.calls.map((c) => String(c[0]));
    expect(logged.some((l) => l.includes('"snapshotId":"2026-11-02T00-00-00-000Z"'))).toBe(true);
  });
});

describe('Lambda: several Regions', () => {
  const base = { COGNITO_VAULT_TO: 's3://vault/x', AWS_REGION: 'us-east-1' };

  it('COGNITO_VAULT_REGIONS: a list or all, with USER_POOL_IDS=* only, validated', () => {
    const all = { ...base, COGNITO_VAULT_USER_POOL_IDS: '*' };
    expect(
      planRegions(configFromEnv({ ...all, COGNITO_VAULT_REGIONS: 'eu-west-1,us-east-1' })),
    ).toEqual([{ region: 'eu-west-1' }, { region: 'us-east-1' }]);
    const everywhere = planRegions(configFromEnv({ ...all, COGNITO_VAULT_REGIONS: 'all' }));
    expect(everywhere.length).toBeGreaterThan(20);
    expect(everywhere.find((p) => p.region === 'af-south-1')).toEqual({
      region: 'af-south-1',
      optional: true,
    });
    expect(planRegions(configFromEnv(all))).toEqual([{ region: 'us-east-1' }]);
    for (const bad of ['', 'us-east-1,', 'mars-1', 'eu-west-1,eu-west-1']) {
      expect(() => configFromEnv({ ...all, COGNITO_VAULT_REGIONS: bad }), bad).toThrow(
        expect.objectContaining({ code: 'LAMBDA_CONFIG', exitCode: 2 }),
      );
    }
    expect(() =>
      configFromEnv({ ...base, COGNITO_VAULT_USER_POOL_IDS: A, COGNITO_VAULT_REGIONS: 'all' }),
    ).toThrow(/COGNITO_VAULT_REGIONS goes with COGNITO_VAULT_USER_POOL_IDS=\* only/);
  });

  it('named pools of two Regions: one gateway per Region, each pool through its own Region', async () => {
    const E = 'eu-west-1_PoolE';
    process.env.COGNITO_VAULT_USER_POOL_IDS = `${A},${E},${B}`;
    fakes.prune.mockResolvedValue({
      decisions: [],
      deletedObjects: 0,
      staleLeasesRemoved: 0,
      errors: [],
    });
    const seen: [string, string][] = [];
    fakes.backup.mockImplementation(
      async (
        gw: { client: { config: { region: () => Promise<string> } } },
        _s: unknown,
        o: { userPoolId: string },
      ) => {
        seen.push([o.userPoolId, await gw.client.config.region()]);
        return fakeBackup(o.userPoolId);
      },
    );
    const r = await handler({});
    expect(seen.sort()).toEqual(
      [
        [E, 'eu-west-1'],
        [A, 'us-east-1'],
        [B, 'us-east-1'],
      ].sort(),
    );
    expect(r.snapshots.map((x) => [x.region, x.userPoolId])).toEqual([
      ['us-east-1', A],
      ['us-east-1', B],
      ['eu-west-1', E],
    ]);
    expect(r.regions.map((x) => [x.region, x.backedUp])).toEqual([
      ['us-east-1', 2],
      ['eu-west-1', 1],
    ]);
  });

  it('a failing pool in one Region does not stop the other Region; the handler then throws', async () => {
    const E = 'eu-west-1_PoolE';
    process.env.COGNITO_VAULT_USER_POOL_IDS = `${A},${E}`;
    delete process.env.COGNITO_VAULT_KEEP_LAST;
    fakes.backup.mockImplementation(
      async (_gw: unknown, _s: unknown, o: { userPoolId: string }) => {
        if (o.userPoolId === A) throw new StorageError('UNWRITABLE', 'denied');
        return fakeBackup(o.userPoolId);
      },
    );
    await expect(handler({})).rejects.toThrow(/1 of 2 pool backups failed: us-east-1_PoolA/);
    expect(fakes.backup).toHaveBeenCalledTimes(2);
  });
});

describe('Lambda encryption (COGNITO_VAULT_ENCRYPT_TO)', () => {
  const base = { COGNITO_VAULT_TO: 's3://vault/x', COGNITO_VAULT_USER_POOL_IDS: A };
  // Public keys of throwaway identities (generateX25519Identity), used only here.
  const R1 = 'age1mhfkp9ejvjzqa384ctxutq7g804vzaqshjp3pm7nwvk323wm2s0q0vsv2a';
  const R2 = 'age1ehftud3rv2mcyyxghpcdrl9n0dkxy4rfahxgkffjy32f8c9mha5qluesc5';

  it('takes recipients, comma- or space-separated, deduplicated', () => {
    expect(configFromEnv({ ...base }).encryptTo).toBeUndefined();
    expect(
      configFromEnv({ ...base, COGNITO_VAULT_ENCRYPT_TO: ` ${R1},${R2}  ${R1}` }).encryptTo,
    ).toEqual([R1, R2]);
  });

  it('refuses a malformed recipient or an empty value (LAMBDA_CONFIG, exit 2)', () => {
    for (const v of ['', ' , ', `${R1.slice(0, -1)}q`, 'AGE-SECRET-KEY-1XYZ', 'ssh-rsa AAAA']) {
      try {
        configFromEnv({ ...base, COGNITO_VAULT_ENCRYPT_TO: v });
        expect.unreachable(v);
      } catch (e) {
        expect(e, v).toMatchObject({ code: 'LAMBDA_CONFIG', exitCode: 2 });
        expect((e as Error).message).toMatch(/COGNITO_VAULT_ENCRYPT_TO/);
      }
    }
  });

  it('passes the recipients to every backup', async () => {
    process.env.COGNITO_VAULT_ENCRYPT_TO = R1;
    delete process.env.COGNITO_VAULT_KEEP_LAST;
    await handler({});
    expect(fakes.backup).toHaveBeenCalledTimes(2);
    for (const c of fakes.backup.mock.calls) {
      expect((c[2] as { encryptTo?: string[] }).encryptTo).toEqual([R1]);
    }
  });
});

describe('Lambda per-user MFA (COGNITO_VAULT_USER_MFA)', () => {
  it('off by default: no AdminGetUser per user (each one is a billed MAU)', async () => {
    fakes.prune.mockResolvedValue({ decisions: [], errors: [] });
    await handler({});
    for (const call of fakes.backup.mock.calls) expect(call[2]).not.toHaveProperty('userMfa');
    expect(configFromEnv(process.env).userMfa).toBe(false);
  });

  it('true: every backup runs with userMfa, and the result says how many users were billed', async () => {
    process.env.COGNITO_VAULT_USER_MFA = 'true';
    fakes.prune.mockResolvedValue({ decisions: [], errors: [] });
    fakes.backup.mockImplementation(
      async (_gw: unknown, _s: unknown, o: { userPoolId: string; userMfa?: boolean }) => ({
        ...fakeBackup(o.userPoolId),
        ...(o.userMfa
          ? { userMfa: { usersRead: 1, billedAsMau: 1, factors: {}, vanished: 0 } }
          : {}),
      }),
    );
    const r = await handler({});
    expect(fakes.backup.mock.calls.map((c) => (c[2] as { userMfa?: boolean }).userMfa)).toEqual([
      true,
      true,
    ]);
    expect(r.snapshots.map((s) => s.userMfa?.billedAsMau)).toEqual([1, 1]);
  });

  it('anything but true/false is a configuration error (LAMBDA_CONFIG, exit 2), before any backup', async () => {
    process.env.COGNITO_VAULT_USER_MFA = 'yes';
    expect(() => configFromEnv(process.env)).toThrow(
      expect.objectContaining({ code: 'LAMBDA_CONFIG', exitCode: 2 }),
    );
    await expect(handler({})).rejects.toMatchObject({ code: 'LAMBDA_CONFIG' });
    expect(fakes.backup).not.toHaveBeenCalled();
  });
});

describe('the drill handler reads its environment through env.ts and config.ts', () => {
  const base = { COGNITO_VAULT_TO: 's3://vault/snapshots', AWS_REGION: 'us-east-1' };
  it('sample, seed and the common settings; a bad sample names its variable', async () => {
    const { drillConfigFromEnv } = await import('../../src/lambda/config.js');
    expect(
      drillConfigFromEnv({
        ...base,
        COGNITO_VAULT_DRILL_SAMPLE: ' 25 ',
        COGNITO_VAULT_DRILL_SEED: 's1',
        COGNITO_VAULT_RATE_SHARE: '0.25',
        COGNITO_VAULT_DEADLINE_MARGIN_MS: '90000',
      }),
    ).toMatchObject({ sample: 25, seed: 's1', rateShare: 0.25, deadlineMarginMs: 90_000 });
    expect(drillConfigFromEnv(base)).not.toHaveProperty('sample');
    for (const bad of ['abc', '0', '-3', '1.5'])
      expect(() => drillConfigFromEnv({ ...base, COGNITO_VAULT_DRILL_SAMPLE: bad })).toThrow(
        /COGNITO_VAULT_DRILL_SAMPLE/,
      );
    expect(() => drillConfigFromEnv({ ...base, COGNITO_VAULT_RATE_SHARE: '2' })).toThrow(
      /COGNITO_VAULT_RATE_SHARE/,
    );
  });

  it('a bad environment fails the invocation before any storage or Cognito call', async () => {
    const { drill } = await import('../../src/lambda/drill.js');
    Object.assign(process.env, { ...base, COGNITO_VAULT_DRILL_SAMPLE: 'many' });
    await expect(drill({ userPoolId: A })).rejects.toMatchObject({
      code: 'LAMBDA_CONFIG',
      message: expect.stringMatching(/COGNITO_VAULT_DRILL_SAMPLE/) as unknown,
    });
    await expect(drill({ userPoolId: 'not a pool' })).rejects.toMatchObject({
      code: 'LAMBDA_CONFIG',
    });
  });
});
