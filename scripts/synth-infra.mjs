// `npm run infra:synth` / `npm run infra:template`: synthesizes the example CDK app in infra/
// offline — notices, version check, version reporting and CLI telemetry off, no account or
// Region lookup (the stacks are environment-agnostic) — into infra/cdk.out or --output DIR.
// With --publish, copies the plain CloudFormation stack to infra/template/ (the published
// template, test/integration/cdk-synth.test.ts checks it is up to date). Needs `npm run build`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const publish = args.includes('--publish');
const o = args.indexOf('--output');
const output = o >= 0 ? path.resolve(args[o + 1]) : path.join(root, 'infra', 'cdk.out');
if (!existsSync(path.join(root, 'dist', 'cdk', 'index.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

export const OFFLINE_ENV = {
  CDK_DISABLE_VERSION_CHECK: '1',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
  AWS_EC2_METADATA_DISABLED: 'true',
};

execFileSync(
  process.execPath,
  [
    path.join(root, 'node_modules', 'aws-cdk', 'bin', 'cdk'),
    'synth',
    '--no-notices',
    '--no-version-reporting',
    '--quiet',
    '--output',
    output,
  ],
  { cwd: path.join(root, 'infra'), stdio: 'inherit', env: { ...process.env, ...OFFLINE_ENV } },
);
if (publish) {
  copyFileSync(
    path.join(output, 'CognitoVaultTemplate.template.json'),
    path.join(root, 'infra', 'template', 'cognito-vault.template.json'),
  );
  console.log('infra/template/cognito-vault.template.json updated');
}
