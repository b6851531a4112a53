import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as a user gets it (issue 11, part 6): `npm pack`, the tarball installed into a
 * fresh project, imported from ESM and type-checked from TypeScript, its bin run. Uses the dist/
 * that `npm test` builds first. The install resolves the package's dependencies from the npm
 * cache (--prefer-offline), falling back to the registry.
 */
const run = promisify(execFile);
const ROOT = path.resolve('.');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let work: string;
let project: string;
let files: string[];
const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  devDependencies: Record<string, string>;
};

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  work = await mkdtemp(path.join(tmpdir(), 'cv-release-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  if (!packed) throw new Error('npm pack printed nothing');
  files = packed.files.map((f) => f.path);
  project = path.join(work, 'consumer');
  await mkdir(project);
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await run(
    'npm',
    [
      'install',
      path.join(work, path.basename(packed.filename)),
      `@types/node@${pkg.devDependencies['@types/node']}`,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel=error',
    ],
    { cwd: project, maxBuffer: 16 * 1024 * 1024 },
  );
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('npm pack → install → use', () => {
  it('ships the build, the docs and the licence, and no sources, tests or bench', () => {
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/lambda/handler.js',
      'dist/lambda/handler.d.ts',
      'dist/lambda/stepfunctions.js',
      'dist/lambda/stepfunctions.d.ts',
      // The CDK construct and the Lambda bundle it deploys (built, no bundling at synth).
      'dist/cdk/index.js',
      'dist/cdk/index.d.ts',
      'dist/lambda-bundle/index.mjs',
      // The documents README.md links to.
      'docs/format.md',
      'docs/cli.md',
      'docs/deploy.md',
      'docs/library.md',
      'docs/restore.md',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => /(^|\/)(test|tests|bench|src|node_modules)\//.test(f))).toEqual([]);
    expect(files.filter((f) => /\.test\.|\.tsbuildinfo$|(^|\/)\.env/.test(f))).toEqual([]);
    // Every shipped module has its source: no stale output of a moved or deleted file.
    const stale = files
      .filter((f) => f.startsWith('dist/') && f.endsWith('.js'))
      .filter((f) => !existsSync(path.join(ROOT, 'src', f.slice(5).replace(/\.js$/, '.ts'))));
    expect(stale).toEqual([]);
  });

  it('carries no test double: no testing/, and no shipped module holds one', async () => {
    expect(files.filter((f) => f.startsWith('testing/'))).toEqual([]);
    const doubles =
      /(emulator|import-job-double|import-csv-rules|request-guard|validating-proxy|seed|fake-cognito|quota-proxy)\.(m?js|d\.m?ts)$/;
    expect(files.filter((f) => doubles.test(path.basename(f)))).toEqual([]);
    // By content too (a double bundled or inlined under another name): identifiers only they
    // define.
    const marks = [
      'startImportJobDouble',
      'startValidatingProxy',
      'class RequestGuard',
      'locateCognitoModel',
      'fakeCognitoClient',
      'startQuotaProxy',
      'readAwsCsvRow',
    ];
    const carrying: string[] = [];
    for (const f of files.filter((x) => /\.(m?js|d\.ts)$/.test(x))) {
      const text = await readFile(path.join(project, 'node_modules', pkg.name, f), 'utf8');
      for (const m of marks) if (text.includes(m)) carrying.push(`${f}: ${m}`);
    }
    expect(carrying).toEqual([]);
  });

  it('`cognito-vault demo` from the installed package says it needs a clone (exit 2)', async () => {
    const bin = path.join(project, 'node_modules', '.bin', 'cognito-vault');
    const r = await run(bin, ['demo', '--dir', path.join(work, 'demo-dir')], { cwd: project }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/clone of the repository/);
    expect(existsSync(path.join(work, 'demo-dir'))).toBe(false);
  });

  it('imports `cognito-vault`, `cognito-vault/lambda` and `cognito-vault/stepfunctions` from ESM', async () => {
    await writeFile(
      path.join(project, 'use.mjs'),
      `import * as vault from 'cognito-vault';
import * as lambda from 'cognito-vault/lambda';
import * as sfn from 'cognito-vault/stepfunctions';
console.log(JSON.stringify({
  version: vault.TOOL_VERSION,
  backupPool: typeof vault.backupPool,
  restoreSnapshot: typeof vault.restoreSnapshot,
  gateway: typeof vault.CognitoGateway,
  openStorage: typeof vault.openStorage,
  exitCodes: typeof vault.ExitCode,
  handler: typeof lambda.handler,
  units: [sfn.plan, sfn.backupUnit, sfn.prune, sfn.report].map((f) => typeof f),
}));
`,
    );
    const { stdout } = await run(process.execPath, ['use.mjs'], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({
      version: pkg.version,
      backupPool: 'function',
      restoreSnapshot: 'function',
      gateway: 'function',
      openStorage: 'function',
      exitCodes: 'object',
      handler: 'function',
      units: ['function', 'function', 'function', 'function'],
    });
  });

  it.each(['node16', 'bundler'])(
    'type-checks a TypeScript consumer (moduleResolution %s)',
    async (resolution) => {
      await writeFile(
        path.join(project, 'use.ts'),
        `import { backupPool, CognitoGateway, openStorage, type BackupResult } from 'cognito-vault';
import { handler, type LambdaBackupResult } from 'cognito-vault/lambda';

export async function nightly(): Promise<[BackupResult, LambdaBackupResult]> {
  const gw = CognitoGateway.create({ region: 'eu-west-1' });
  const r = await backupPool(gw, openStorage('s3://bucket/prefix'), { userPoolId: 'eu-west-1_x' });
  const users: number = r.users;
  void users;
  return [r, await handler({})];
}
`,
      );
      await writeFile(
        path.join(project, 'wrong.ts'),
        `import { backupPool } from 'cognito-vault';\nexport const x: string = backupPool;\n`,
      );
      await writeFile(
        path.join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: resolution === 'node16' ? 'node16' : 'ESNext',
            moduleResolution: resolution,
            strict: true,
            noEmit: true,
            types: ['node'],
            // The SDK's own declarations are not ours to check (and take a minute); ours are
            // checked where the consumer uses them.
            skipLibCheck: true,
          },
          include: ['use.ts', 'wrong.ts'],
        }),
      );
      const out = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], {
        cwd: project,
      }).then(
        () => '',
        (e: { stdout: string }) => e.stdout,
      );
      // Exactly the deliberate error in wrong.ts: use.ts type-checks, and the types are real
      // (an `any` from an unresolved module would let wrong.ts through).
      const errors = out.split('\n').filter((l) => /error TS\d+/.test(l));
      expect(errors, out).toHaveLength(1);
      expect(errors[0]).toMatch(/^wrong\.ts\(2,\d+\): error TS2322/);
    },
    120_000,
  );

  it('runs the installed bin: --version and --help', async () => {
    const bin = path.join(project, 'node_modules', '.bin', 'cognito-vault');
    const v = await run(bin, ['--version'], { cwd: project });
    expect(v.stdout.trim()).toBe(pkg.version);
    const h = await run(bin, ['--help'], { cwd: project });
    expect(h.stdout).toMatch(/^ {2}backup /m);
    expect(h.stdout).toMatch(/^ {2}restore /m);
    expect(h.stdout).toContain('Exit codes:');
  });

  it('installs without the CDK: aws-cdk-lib and constructs are optional peers', async () => {
    expect(existsSync(path.join(project, 'node_modules', 'aws-cdk-lib'))).toBe(false);
    const manifest = JSON.parse(
      await readFile(path.join(project, 'node_modules', 'cognito-vault', 'package.json'), 'utf8'),
    ) as { peerDependenciesMeta: Record<string, { optional: boolean }> };
    expect(manifest.peerDependenciesMeta).toEqual({
      'aws-cdk-lib': { optional: true },
      constructs: { optional: true },
    });
    // The bundle the construct deploys loads on its own, with every handler (the drill's too).
    const bundle = path.join(project, 'node_modules', 'cognito-vault', 'dist', 'lambda-bundle');
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(path.join(bundle, 'index.mjs'))}); console.log(Object.keys(m).sort().join())`,
      ],
      { cwd: project },
    );
    expect(stdout.trim()).toBe('backupUnit,drill,handler,plan,prune,report');
  });
});
