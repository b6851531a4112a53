// The Lambda code the CDK construct deploys (src/cdk): one ESM file, dist/lambda-bundle/index.mjs,
// bundled by esbuild from the compiled handlers with every production dependency inside it.
// No Docker, no network: it runs as part of `npm run build` and ships in the npm package, so a
// CDK app that installs cognito-vault synthesizes without building anything.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const { name, version } = JSON.parse(readFileSync('package.json', 'utf8'));

/**
 * src/core/version.ts reads package.json two levels above itself at run time; the Lambda zip
 * holds only this bundle (/var/task/index.mjs), so the bundle gets the version as a constant.
 */
const versionConstant = {
  name: 'version-constant',
  setup(b) {
    b.onLoad({ filter: /[\\/]core[\\/]version\.js$/ }, () => ({
      contents: `export const TOOL_NAME = ${JSON.stringify(name)};\nexport const TOOL_VERSION = ${JSON.stringify(version)};\n`,
      loader: 'js',
    }));
  },
};

rmSync('dist/lambda-bundle', { recursive: true, force: true });
await build({
  entryPoints: ['dist/lambda/bundle.js'],
  outfile: 'dist/lambda-bundle/index.mjs',
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  // Class and function names survive minification: an error's `name` (UsageError, StorageError,
  // InterruptedError …) is the `errorType` Lambda reports and the error Step Functions' Retry and
  // Catch match (RETRIED_ERRORS in src/cdk), and what the reports and logs name.
  keepNames: true,
  legalComments: 'linked',
  // Some bundled CommonJS modules require() Node built-ins: give the ESM bundle a require.
  banner: {
    js: "import { createRequire as __cvCreateRequire } from 'node:module'; const require = __cvCreateRequire(import.meta.url);",
  },
  plugins: [versionConstant],
  logLevel: 'warning',
});
