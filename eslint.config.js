// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/**
 * Layering (docs/architecture.md, "Layers"): each layer under src/ lists the layers it may import;
 * every other layer, and the library entry src/index.ts, is off limits to it. A new directory
 * under src/ needs an entry here (test/unit/layers.test.ts checks that every one has one).
 *
 *   cli     ->  demo | drill | backup | restore | compare | policy | snapshot | storage | cognito | core
 *   demo    ->  backup | restore | compare | snapshot | storage | cognito | core
 *   lambda  ->  backup | drill | snapshot | storage | cognito | core
 *   drill   ->  restore | compare | snapshot | storage | cognito | core (public entries)
 *   backup, restore  ->  snapshot | storage | cognito | core
 *   compare ->  snapshot | cognito | core (+ two constants of restore, below)
 *   policy  ->  cognito | core
 *   snapshot -> storage (its interface only, below) | core
 *   storage, cognito  ->  core;   core -> nothing
 *   cdk     ->  policy | lambda (metrics.ts, env.ts only, below) | core;  nothing imports cdk
 */
export const MAY_IMPORT = {
  core: [],
  storage: ['core'],
  cognito: ['core'],
  // storage: its interface only (zone below)
  snapshot: ['core', 'storage'],
  policy: ['core', 'cognito'],
  backup: ['core', 'cognito', 'storage', 'snapshot'],
  restore: ['core', 'cognito', 'storage', 'snapshot'],
  // restore: two of its files only (zone below)
  compare: ['core', 'cognito', 'snapshot', 'restore'],
  // The restore drill: restore and compare through their public entries (index.ts, zone below).
  drill: ['core', 'cognito', 'storage', 'snapshot', 'restore', 'compare'],
  lambda: ['core', 'cognito', 'storage', 'snapshot', 'backup', 'drill'],
  demo: ['core', 'cognito', 'storage', 'snapshot', 'backup', 'restore', 'compare'],
  cli: [
    'core',
    'cognito',
    'storage',
    'snapshot',
    'policy',
    'backup',
    'restore',
    'compare',
    'demo',
    'drill',
  ],
  // The CDK construct (cognito-vault/cdk) synthesizes; it never runs an engine.
  // lambda: the metric and environment variable names only (zone below)
  cdk: ['core', 'policy', 'lambda'],
};

const LAYERS = Object.keys(MAY_IMPORT);

const zones = [
  ...Object.entries(MAY_IMPORT).map(([layer, allowed]) => ({
    target: `./src/${layer}`,
    from: [
      ...LAYERS.filter((l) => l !== layer && !allowed.includes(l)).map((l) => `./src/${l}`),
      './src/index.ts',
    ],
    message: `src/${layer} may import only ${allowed.length ? allowed.join(', ') : 'nothing else'} (eslint.config.js MAY_IMPORT, docs/architecture.md).`,
  })),
  // The comparison layer takes of the restore layer only two constants of its behaviour: the
  // status a restored user gets (users/sign-in.ts) and the tag it marks restored pools with
  // (create-once.ts).
  {
    target: './src/compare',
    from: './src/restore',
    except: ['./users/sign-in.ts', './create-once.ts'],
    message: 'src/compare takes only users/sign-in.ts and create-once.ts of src/restore.',
  },
  // The drill uses restore and compare as a library caller would: their public entries only.
  {
    target: './src/drill',
    from: './src/restore',
    except: ['./index.ts'],
    message: 'src/drill takes src/restore through its public entry (restore/index.ts) only.',
  },
  {
    target: './src/drill',
    from: './src/compare',
    except: ['./index.ts'],
    message: 'src/drill takes src/compare through its public entry (compare/index.ts) only.',
  },
  // The snapshot format (retention, leases, reader, writer) works on any backend: it sees the
  // Storage interface, never a backend (LocalDirStorage, S3Storage).
  {
    target: './src/snapshot',
    from: './src/storage',
    except: ['./storage.ts'],
    message: 'src/snapshot uses the Storage interface (storage/storage.ts), never a backend.',
  },
  // Test doubles (testing/: emulator, import-job double, request guard, seeder, fakes) judge the
  // product, so they share none of its code; and nothing shipped imports them (the demo loads
  // testing/dist at run time from a clone, src/demo/testbed.ts).
  {
    target: './testing',
    from: './src',
    message: 'testing/ imports nothing of src: a double that reuses the product checks nothing.',
  },
  {
    target: './src',
    from: './testing',
    message: 'src/ never imports testing/ (test doubles are not in the package).',
  },
  // The construct names the metric the handlers emit and the environment variables they read;
  // it loads no handler (no engine, no SDK).
  {
    target: './src/cdk',
    from: './src/lambda',
    except: ['./metrics.ts', './drill-metrics.ts', './env.ts'],
    message: 'src/cdk takes only metrics.ts, drill-metrics.ts and env.ts of src/lambda.',
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'testing/dist/',
      'node_modules/',
      'coverage/',
      'cognito-backups/',
      'bench/results/',
      'infra/cdk.out/',
      // Deliberately broken: test/unit/layers.test.ts lints it with ignore off and expects the
      // no-cycle error.
      'test/fixtures/import-cycle/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    // Resolve `./x.js` specifiers to the TypeScript sources, so the layer rule sees real paths.
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
      // Parse the imported TypeScript modules too (no-cycle follows their imports).
      'import-x/extensions': ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.mts', '.cts'] },
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
    // No import cycle anywhere in src (issue 19): a module that imports, through any chain, a
    // module importing it. `import type` edges are not followed by this rule (they vanish at
    // run time); test/unit/layers.test.ts checks the graph with type imports too. The fixture
    // (test/fixtures/import-cycle) proves the rule fires.
    files: ['src/**/*.ts', 'test/fixtures/import-cycle/**/*.ts'],
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
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
                '../restore/**/*.js',
                // the --users path names (no imports)
                '!../restore/users/path.js',
                '../compare/*',
                '../drill/*',
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
  {
    // Preloaded with `node --require` (test/support/block-network.cjs): CommonJS by necessity.
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', process: 'readonly', module: 'writable' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
