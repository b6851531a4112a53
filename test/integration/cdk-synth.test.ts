import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireOrSkip } from '../support/env.js';

/**
 * `cdk synth` of the example app in infra/ (issue 10.3), offline: the CDK CLI and the app run
 * with every outbound connection and DNS lookup refused and recorded
 * (test/support/block-network.cjs), without AWS credentials. Uses the dist/ `npm test` builds
 * first (the app imports `cognito-vault/cdk`, the Lambda asset is dist/lambda-bundle).
 */
const run = promisify(execFile);
const ROOT = path.resolve('.');
let out: string;
let netLog: string;
let synth: { stdout: string; stderr: string };

type Template = {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
};
const read = async (name: string): Promise<Template> =>
  JSON.parse(await readFile(path.join(out, name), 'utf8')) as Template;
const ofType = (t: Template, type: string) =>
  Object.values(t.Resources).filter((r) => r.Type === type);

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist', 'cdk', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  out = await mkdtemp(path.join(tmpdir(), 'cv-synth-'));
  netLog = path.join(out, 'network.log');
  const env: NodeJS.ProcessEnv = {};
  // Not a credential in sight: an account lookup would have nothing to go on.
  for (const [k, v] of Object.entries(process.env))
    if (!/^(AWS_|CDK_)/.test(k) && k !== 'NODE_OPTIONS') env[k] = v;
  synth = await run(
    process.execPath,
    ['scripts/synth-infra.mjs', '--output', path.join(out, 'cdk.out')],
    {
      cwd: ROOT,
      env: {
        ...env,
        NODE_OPTIONS: `--require ${path.join(ROOT, 'test', 'support', 'block-network.cjs')}`,
        BLOCK_NETWORK_LOG: netLog,
        AWS_SHARED_CREDENTIALS_FILE: path.join(out, 'none'),
        AWS_CONFIG_FILE: path.join(out, 'none'),
      },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  out = path.join(out, 'cdk.out');
}, 300_000);

afterAll(async () => {
  if (out) await rm(path.dirname(out), { recursive: true, force: true });
});

describe('infra/: npx cdk synth', () => {
  it('synthesizes both stacks without touching the network', async () => {
    expect(existsSync(netLog) ? await readFile(netLog, 'utf8') : '').toBe('');
    expect(synth.stdout + synth.stderr).not.toMatch(/notice|telemetry|newer version/i);
    expect((await readdir(out)).filter((f) => f.endsWith('.template.json')).sort()).toEqual([
      'CognitoVault.template.json',
      'CognitoVaultTemplate.template.json',
    ]);
  });

  it('the CDK stack: state machine, four functions on the bundle asset, bucket, schedule, alarms', async () => {
    const t = await read('CognitoVault.template.json');
    expect(ofType(t, 'AWS::StepFunctions::StateMachine')).toHaveLength(1);
    expect(ofType(t, 'AWS::Lambda::Function').map((f) => f.Properties.Handler)).toEqual(
      expect.arrayContaining(['index.plan', 'index.backupUnit', 'index.prune', 'index.report']),
    );
    expect(ofType(t, 'AWS::S3::Bucket')).toHaveLength(1);
    expect(ofType(t, 'AWS::Events::Rule')).toHaveLength(1);
    expect(ofType(t, 'AWS::CloudWatch::Alarm').length).toBeGreaterThanOrEqual(2);
    // Environment-agnostic: no account or Region baked in.
    expect(JSON.stringify(t)).not.toMatch(/\b\d{12}\b/);
    // The Lambda asset is the bundle the build wrote, byte for byte.
    const assets = JSON.parse(
      await readFile(path.join(out, 'CognitoVault.assets.json'), 'utf8'),
    ) as {
      files: Record<string, { source: { path: string } }>;
    };
    const dirs = Object.values(assets.files)
      .map((f) => f.source.path)
      .filter((p) => p.startsWith('asset.'));
    expect(dirs).toHaveLength(1);
    expect(await readFile(path.join(out, dirs[0] ?? '', 'index.mjs'))).toEqual(
      await readFile(path.join(ROOT, 'dist', 'lambda-bundle', 'index.mjs')),
    );
  });

  it('the published template (infra/template) is the synthesized one: run `npm run infra:template`', async () => {
    const published = JSON.parse(
      await readFile(path.join(ROOT, 'infra', 'template', 'cognito-vault.template.json'), 'utf8'),
    ) as unknown;
    expect(published).toEqual(await read('CognitoVaultTemplate.template.json'));
    const t = published as Template & {
      Parameters: Record<string, { Default?: unknown }>;
      Conditions: Record<string, unknown>;
      Rules: Record<string, unknown>;
    };
    expect(Object.keys(t.Parameters).sort()).toEqual([
      'AlarmEmail',
      'CodeBucket',
      'CodeKey',
      'DrillSchedule',
      'DrillUserPoolIds',
      'EncryptTo',
      'KeepDaily',
      'KeepLast',
      'KeepMonthly',
      'RateShare',
      'Regions',
      'ScheduleExpression',
      'UserMfa',
      'UserPoolIds',
    ]);
    // Every operator setting reaches every function's environment (what the functions read).
    const ref = (p: string) => ({ Ref: p });
    const ifSet = (c: string, p: string) => ({ 'Fn::If': [c, ref(p), ref('AWS::NoValue')] });
    const functions = Object.entries(t.Resources).filter(
      ([, r]) => r.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(5);
    for (const [, f] of functions) {
      expect((f.Properties.Environment as { Variables: unknown }).Variables).toMatchObject({
        COGNITO_VAULT_USER_POOL_IDS: ref('UserPoolIds'),
        COGNITO_VAULT_REGIONS: ifSet('HasRegions', 'Regions'),
        COGNITO_VAULT_KEEP_LAST: ref('KeepLast'),
        COGNITO_VAULT_KEEP_DAILY: ref('KeepDaily'),
        COGNITO_VAULT_KEEP_MONTHLY: ref('KeepMonthly'),
        COGNITO_VAULT_ENCRYPT_TO: ifSet('HasEncryptTo', 'EncryptTo'),
        COGNITO_VAULT_USER_MFA: ref('UserMfa'),
        COGNITO_VAULT_RATE_SHARE: ref('RateShare'),
      });
    }
    const rules = Object.entries(t.Resources).filter(([, r]) => r.Type === 'AWS::Events::Rule');
    expect(rules.map(([, r]) => r.Properties.ScheduleExpression)).toEqual(
      expect.arrayContaining([ref('ScheduleExpression'), ref('DrillSchedule')]),
    );
    expect(Object.keys(t.Rules).sort()).toEqual(['DrillNeedsPools', 'RegionsNeedAllPools']);
    // The drill is off by default: its every resource exists only with a DrillSchedule, and
    // nothing else refers to one of them (a stack without the drill still deploys).
    expect(t.Parameters.DrillSchedule!.Default).toBe('');
    const drill = Object.entries(t.Resources).filter(([id]) => id.startsWith('VaultDrill'));
    expect(drill.map(([, r]) => r.Type).sort()).toEqual(
      expect.arrayContaining([
        'AWS::CloudWatch::Alarm',
        'AWS::Events::Rule',
        'AWS::Lambda::Function',
        'AWS::StepFunctions::StateMachine',
      ]),
    );
    for (const [id, r] of drill)
      expect([id, (r as { Condition?: string }).Condition]).toEqual([id, 'DrillEnabled']);
    const drillIds = new Set(drill.map(([id]) => id));
    for (const [id, r] of Object.entries(t.Resources)) {
      if (drillIds.has(id)) continue;
      const text = JSON.stringify(r);
      expect(
        [...drillIds].filter((d) => text.includes(`"${d}"`)),
        id,
      ).toEqual([]);
    }
    // Deployable without CDK: no asset, no bootstrap stack.
    expect(JSON.stringify(t)).not.toMatch(/cdk-hnb659fds|BootstrapVersion|AssetParameters/);
  });

  it('the published template passes cfn-lint with no error', async (ctx) => {
    const installed = await run('cfn-lint', ['--version']).then(
      () => true,
      () => false,
    );
    // Part of this machine image (pip install cfn-lint): without it the test is skipped on a
    // developer's machine and fails under CI, never a pass that linted nothing.
    requireOrSkip(ctx, installed, 'cfn-lint (pip install cfn-lint)');
    // Exit status is a bit mask (2 errors, 4 warnings, 8 informational): read the findings.
    const out = await run(
      'cfn-lint',
      ['--format', 'json', path.join(ROOT, 'infra', 'template', 'cognito-vault.template.json')],
      { maxBuffer: 16 * 1024 * 1024 },
    ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    const findings = JSON.parse(out.stdout || '[]') as {
      Level: string;
      Rule: { Id: string };
      Message: string;
    }[];
    expect(
      findings.filter((f) => f.Level === 'Error').map((f) => `${f.Rule.Id} ${f.Message}`),
    ).toEqual([]);
  });
});
