// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/**
 * Layering (see docs/architecture.md):
 *   cli  ->  backup | restore | demo  ->  compare  ->  cognito | snapshot | storage  ->  core
 * Engines never import the CLI; storage never imports engines or Cognito; the snapshot format
 * never imports engines; the gateway never imports engines, snapshot or storage.
 */
const zones = [
  { target: './src/backup', from: ['./src/cli', './src/restore', './src/lambda'] },
  { target: './src/restore', from: ['./src/cli', './src/backup', './src/lambda'] },
  // The comparison layer (compare, diff) reads sides through the gateway and the snapshot reader.
  {
    target: './src/compare',
    from: ['./src/cli', './src/backup', './src/demo', './src/lambda'],
  },
  // …and of the restore layer only two constants of its behaviour: the status a restored user
  // gets (sign-in.ts) and the tag it marks restored pools with (create-once.ts).
  {
    target: './src/compare',
    from: './src/restore',
    except: ['./sign-in.ts', './create-once.ts'],
  },
  {
    target: './src/storage',
    from: [
      './src/compare',
      './src/cli',
      './src/backup',
      './src/restore',
      './src/cognito',
      './src/snapshot',
      './src/lambda',
    ],
  },
  {
    target: './src/snapshot',
    from: [
      './src/cli',
      './src/backup',
      './src/restore',
      './src/compare',
      './src/cognito',
      './src/lambda',
    ],
  },
  {
    target: './src/cognito',
    from: [
      './src/compare',
      './src/cli',
      './src/backup',
      './src/restore',
      './src/snapshot',
      './src/storage',
      './src/lambda',
    ],
  },
  {
    target: './src/core',
    from: [
      './src/compare',
      './src/cli',
      './src/backup',
      './src/restore',
      './src/cognito',
      './src/snapshot',
      './src/storage',
      './src/lambda',
    ],
  },
  { target: './src/lambda', from: ['./src/cli'] },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'cognito-backups/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    // Resolve `./x.js` specifiers to the TypeScript sources, so the layer rule sees real paths.
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'off',
    },
  },
  {
    // Start-up (docs/architecture.md): `cognito-vault --version`/`--help` load every command's
    // registration, so src/cli/*.ts import engines, the gateway, storage, the snapshot format, the
    // AWS SDK, zod and CSV libraries only as types at the top; values come from `await import()`
    // inside the action, when that command runs.
    files: ['src/cli/**/*.ts'],
    // progress.ts is itself loaded lazily (by runCommand).
    ignores: ['src/cli/progress.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '../backup/*',
                '../restore/*',
                // the --users path names (no imports)
                '!../restore/users-path.js',
                '../compare/*',
                '../demo/*',
                '../snapshot/*',
                '../storage/*',
                // the Storage interface and its pure helpers (no backend)
                '!../storage/storage.js',
                // location parsing (no backend, no SDK)
                '!../storage/location.js',
                '../lambda/*',
                '../cognito/gateway*',
                '../cognito/errors*',
                '../cognito/rate*',
                '@aws-sdk/*',
                'zod',
                'csv-*',
                'cli-progress',
                './progress*',
              ],
              allowTypeImports: true,
              message:
                'CLI modules load this lazily: `import type` at the top, `await import()` in the action (docs/architecture.md, Start-up).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        structuredClone: 'readonly',
      },
    },
  },
  prettier,
);
