import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  CognitoIdentityProviderClient,
  DescribeUserPoolClientCommand,
  ListIdentityProvidersCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  CreateIdentityProviderCommand,
  CreateUserPoolClientCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import type { RestorePlan, RestoreResult } from '../../src/restore/types.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import { MOTO_ENV } from '../support/moto.js';

/**
 * One bad resource never sinks a restore (issue 9): a snapshot with a Sign in with Apple
 * provider (DescribeIdentityProvider never returns its private_key) and a provider Cognito
 * refuses (a fault proxy in front of moto answers its CreateIdentityProvider with
 * InvalidParameterException, as Cognito does for bad ProviderDetails). Everything else is
 * restored, the run exits 6 naming both, and the app client that named them is created without
 * them. The restore runs as the CLI (`node dist/cli/main.js`).
 */
const CLI = path.resolve('dist/cli/main.js');
const USERS = 30;

let fixture: MotoFixture | undefined;
let gw: CognitoGateway;
let raw: CognitoIdentityProviderClient;
let work: string;
let snapshot: string;
let secretsFile: string;
let proxy: http.Server | undefined;
let proxyUrl: string;
let refused = 0;

/** Forwards everything to moto, except CreateIdentityProvider for "Broken": a 400. */
function startFaultProxy(target: string): Promise<http.Server> {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop();
      if (op === 'CreateIdentityProvider') {
        const input = JSON.parse(body.toString('utf8')) as { ProviderName?: string };
        if (input.ProviderName === 'Broken') {
          refused++;
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(
            JSON.stringify({
              __type: 'InvalidParameterException',
              message: 'Invalid ProviderDetails: oidc_issuer could not be reached',
            }),
          );
          return;
        }
      }
      const fwd = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      fwd.on('error', () => res.destroy());
      fwd.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...MOTO_ENV };
    delete env.AWS_PROFILE;
    const child = spawn(process.execPath, [CLI, ...args], {
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

beforeAll(async () => {
  // The CLI part fails (never skips) without a build.
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  fixture = await startMotoFixture('cv-restore-resources-');
  ({ gw, raw, work } = fixture);
  const seeded = await seedPool(gw, {
    poolName: 'resources-source',
    users: USERS,
    groups: 4,
    concurrency: 8,
  });
  const poolId = seeded.userPoolId;
  // What DescribeIdentityProvider shows of an Apple provider: no private_key.
  await gw.send(
    new CreateIdentityProviderCommand({
      UserPoolId: poolId,
      ProviderName: 'SignInWithApple',
      ProviderType: 'SignInWithApple',
      ProviderDetails: {
        client_id: 'com.example.app',
        team_id: 'TEAM123456',
        key_id: 'KEY1234567',
        authorize_scopes: 'email name',
      },
      AttributeMapping: { email: 'email' },
    }),
  );
  await gw.send(
    new CreateIdentityProviderCommand({
      UserPoolId: poolId,
      ProviderName: 'Broken',
      ProviderType: 'OIDC',
      ProviderDetails: {
        client_id: 'broken',
        client_secret: 'broken-secret',
        oidc_issuer: 'https://broken.example.com',
        authorize_scopes: 'openid',
        attributes_request_method: 'GET',
      },
    }),
  );
  await gw.send(
    new CreateUserPoolClientCommand({
      UserPoolId: poolId,
      ClientName: 'federated',
      SupportedIdentityProviders: ['COGNITO', 'Google', 'SignInWithApple', 'Broken'],
      CallbackURLs: ['https://app.example.com/callback'],
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email'],
      AllowedOAuthFlowsUserPoolClient: true,
    }),
  );
  const root = new LocalDirStorage(path.join(work, 'snapshots'));
  const b = await backupPool(gw, root, { userPoolId: poolId });
  snapshot = path.join(root.location, poolId, b.manifest.snapshotId);
  // Secrets from the operator's store: Google's (redacted in the snapshot) and Broken's.
  secretsFile = path.join(work, 'idp-secrets.json');
  writeFileSync(
    secretsFile,
    JSON.stringify({
      Google: { client_secret: 'demo-google-secret' },
      Broken: { client_secret: 'broken-secret' },
    }),
  );
  proxy = await startFaultProxy(fixture.moto.endpoint);
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  await fixture?.stop();
});

describe('restore with resources Cognito refuses (CLI on moto)', () => {
  it('--dry-run predicts the Apple skip and its dependant client', async () => {
    const r = await run([
      'restore',
      '--from',
      snapshot,
      '--create-pool',
      'resources-target',
      '--state-dir',
      path.join(work, 'state-dry'),
      '--idp-secrets',
      secretsFile,
      '--endpoint-url',
      proxyUrl,
      '--dry-run',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as RestorePlan;
    expect(plan.resourceFailures.map((f) => `${f.kind} ${f.name}`)).toEqual([
      'identityProvider SignInWithApple',
    ]);
    expect(plan.warnings.map((w) => w.message).join('\n')).toMatch(
      /federated would be created without identity provider\(s\) SignInWithApple/,
    );
  });

  it('an Apple IdP without private_key and a failing IdP: everything else restored, exit 6, both named', async () => {
    const args = [
      'restore',
      '--from',
      snapshot,
      '--create-pool',
      'resources-target',
      '--state-dir',
      path.join(work, 'state'),
      '--idp-secrets',
      secretsFile,
      '--endpoint-url',
      proxyUrl,
      '--max-rps',
      'UserCreation=150',
      '--max-rps',
      'UserUpdate=100',
      '--max-rps',
      'UserAccountRecovery=150',
    ];
    const r = await run([...args, '--json']);
    expect(r.code, r.stderr).toBe(6);
    expect(refused).toBeGreaterThan(0);
    const result = JSON.parse(r.stdout) as RestoreResult;
    expect(result.resourceFailures.map((f) => `${f.kind} ${f.name}`).sort()).toEqual([
      'identityProvider Broken',
      'identityProvider SignInWithApple',
    ]);
    expect(result.resourceFailures.find((f) => f.name === 'Broken')?.error).toMatch(
      /^InvalidParameterException: Invalid ProviderDetails/,
    );
    expect(result.resourceFailures.find((f) => f.name === 'SignInWithApple')?.error).toMatch(
      /private_key/,
    );
    // Named on the console too, as they happened (stderr progress).
    expect(r.stderr).toMatch(/identityProvider Broken not restored/);
    expect(r.stderr).toMatch(/identityProvider SignInWithApple not restored/);
    // The console has the count only; per-user detail is in the report file.
    expect((result as unknown as { failedOperations: number }).failedOperations).toBe(0);
    expect(result).not.toHaveProperty('failedUsers');
    expect(result.users.created).toBe(USERS);

    // Everything else is there: the users, the other IdP, every client.
    const poolId = result.userPoolId;
    const users = await raw.send(new ListUsersCommand({ UserPoolId: poolId, Limit: 60 }));
    expect(users.Users).toHaveLength(USERS);
    const idps = await raw.send(
      new ListIdentityProvidersCommand({ UserPoolId: poolId, MaxResults: 60 }),
    );
    expect((idps.Providers ?? []).map((p) => p.ProviderName)).toEqual(['Google']);
    const clients = await raw.send(
      new ListUserPoolClientsCommand({ UserPoolId: poolId, MaxResults: 60 }),
    );
    expect((clients.UserPoolClients ?? []).map((c) => c.ClientName).sort()).toEqual([
      'federated',
      'machine',
      'web',
    ]);
    const federated = (clients.UserPoolClients ?? []).find((c) => c.ClientName === 'federated');
    const described = await raw.send(
      new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: federated?.ClientId }),
    );
    expect(described.UserPoolClient?.SupportedIdentityProviders?.sort()).toEqual([
      'COGNITO',
      'Google',
    ]);
    expect(result.warnings.map((w) => w.code)).toContain('CLIENT_IDP_DROPPED');

    // The same command again: still exit 6, still both named, nothing retried or duplicated.
    const before = refused;
    const again = await run(args);
    expect(again.code, again.stderr).toBe(6);
    expect(again.stdout).toMatch(
      /2 resource\(s\) not restored .*identityProvider (SignInWithApple|Broken), identityProvider (SignInWithApple|Broken)/,
    );
    expect(refused).toBe(before);
  });
});
