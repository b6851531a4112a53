// The Lambda code the CDK construct deploys (src/cdk): one ESM file, dist/lambda-bundle/index.mjs,
// bundled by esbuild from the compiled handlers with every production dependency inside it.
// No Docker, no network: it runs as part of `npm run build` and ships in the npm package, so a
// CDK app that installs cognito-vault synthesizes without building anything.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist/lambda-bundle', { recursive: true, force: true });
await build({
  entryPoints: ['dist/lambda/bundle.js'],
  outfile: 'dist/lambda-bundle/index.mjs',
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  legalComments: 'linked',
  // Some bundled CommonJS modules require() Node built-ins: give the ESM bundle a require.
  banner: {
    js: "import { createRequire as __cvCreateRequire } from 'node:module'; const require = __cvCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
