import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  AdminCreateUserCommand,
  CognitoIdentityProviderClient,
  type CreateUserPoolCommandInput,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  CreateUserPoolCommand,
  paginateListUserPools,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoGateway, items } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import { planPoolCreation } from '../../src/restore/pool/target.js';
import { PoolDocument, SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import { MOTO_ENV, type MotoServer } from '../support/moto.js';

/**
 * The preflight through the CLI (`node dist/cli/main.js restore`, built by `npm test` before
 * vitest): every refusal has its own message and exit code, and nothing is written.
 */
const CLI = path.resolve('dist/cli/main.js');

let fixture: MotoFixture | undefined;
let moto: MotoServer;
let gw: CognitoGateway;
let raw: CognitoIdentityProviderClient;
let work: string;
let snapshot: string;
let doc: PoolDocument;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...MOTO_ENV };
    delete env.AWS_PROFILE;
    const child = spawn(process.execPath, [CLI, ...args, '--endpoint-url', moto.endpoint], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What a restore would have written into a pool. */
async function contents(poolId: string) {
  const [u, g, c, i, r] = await Promise.all([
    raw.send(new ListUsersCommand({ UserPoolId: poolId, Limit: 60 })),
    raw.send(new ListGroupsCommand({ UserPoolId: poolId, Limit: 60 })),
    raw.send(new ListUserPoolClientsCommand({ UserPoolId: poolId, MaxResults: 60 })),
    raw.send(new ListIdentityProvidersCommand({ UserPoolId: poolId, MaxResults: 60 })),
    raw.send(new ListResourceServersCommand({ UserPoolId: poolId, MaxResults: 50 })),
  ]);
  return {
    users: u.Users?.length ?? 0,
    groups: g.Groups?.length ?? 0,
    clients: c.UserPoolClients?.length ?? 0,
    idps: i.Providers?.length ?? 0,
    servers: r.ResourceServers?.length ?? 0,
  };
}

const EMPTY = { users: 0, groups: 0, clients: 0, idps: 0, servers: 0 };

/** A target pool: the snapshot's own settings, changed by `edit`. */
async function targetPool(
  name: string,
  edit: (i: CreateUserPoolCommandInput) => void = () => undefined,
) {
  const input = planPoolCreation(doc, name).input;
  edit(input);
  const { UserPool: p } = await gw.send(new CreateUserPoolCommand(input));
  return p?.Id ?? '';
}

async function refused(args: string[], target: string, exit: number, lines: string[]) {
  const stateDir = path.join(work, `state-${Math.random().toString(36).slice(2)}`);
  const before = await contents(target);
  const r = await cli([
    'restore',
    '--from',
    snapshot,
    '--to-user-pool-id',
    target,
    '--state-dir',
    stateDir,
    ...args,
  ]);
  expect(r.code, r.stderr).toBe(exit);
  for (const l of lines) expect(r.stderr).toContain(l);
  expect(await contents(target)).toEqual(before);
  expect(existsSync(stateDir)).toBe(false);
  return r;
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  fixture = await startMotoFixture('cv-restore-preflight-');
  ({ moto, gw, raw, work } = fixture);
  const seeded = await seedPool(gw, { users: 40, groups: 4, poolName: 'preflight-source' });
  const root = new LocalDirStorage(path.join(work, 'snapshots'));
  const b = await backupPool(gw, root, { userPoolId: seeded.userPoolId });
  snapshot = path.join(root.location, seeded.userPoolId, b.manifest.snapshotId);
  doc = await (
    await SnapshotReader.open(new LocalDirStorage(snapshot))
  ).readJson('pool', PoolDocument);
});

afterAll(async () => {
  await fixture?.stop();
});

describe('restore preflight through the CLI', () => {
  it('refuses a target without a custom attribute the users carry (exit 4)', async () => {
    const target = await targetPool('no-tier', (i) => {
      i.Schema = i.Schema?.filter((s) => s.Name !== 'tier');
    });
    await refused([], target, 4, [
      "custom attribute custom:tier: the snapshot's users carry it, the target pool's schema does not have it",
    ]);
  });

  it('refuses different UsernameAttributes (exit 4)', async () => {
    const target = await targetPool('by-email', (i) => {
      i.UsernameAttributes = ['email'];
      delete i.AliasAttributes;
    });
    await refused([], target, 4, [
      'UsernameAttributes: snapshot none, target [email]',
      'AliasAttributes: snapshot [email], target none',
    ]);
  });

  it('refuses a different username case sensitivity (exit 4)', async () => {
    const target = await targetPool('case', (i) => {
      i.UsernameConfiguration = { CaseSensitive: true };
    });
    const r = await refused([], target, 4, [
      'UsernameConfiguration.CaseSensitive: snapshot false, target true',
    ]);
    // Only that difference: one line per difference.
    expect(r.stderr).not.toContain('UsernameAttributes');
  });

  it('refuses a target that has users, unless --merge (exit 4)', async () => {
    const target = await targetPool('not-empty');
    await raw.send(
      new AdminCreateUserCommand({
        UserPoolId: target,
        Username: 'someone',
        MessageAction: 'SUPPRESS',
      }),
    );
    await refused([], target, 4, ['the target pool already has users', '--merge']);
    // With --merge the same target passes the preflight (dry run: still nothing written).
    const r = await cli([
      'restore',
      '--from',
      snapshot,
      '--to-user-pool-id',
      target,
      '--merge',
      '--dry-run',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { dryRun: boolean; users: { toCreate: number } };
    expect(plan.dryRun).toBe(true);
    expect(plan.users.toCreate).toBe(40);
    expect(await contents(target)).toEqual({ ...EMPTY, users: 1 });
  });

  it('refuses --legacy-sub-attribute when the target lacks custom:NAME (exit 4)', async () => {
    const target = await targetPool('no-legacy');
    await refused(['--legacy-sub-attribute', 'old_sub'], target, 4, [
      '--legacy-sub-attribute old_sub: the target pool has no custom:old_sub attribute',
    ]);
  });

  it('refuses a bad --users path, import-job without a logs role, a malformed role ARN (exit 2)', async () => {
    const target = await targetPool('users-path');
    await refused(['--users', 'bulk'], target, 2, [
      '--users expects auto, import-job, admin-create',
    ]);
    await refused(['--users', 'import-job'], target, 2, ['--import-logs-role-arn']);
    await refused(['--users', 'import-job', '--import-logs-role-arn', 'my-role'], target, 2, [
      '--import-logs-role-arn expects an IAM role ARN',
    ]);
  });

  it('--webauthn-rp-id: only with --create-pool, and only a domain name (exit 2)', async () => {
    const target = await targetPool('webauthn-flag');
    const existing = await cli([
      'restore',
      '--from',
      snapshot,
      '--to-user-pool-id',
      target,
      '--webauthn-rp-id',
      'login.example.com',
    ]);
    expect(existing.code).toBe(2);
    expect(existing.stderr).toMatch(/--webauthn-rp-id .* needs --create-pool/);
    const bad = await cli([
      'restore',
      '--from',
      snapshot,
      '--create-pool',
      'never-created',
      '--webauthn-rp-id',
      'https://login.example.com/',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--webauthn-rp-id expects a domain name/);
    expect(await contents(target)).toEqual(EMPTY);
  });

  it('refuses an incomplete snapshot: no manifest (exit 3)', async () => {
    const target = await targetPool('incomplete');
    const copy = path.join(work, 'incomplete');
    await cp(snapshot, copy, { recursive: true });
    await rm(path.join(copy, 'manifest.json'));
    const before = await contents(target);
    const r = await cli(['restore', '--from', copy, '--to-user-pool-id', target]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('incomplete snapshot');
    expect(await contents(target)).toEqual(before);
  });

  it('refuses a corrupted snapshot file (exit 3), and a new pool is not created either', async () => {
    const copy = path.join(work, 'corrupt');
    await cp(snapshot, copy, { recursive: true });
    const part = path.join(copy, 'users', 'part-00003.jsonl.gz');
    const bytes = readFileSync(part);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    writeFileSync(part, bytes);
    const target = await targetPool('corrupt');
    const r1 = await cli(['restore', '--from', copy, '--to-user-pool-id', target]);
    expect(r1.code, r1.stderr).toBe(3);
    expect(r1.stderr).toContain('users/part-00003.jsonl.gz');
    expect(await contents(target)).toEqual(EMPTY);
    const collectNames = async () => {
      const names: string[] = [];
      for await (const p of items(gw.pages(paginateListUserPools, { MaxResults: 60 }), 'UserPools'))
        names.push(p.Name ?? '');
      return names;
    };
    const r2 = await cli([
      'restore',
      '--from',
      copy,
      '--create-pool',
      'never-made',
      '--state-dir',
      path.join(work, 'c2'),
    ]);
    expect(r2.code, r2.stderr).toBe(3);
    expect(await collectNames()).not.toContain('never-made');
    expect(existsSync(path.join(work, 'c2'))).toBe(false);
  });

  it('--dry-run on a compatible empty target prints the plan and writes nothing', async () => {
    const target = await targetPool('dry');
    const stateDir = path.join(work, 'dry-state');
    const r = await cli([
      'restore',
      '--from',
      snapshot,
      '--to-user-pool-id',
      target,
      '--dry-run',
      '--state-dir',
      stateDir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('dry run');
    expect(r.stdout).toMatch(/users\s+40 to create/);
    expect(r.stdout).toMatch(/groups\s+4 to create/);
    expect(r.stdout).toContain('nothing was written');
    expect(await contents(target)).toEqual(EMPTY);
    expect(existsSync(stateDir)).toBe(false);
  });
});
