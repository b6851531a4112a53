import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  AdminDeleteUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminUpdateUserAttributesCommand,
  type CognitoIdentityProviderClient,
  DeleteGroupCommand,
  DeleteIdentityProviderCommand,
  DeleteUserPoolClientCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { forEachConcurrent } from '../../src/core/concurrency.js';
import { seedPool } from '../../testing/seed.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { cliEnv, type Run, startCli } from '../support/cli.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import {
  expectUnchangedOutside,
  listPool,
  type PoolListing,
  withoutSub,
} from '../support/pool-listing.js';

/**
 * The six everyday incidents, each undone by a selective restore run as the CLI, judged by
 * listing the pool with the raw AWS SDK before the incident and after the restore (never with
 * the code under test): the selection is back as it was in the snapshot, and everything outside
 * it is exactly as before. Then SIGKILL during a selective restore, and the same command again:
 * the exact result.
 *
 * What a restore cannot give back, by Cognito's design, is asserted as such: a re-created user
 * has a new sub (in the sub map) and lands CONFIRMED with a password nobody knows; a re-created
 * app client has a new id (in the client id map) and, from a snapshot without
 * --include-secrets, a new secret.
 */
const USERS = 1000;

let fixture: MotoFixture | undefined;
let raw: CognitoIdentityProviderClient;
let work: string;
let endpoint: string;
let poolId: string;
let snapshot: string;
let secrets: string;
let runs = 0;

beforeAll(async () => {
  fixture = await startMotoFixture('cv-incidents-');
  ({ raw, work } = fixture);
  endpoint = fixture.moto.endpoint;
  const seeded = await seedPool(fixture.gw, {
    users: USERS,
    groups: 6,
    poolName: 'incidents',
    statuses: false,
    concurrency: 16,
  });
  poolId = seeded.userPoolId;
  const root = new LocalDirStorage(path.join(work, 'backups'));
  const b = await backupPool(fixture.gw, root, { userPoolId: poolId });
  snapshot = path.join(root.location, poolId, b.manifest.snapshotId);
  secrets = path.join(work, 'idp-secrets.json');
  writeFileSync(secrets, JSON.stringify({ Google: { client_secret: 'demo-google-secret' } }));
}, 300_000);

afterAll(async () => {
  await fixture?.stop();
});

function args(extra: string[], stateDir = path.join(work, `state-${++runs}`)): string[] {
  return [
    'restore',
    '--from',
    snapshot,
    '--to-user-pool-id',
    poolId,
    '--state-dir',
    stateDir,
    '--endpoint-url',
    endpoint,
    // Paced above Cognito's quotas: the emulator has none, and the test has a budget.
    '--max-rps',
    'UserUpdate=400',
    '--max-rps',
    'UserCreation=200',
    '--max-rps',
    'UserAccountRecovery=200',
    '--max-rps',
    'UserList=200',
    '--json',
    ...extra,
  ];
}

async function restore(extra: string[]): Promise<Run> {
  return startCli(args(extra), {
    env: cliEnv(work, endpoint),
    cwd: work,
    timeoutMs: 300_000,
  }).done;
}

const U = (i: number) => `user-${String(i).padStart(6, '0')}`;

interface Incident {
  name: string;
  /** Breaks the pool (raw SDK); returns what is allowed to differ afterwards. */
  incident: (before: PoolListing) => Promise<void>;
  selection: string[];
  /** What the restore brings back (checked against `before`). */
  check: (before: PoolListing, after: PoolListing) => void;
  except: Parameters<typeof expectUnchangedOutside>[2];
}

const GROUP = 'team-002';

const INCIDENTS: Incident[] = [
  {
    name: 'a support admin deleted one user',
    incident: async () => {
      await raw.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: U(17) }));
    },
    selection: ['--user', U(17)],
    check: (before, after) => {
      expect(withoutSub(after.users.get(U(17)))).toEqual({
        ...withoutSub(before.users.get(U(17))),
        status: 'CONFIRMED',
      });
    },
    except: { users: [U(17)] },
  },
  {
    name: 'a script overwrote one attribute of 1,000 users',
    incident: async (before) => {
      await forEachConcurrent([...before.users.keys()], 16, async (u) => {
        await raw.send(
          new AdminUpdateUserAttributesCommand({
            UserPoolId: poolId,
            Username: u,
            UserAttributes: [{ Name: 'custom:tier', Value: 'free' }],
          }),
        );
      });
    },
    selection: ['--differences', '--existing', 'revert'],
    check: (before, after) => {
      expect(after.users).toEqual(before.users);
    },
    except: {},
  },
  {
    name: 'someone deleted a group',
    incident: async () => {
      await raw.send(new DeleteGroupCommand({ UserPoolId: poolId, GroupName: GROUP }));
    },
    selection: ['--group', GROUP],
    check: (before, after) => {
      expect(after.groups.get(GROUP)).toEqual(before.groups.get(GROUP));
      expect(after.users).toEqual(before.users);
    },
    except: {},
  },
  {
    name: 'users were removed from a group',
    incident: async (before) => {
      const members = [...before.users].filter(([, u]) => u.groups.includes('everyone'));
      expect(members.length).toBeGreaterThan(100);
      await forEachConcurrent(members.slice(0, 100), 8, async ([u]) => {
        await raw.send(
          new AdminRemoveUserFromGroupCommand({
            UserPoolId: poolId,
            Username: u,
            GroupName: 'everyone',
          }),
        );
      });
    },
    selection: ['--group', 'everyone'],
    check: (before, after) => {
      expect(after.users).toEqual(before.users);
    },
    except: {},
  },
  {
    name: 'an app client was deleted',
    incident: async (before) => {
      const id = before.clients.get('machine')?.id;
      await raw.send(new DeleteUserPoolClientCommand({ UserPoolId: poolId, ClientId: id }));
    },
    selection: ['--client', 'machine'],
    check: (before, after) => {
      const strip = (
        c: PoolListing['clients'] extends Map<string, infer V> ? V | undefined : never,
      ) => {
        const { ClientSecret, ...rest } = c?.settings ?? {};
        return { secret: typeof ClientSecret, rest };
      };
      expect(strip(after.clients.get('machine'))).toEqual(strip(before.clients.get('machine')));
      expect(after.clients.get('machine')?.id).not.toBe(before.clients.get('machine')?.id);
    },
    except: { clients: ['machine'] },
  },
  {
    name: 'an identity provider was deleted',
    incident: async () => {
      await raw.send(
        new DeleteIdentityProviderCommand({ UserPoolId: poolId, ProviderName: 'Google' }),
      );
    },
    selection: ['--identity-provider', 'Google', '--idp-secrets', ''],
    check: (before, after) => {
      expect(after.identityProviders.get('Google')).toEqual(before.identityProviders.get('Google'));
    },
    except: {},
  },
];

describe('undo an incident: six cases, each exact, nothing else touched', () => {
  for (const c of INCIDENTS) {
    it(
      c.name,
      async () => {
        const before = await listPool(raw, poolId);
        await c.incident(before);
        const broken = await listPool(raw, poolId);
        expect(broken).not.toEqual(before);
        const selection = c.selection.map((a) => (a === '' ? secrets : a));
        const r = await restore(selection);
        expect(r.code, r.stderr).toBe(0);
        const result = JSON.parse(r.stdout) as { usersWritten: number; requests: number };
        console.log(
          `${c.name}: ${(r.ms / 1000).toFixed(1)} s wall, ${result.requests} requests, ${result.usersWritten} users written`,
        );
        const after = await listPool(raw, poolId);
        c.check(before, after);
        expectUnchangedOutside(before, after, c.except);
      },
      300_000,
    );
  }
});

function journalUsers(file: string): number {
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'utf8').split('{"t":"u",').length - 1;
}

describe('kill -9 during a selective restore', () => {
  it('the same command again ends exactly: every selected user once, memberships and attributes back', async () => {
    const before = await listPool(raw, poolId);
    const deleted = [...before.users.keys()].filter((_, i) => i % 5 === 1).slice(0, 150);
    const changed = [...before.users.keys()].filter((_, i) => i % 5 === 2).slice(0, 50);
    await forEachConcurrent(deleted, 16, async (u) => {
      await raw.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: u }));
    });
    await forEachConcurrent(changed, 16, async (u) => {
      await raw.send(
        new AdminUpdateUserAttributesCommand({
          UserPoolId: poolId,
          Username: u,
          UserAttributes: [{ Name: 'given_name', Value: 'Mallory' }],
        }),
      );
    });
    const list = path.join(work, 'incident-users.txt');
    writeFileSync(list, [...deleted, ...changed].join('\n'));
    const stateDir = path.join(work, 'state-kill');
    const journal = path.join(stateDir, 'journal.jsonl');
    // Slow creation down so the kill lands mid-way.
    const cmd = [
      ...args(['--users-from', list, '--existing', 'revert'], stateDir),
      '--max-rps',
      'UserCreation=40',
    ];
    const killAt = 20 + Math.floor(Math.random() * 80);
    const started = startCli(cmd, { env: cliEnv(work, endpoint), cwd: work, timeoutMs: 300_000 });
    const timer = setInterval(() => {
      if (journalUsers(journal) >= killAt) started.child.kill('SIGKILL');
    }, 5);
    const first = await started.done;
    clearInterval(timer);
    expect(first.signal, first.stderr).toBe('SIGKILL');
    expect(journalUsers(journal)).toBeLessThan(deleted.length);
    const second = await startCli(cmd, {
      env: cliEnv(work, endpoint),
      cwd: work,
      timeoutMs: 300_000,
    }).done;
    expect(second.code, second.stderr).toBe(0);
    const r = JSON.parse(second.stdout) as {
      created: number;
      reverted: number;
      resumed: boolean;
      subMap: string;
    };
    expect(r.resumed).toBe(true);
    expect(r.created).toBe(deleted.length);
    const subMap = readFileSync(r.subMap, 'utf8').trim().split('\n');
    expect(subMap).toHaveLength(deleted.length);
    expect(new Set(subMap.map((l) => (JSON.parse(l) as { username: string }).username)).size).toBe(
      deleted.length,
    );
    const after = await listPool(raw, poolId);
    expect(after.users.size).toBe(before.users.size);
    for (const u of deleted)
      expect(withoutSub(after.users.get(u))).toEqual({
        ...withoutSub(before.users.get(u)),
        status: 'CONFIRMED',
      });
    expectUnchangedOutside(before, after, { users: deleted });
  }, 300_000);
});
