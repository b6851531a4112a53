import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminUpdateUserAttributesCommand,
  CreateGroupCommand,
  type UserType,
  paginateListGroups,
  paginateListUsers,
  paginateListUsersInGroup,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CognitoGateway, items } from '../../src/cognito/gateway.js';
import { seedPool, type SeedResult } from '../../testing/seed.js';
import { MOTO_ENV, startMoto, type MotoServer } from '../support/moto.js';

/**
 * `cognito-vault diff` as a user runs it (built CLI, moto): back up a pool, change it, diff.
 */
const CLI = path.resolve('dist/cli/main.js');
let moto: MotoServer;
let seed: SeedResult;
let work: string;
let snapshot: string;
let gw: CognitoGateway;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  return promisify(execFile)(process.execPath, [CLI, ...args], {
    cwd: work,
    env: {
      PATH: process.env.PATH,
      HOME: work,
      ...MOTO_ENV,
      AWS_CONFIG_FILE: path.join(work, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'none'),
      TMPDIR: path.join(work, 'tmp'),
    },
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: Run) => e,
  );
}

const diffArgs = (...more: string[]): string[] => [
  'diff',
  snapshot,
  '--user-pool-id',
  seed.userPoolId,
  '--endpoint-url',
  moto.endpoint,
  '--quiet',
  ...more,
];

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  work = await mkdtemp(path.join(tmpdir(), 'cv-diff-it-'));
  await mkdir(path.join(work, 'tmp'));
  moto = await startMoto();
  gw = CognitoGateway.create(
    {
      region: 'us-east-1',
      endpointUrl: moto.endpoint,
      credentials: {
        accessKeyId: MOTO_ENV.AWS_ACCESS_KEY_ID,
        secretAccessKey: MOTO_ENV.AWS_SECRET_ACCESS_KEY,
      },
    },
    { rate: { unlimited: true } },
  );
  seed = await seedPool(gw, { users: 150, groups: 4 });
  const b = await cli([
    'backup',
    '--user-pool-id',
    seed.userPoolId,
    '--endpoint-url',
    moto.endpoint,
    '--to',
    path.join(work, 'backups'),
    '--json',
    '--quiet',
  ]);
  expect(b.code, b.stderr).toBe(0);
  snapshot = (JSON.parse(b.stdout) as { snapshot: string }).snapshot;
}, 180_000);

afterAll(async () => {
  gw?.destroy();
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('cognito-vault diff (built CLI, moto)', () => {
  it('an unchanged pool: exit 0, IDENTICAL, counts only', async () => {
    const r = await cli(diffArgs());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^IDENTICAL: /);
    expect(r.stdout).toMatch(
      /users: 150 in the snapshot, 150 in the pool, 150 matched by username/,
    );
    const j = await cli(diffArgs('--json'));
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ equal: true, onlyInSnapshot: 0, onlyInPool: 0 });
  });

  it('a changed pool: exit 9, every class counted, no usernames on the console; --details 0600', async () => {
    const users: UserType[] = [];
    for await (const u of items(
      gw.pages(paginateListUsers, { UserPoolId: seed.userPoolId }),
      'Users',
    ))
      users.push(u);
    const enabled = users.filter((u) => u.Enabled !== false);
    const [gone, edited, disabled, member] = enabled;
    if (!gone?.Username || !edited?.Username || !disabled?.Username || !member?.Username)
      throw new Error('seed too small');
    const raw = gw.client;
    await raw.send(
      new AdminDeleteUserCommand({ UserPoolId: seed.userPoolId, Username: gone.Username }),
    );
    await raw.send(
      new AdminUpdateUserAttributesCommand({
        UserPoolId: seed.userPoolId,
        Username: edited.Username,
        UserAttributes: [{ Name: 'given_name', Value: 'Changed-Value-XYZ' }],
      }),
    );
    await raw.send(
      new AdminDisableUserCommand({ UserPoolId: seed.userPoolId, Username: disabled.Username }),
    );
    let group: string | undefined;
    for await (const g of items(
      gw.pages(paginateListGroups, { UserPoolId: seed.userPoolId }),
      'Groups',
    )) {
      const input = { UserPoolId: seed.userPoolId, GroupName: g.GroupName ?? '' };
      for await (const u of items(gw.pages(paginateListUsersInGroup, input), 'Users')) {
        if (u.Username && ![gone, edited, disabled].some((x) => x.Username === u.Username)) {
          group = g.GroupName;
          await raw.send(
            new AdminRemoveUserFromGroupCommand({
              UserPoolId: seed.userPoolId,
              Username: u.Username,
              GroupName: group,
            }),
          );
          break;
        }
      }
      if (group) break;
    }
    await raw.send(
      new CreateGroupCommand({ UserPoolId: seed.userPoolId, GroupName: 'added-after-backup' }),
    );

    const r = await cli(diffArgs('--json', '--details', 'details.jsonl'));
    expect(r.code, r.stderr).toBe(9);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({
      equal: false,
      onlyInSnapshot: 1,
      onlyInPool: 0,
      changed: { attributes: 1, enabled: 1, groups: 1, status: 0, total: 3 },
      resources: { group: { onlyInPool: ['added-after-backup'], onlyInSnapshot: [] } },
      details: path.join(work, 'details.jsonl'),
    });
    // PII: no username and no attribute value on stdout or stderr.
    for (const u of [gone, edited, disabled])
      expect(r.stdout + r.stderr).not.toContain(u.Username as string);
    expect(r.stdout + r.stderr).not.toContain('Changed-Value-XYZ');
    // The details file: 0600, names the users (not the values).
    const file = path.join(work, 'details.jsonl');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const lines = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; class?: string; only?: string });
    expect(lines.find((l) => l.key === gone.Username)).toMatchObject({ only: 'A' });
    expect(lines.find((l) => l.key === edited.Username)).toMatchObject({ class: 'attributes' });
    expect(await readFile(file, 'utf8')).not.toContain('Changed-Value-XYZ');

    // Text output: counts and resource names; an existing details file is never overwritten.
    const t = await cli(diffArgs());
    expect(t.code).toBe(9);
    expect(t.stdout).toMatch(/^DIFFERENT: /);
    expect(t.stdout).toMatch(/only in the snapshot: 1/);
    expect(t.stdout).toMatch(/changed: +3 \(attributes 1, status 0, enabled 1, groups 1\)/);
    expect(t.stdout).toMatch(/groups: only in the pool: added-after-backup/);
    const again = await cli(diffArgs('--details', 'details.jsonl'));
    expect(again.code).toBe(8);
    expect(again.stderr).toMatch(/already exists/);
    // The spill directories (under TMPDIR) are gone after every run.
    expect(await readdir(path.join(work, 'tmp'))).toEqual([]);
  });

  it('bad usage is exit 2 in one line', async () => {
    const r = await cli(['diff', snapshot, '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--user-pool-id/);
  });
});
