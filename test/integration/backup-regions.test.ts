import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupRegions, regionsExitCode } from '../../src/backup/regions.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { cliEnv, startCli } from '../support/cli.js';
import { useMotoEnv } from '../support/env.js';
import { freePort, startMoto, type MotoServer } from '../support/moto.js';

/**
 * backup --all-pools --regions on moto, which serves every Region on one server (pool ids
 * carry the Region): two Regions with pools in each, one of them named alike in both.
 */
let moto: MotoServer;
let work: string;
const pools: Record<string, string[]> = { 'us-east-1': [], 'eu-west-1': [] };
const USERS = { 'us-east-1': 40, 'eu-west-1': 25 } as const;

function gatewayFor(endpointUrl: string) {
  return (region: string) => CognitoGateway.create({ region, endpointUrl });
}

beforeAll(async () => {
  useMotoEnv();
  moto = await startMoto();
  work = await mkdtemp(path.join(tmpdir(), 'cv-regions-'));
  for (const region of ['us-east-1', 'eu-west-1'] as const) {
    const gw = CognitoGateway.create(
      { region, endpointUrl: moto.endpoint },
      { rate: { unlimited: true } },
    );
    try {
      // The same pool name in both Regions: the snapshots must not collide.
      for (const name of ['same-name', `only-${region}`]) {
        const s = await seedPool(gw, {
          poolName: name,
          users: USERS[region],
          groups: 2,
          statuses: false,
          memberships: 'varied',
        });
        pools[region]?.push(s.userPoolId);
      }
    } finally {
      gw.destroy();
    }
  }
}, 120_000);

afterAll(async () => {
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('backupRegions (library)', () => {
  it('backs up every pool of both Regions, each into <root>/<poolId>/<snapshotId>', async () => {
    const dir = path.join(work, 'lib');
    const root = new LocalDirStorage(dir);
    const r = await backupRegions([{ region: 'us-east-1' }, { region: 'eu-west-1' }], root, {
      gatewayFor: gatewayFor(moto.endpoint),
      shards: 1,
    });
    expect(regionsExitCode(r)).toBe(0);
    expect(r.regions.map((x) => [x.region, x.status, x.pools, x.backedUp])).toEqual([
      ['us-east-1', 'ok', 2, 2],
      ['eu-west-1', 'ok', 2, 2],
    ]);
    const byRegion = (region: string) =>
      r.pools
        .filter((p) => p.region === region)
        .map((p) => p.userPoolId)
        .sort();
    expect(byRegion('us-east-1')).toEqual([...(pools['us-east-1'] ?? [])].sort());
    expect(byRegion('eu-west-1')).toEqual([...(pools['eu-west-1'] ?? [])].sort());
    // moto's ids carry the Region, as Cognito's do: the two "same-name" pools are two dirs.
    const dirs = (await readdir(dir)).sort();
    expect(dirs).toEqual([...(pools['us-east-1'] ?? []), ...(pools['eu-west-1'] ?? [])].sort());
    for (const p of r.pools) {
      if (!p.ok) throw new Error(`${p.userPoolId} failed: ${p.error.message}`);
      expect(p.userPoolId.startsWith(`${p.region}_`)).toBe(true);
      expect(p.result.users).toBe(USERS[p.region as keyof typeof USERS]);
      const reader = await SnapshotReader.open(root.child(`${p.userPoolId}/${p.snapshotId}`));
      expect(reader.manifest.userPool.region).toBe(p.region);
      expect((await reader.verify()).ok).toBe(true);
    }
    // One set of quota buckets per Region: each Region's report counts its own calls only.
    for (const x of r.regions) {
      expect(x.rates.find((c) => c.category === 'UserList')?.calls).toBeGreaterThan(0);
    }
  }, 120_000);

  it('a Region that cannot be reached fails alone: the other is backed up, exit 10', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const root = new LocalDirStorage(path.join(work, 'lib-dead'));
    const r = await backupRegions([{ region: 'us-east-1' }, { region: 'eu-west-1' }], root, {
      gatewayFor: (region) =>
        CognitoGateway.create({
          region,
          endpointUrl: region === 'eu-west-1' ? dead : moto.endpoint,
        }),
      shards: 1,
    });
    const eu = r.regions.find((x) => x.region === 'eu-west-1');
    expect(eu?.status).toBe('failed');
    expect(eu?.error?.exitCode).toBe(7);
    expect(r.pools.filter((p) => p.ok).map((p) => p.region)).toEqual(['us-east-1', 'us-east-1']);
    expect(regionsExitCode(r)).toBe(10);
  }, 120_000);
});

describe('cognito-vault backup --all-pools --regions (CLI)', () => {
  it('--json: one result per pool with its Region and snapshot id, exit 0', async () => {
    const to = path.join(work, 'cli');
    const run = await startCli(
      ['backup', '--all-pools', '--regions', 'eu-west-1,us-east-1', '--to', to, '--json'],
      { env: cliEnv(work, moto.endpoint), timeoutMs: 100_000 },
    ).done;
    expect(run.stderr).not.toMatch(/user-\d|@example/);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as {
      pools: { region: string; userPoolId: string; snapshotId?: string; users?: number }[];
      regions: { region: string; status: string }[];
    };
    expect(out.regions.map((x) => x.region)).toEqual(['eu-west-1', 'us-east-1']);
    expect(out.pools).toHaveLength(4);
    for (const p of out.pools) {
      expect(p.snapshotId).toMatch(/\S/);
      expect(p.userPoolId.startsWith(`${p.region}_`)).toBe(true);
    }
    // Progress lines carry their Region (JSON lines on stderr).
    expect(run.stderr).toMatch(/"region":"eu-west-1"/);
    expect(run.stderr).toMatch(/"region":"us-east-1"/);
    expect(JSON.stringify(out)).not.toMatch(/@example|"Attributes"/);
  }, 120_000);

  it('SIGTERM stops every Region: exit 130 on the abort alone (no failsafe timer), no manifest written', async () => {
    const to = path.join(work, 'cli-sigterm');
    const run = startCli(
      [
        'backup',
        '--all-pools',
        '--regions',
        'us-east-1,eu-west-1',
        '--to',
        to,
        '--json',
        '--max-rps',
        'UserList=2',
      ],
      // The shutdown failsafe (exit 130 anyway after 3 s) is pushed out of reach: the exit
      // below comes from every Region's work winding down on the abort, not from a timer. A
      // hang is the harness's SIGKILL (code null), never a pass; no wall-clock window.
      {
        env: cliEnv(work, moto.endpoint, { COGNITO_VAULT_SHUTDOWN_GRACE_MS: '600000' }),
        timeoutMs: 100_000,
      },
    );
    await run.waitFor(/"type":"users"/, 60_000);
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/cognito-vault: error: interrupted/);
    const files = existsSync(to) ? await readdir(to, { recursive: true }) : [];
    expect(files.filter((f) => path.basename(f) === 'manifest.json')).toEqual([]);
  }, 120_000);

  it('text output: one summary, progress lines prefixed with the Region', async () => {
    const to = path.join(work, 'cli-text');
    const r = await startCli(
      ['backup', '--all-pools', '--regions', 'us-east-1,eu-west-1', '--to', to],
      { env: cliEnv(work, moto.endpoint), timeoutMs: 100_000 },
    ).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^4 of 4 pools backed up in 2 Region\(s\)$/m);
    expect(r.stderr).toMatch(/^\[eu-west-1\] 2 pool\(s\)$/m);
    expect(r.stderr).toMatch(/^\[us-east-1 us-east-1_\w+\] backed up: \d+ users/m);
    expect(r.stderr + r.stdout).not.toMatch(/user-\d|@example/);
  }, 120_000);
});
