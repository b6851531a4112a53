import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The allow-lists (a JavaScript module without types: loaded by its path).
const eslintConfig = '../../eslint.config.js';
const { MAY_IMPORT } = (await import(eslintConfig)) as { MAY_IMPORT: Record<string, string[]> };

/** The ESLint layer rule (eslint.config.js) applied to a would-be file at `filePath`. */
async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: process.cwd() });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'import-x/no-restricted-paths')
    .map((m) => m.message);
}

describe('layering rule', () => {
  it('stops an engine from importing the CLI', async () => {
    const errors = await layerErrors(
      'src/backup/probe.ts',
      "import { runCommand } from '../cli/common.js';\nexport const x = runCommand;\n",
    );
    expect(errors).toHaveLength(1);
  });

  it('stops storage from importing an engine or the gateway', async () => {
    const errors = await layerErrors(
      'src/storage/probe.ts',
      "import { backupPool } from '../backup/engine.js';\nimport { CognitoGateway } from '../cognito/gateway.js';\nexport const x = [backupPool, CognitoGateway];\n",
    );
    expect(errors).toHaveLength(2);
  });

  it('stops the gateway from importing the snapshot format', async () => {
    const errors = await layerErrors(
      'src/cognito/probe.ts',
      "import { FORMAT_VERSION } from '../snapshot/format.js';\nexport const x = FORMAT_VERSION;\n",
    );
    expect(errors).toHaveLength(1);
  });

  it('lets the CLI import engines and engines import the gateway, format and storage', async () => {
    expect(
      await layerErrors(
        'src/cli/probe.ts',
        "import { backupPool } from '../backup/engine.js';\nexport const x = backupPool;\n",
      ),
    ).toEqual([]);
    expect(
      await layerErrors(
        'src/restore/probe.ts',
        "import { CognitoGateway } from '../cognito/gateway.js';\nimport { SnapshotReader } from '../snapshot/reader.js';\nimport { MemoryStorage } from '../storage/memory.js';\nexport const x = [CognitoGateway, SnapshotReader, MemoryStorage];\n",
      ),
    ).toEqual([]);
  });
});

describe('compare layer', () => {
  it('may read pools and snapshots, and of restore only its status rule', async () => {
    expect(
      await layerErrors(
        'src/compare/probe.ts',
        "import { CognitoGateway } from '../cognito/gateway.js';\nimport { SnapshotReader } from '../snapshot/reader.js';\nimport { expectedRestoredStatus } from '../restore/users/sign-in.js';\nexport const x = [CognitoGateway, SnapshotReader, expectedRestoredStatus];\n",
      ),
    ).toEqual([]);
    expect(
      await layerErrors(
        'src/compare/probe.ts',
        "import { restoreSnapshot } from '../restore/engine.js';\nimport { runCommand } from '../cli/common.js';\nexport const x = [restoreSnapshot, runCommand];\n",
      ),
    ).toHaveLength(2);
    expect(
      await layerErrors(
        'src/snapshot/probe.ts',
        "import { comparePools } from '../compare/index.js';\nexport const x = comparePools;\n",
      ),
    ).toHaveLength(1);
  });
});

describe('drill layer', () => {
  it('takes restore and compare through their public entries only', async () => {
    expect(
      await layerErrors(
        'src/drill/probe.ts',
        "import { restoreSnapshot } from '../restore/index.js';\nimport { compareSides } from '../compare/index.js';\nimport { CognitoGateway } from '../cognito/gateway.js';\nexport const x = [restoreSnapshot, compareSides, CognitoGateway];\n",
      ),
    ).toEqual([]);
    expect(
      await layerErrors(
        'src/drill/probe.ts',
        "import { restoreSnapshot } from '../restore/engine.js';\nimport { compareSides } from '../compare/engine.js';\nexport const x = [restoreSnapshot, compareSides];\n",
      ),
    ).toHaveLength(2);
    expect(
      await layerErrors(
        'src/drill/probe.ts',
        "import { backupPool } from '../backup/engine.js';\nimport { runCommand } from '../cli/common.js';\nexport const x = [backupPool, runCommand];\n",
      ),
    ).toHaveLength(2);
  });
});

describe('allow-listed layers', () => {
  const layers = Object.keys(MAY_IMPORT);
  /** A value import of one (real, so that it resolves) module of `to`, as a file of `from` would write it. */
  const probe = (to: string): string => {
    const file = readdirSync(`src/${to}`)
      .filter((f) => f.endsWith('.ts'))
      .sort()[0];
    return `import * as m from '../${to}/${file?.replace(/\.ts$/, '.js')}';\nexport const x = m;\n`;
  };

  it('every directory under src/ is a layer with an allow-list', () => {
    const dirs = readdirSync('src', { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(dirs.sort()).toEqual([...layers].sort());
  });

  it('each layer may import exactly the layers on its list', async () => {
    const wrong: string[] = [];
    for (const from of layers) {
      for (const to of layers) {
        if (to === from) continue;
        const allowed = (MAY_IMPORT[from] ?? []).includes(to);
        // compare takes two files of restore only; snapshot only the Storage interface; cdk
        // only the metric names of lambda (the 'cdk layer' tests below); drill only the public
        // entries of restore and compare ('drill layer' below).
        if (
          (from === 'compare' && to === 'restore') ||
          (from === 'drill' && (to === 'restore' || to === 'compare')) ||
          (from === 'snapshot' && to === 'storage') ||
          (from === 'cdk' && to === 'lambda')
        )
          continue;
        const errors = await layerErrors(`src/${from}/probe.ts`, probe(to));
        if (allowed !== (errors.length === 0)) wrong.push(`${from} -> ${to}: ${errors.length}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('demo, policy and lambda are covered: demo and policy cannot reach the CLI, policy no engine', async () => {
    expect(await layerErrors('src/demo/probe.ts', probe('cli'))).toHaveLength(1);
    expect(await layerErrors('src/policy/probe.ts', probe('backup'))).toHaveLength(1);
    expect(await layerErrors('src/policy/probe.ts', probe('cli'))).toHaveLength(1);
    expect(await layerErrors('src/lambda/probe.ts', probe('restore'))).toHaveLength(1);
  });

  it('no layer imports the library entry src/index.ts', async () => {
    expect(
      await layerErrors(
        'src/backup/probe.ts',
        "import { restoreSnapshot } from '../index.js';\nexport const x = restoreSnapshot;\n",
      ),
    ).toHaveLength(1);
  });

  it('the snapshot format sees the Storage interface, never a backend', async () => {
    expect(
      await layerErrors(
        'src/snapshot/probe.ts',
        "import type { Storage } from '../storage/storage.js';\nexport type X = Storage;\n",
      ),
    ).toEqual([]);
    expect(
      await layerErrors(
        'src/snapshot/probe.ts',
        "import { LocalDirStorage } from '../storage/local.js';\nexport const x = LocalDirStorage;\n",
      ),
    ).toHaveLength(1);
  });
});

describe('CLI start-up rule', () => {
  async function lazyErrors(filePath: string, code: string): Promise<string[]> {
    const eslint = new ESLint({ cwd: process.cwd() });
    const [result] = await eslint.lintText(code, { filePath });
    return (result?.messages ?? [])
      .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
      .map((m) => m.message);
  }

  it('stops a command file from loading an engine, the SDK or zod at start-up', async () => {
    const errors = await lazyErrors(
      'src/cli/probe.ts',
      "import { backupPool } from '../backup/engine.js';\nimport { S3Client } from '@aws-sdk/client-s3';\nimport { z } from 'zod';\nexport const x = [backupPool, S3Client, z];\n",
    );
    expect(errors).toHaveLength(3);
  });

  it('lets it import types, and values through await import() in the action', async () => {
    expect(
      await lazyErrors(
        'src/cli/probe.ts',
        "import type { BackupResult } from '../backup/engine.js';\nexport async function run(): Promise<BackupResult> {\n  const { backupPool } = await import('../backup/engine.js');\n  return backupPool as never;\n}\n",
      ),
    ).toEqual([]);
  });
});

describe('cdk layer', () => {
  it('may read the IAM policy source, the metric and environment names, and nothing that runs a backup', async () => {
    expect(
      await layerErrors(
        'src/cdk/probe.ts',
        "import { iamPolicy } from '../policy/iam.js';\nimport { COMPLETED_METRIC } from '../lambda/metrics.js';\nimport { ENV } from '../lambda/env.js';\nexport const x = [iamPolicy, COMPLETED_METRIC, ENV];\n",
      ),
    ).toEqual([]);
    const errors = await layerErrors(
      'src/cdk/probe.ts',
      "import { backupPool } from '../backup/engine.js';\nimport { CognitoGateway } from '../cognito/gateway.js';\nimport { plan } from '../lambda/stepfunctions.js';\nexport const x = [backupPool, CognitoGateway, plan];\n",
    );
    expect(errors).toHaveLength(3);
  });

  it('is imported by nothing in the engines or the CLI', async () => {
    for (const dir of ['cli', 'backup', 'lambda', 'storage']) {
      const errors = await layerErrors(
        `src/${dir}/probe.ts`,
        "import { CognitoVault } from '../cdk/index.js';\nexport const x = CognitoVault;\n",
      );
      expect(errors, dir).toHaveLength(1);
    }
  });
});

describe('test doubles (testing/)', () => {
  it('share no code with the product, and the product never imports them', async () => {
    expect(
      await layerErrors(
        'testing/probe.ts',
        "import { decodeImportLine } from '../src/snapshot/import-csv.js';\nexport const x = decodeImportLine;\n",
      ),
    ).toHaveLength(1);
    expect(
      await layerErrors(
        'src/demo/probe.ts',
        "import { seedPool } from '../../testing/seed.js';\nexport const x = seedPool;\n",
      ),
    ).toHaveLength(1);
  });
});

describe('no import cycle', () => {
  it('the lint rule (import-x/no-cycle on src) reports a cycle: its fixture fails', async () => {
    // The fixture is in eslint.config.js's ignores (so `eslint .` passes): linted here with
    // ignores off, under the same configuration as src.
    const eslint = new ESLint({ cwd: process.cwd(), ignore: false });
    const results = await eslint.lintFiles(['test/fixtures/import-cycle/*.ts']);
    const cycles = results.flatMap((r) =>
      r.messages.filter((m) => m.ruleId === 'import-x/no-cycle').map(() => r.filePath),
    );
    // phase.ts → run-state.ts → context.ts → phase.ts: each of the three is on the cycle.
    expect(cycles.map((f) => path.basename(f)).sort()).toEqual([
      'context.ts',
      'phase.ts',
      'run-state.ts',
    ]);
  }, 60_000);

  /**
   * The rule does not follow `import type` (erased at run time); a type cycle still ties modules
   * together for a reader. This walks every relative import of src — types and re-exports
   * included, parsed by TypeScript's own preProcessFile — and lists the strongly connected
   * components of more than one module.
   */
  function cyclesIn(root: string): string[][] {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) files.push(p);
      }
    };
    walk(root);
    const graph = new Map<string, string[]>();
    for (const f of files) {
      const { importedFiles } = ts.preProcessFile(readFileSync(f, 'utf8'), true, true);
      graph.set(
        f,
        importedFiles
          .map((i) => i.fileName)
          .filter((s) => s.startsWith('.'))
          .map((s) => path.join(path.dirname(f), s).replace(/\.js$/, '.ts'))
          .filter((t) => files.includes(t)),
      );
    }
    // Tarjan's strongly connected components.
    let next = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const out: string[][] = [];
    const visit = (v: string): void => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const c: string[] = [];
        let w: string | undefined;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          c.push(w);
        } while (w !== v);
        if (c.length > 1) out.push(c.sort());
      }
    };
    for (const f of files) if (!index.has(f)) visit(f);
    return out;
  }

  it('src has no cycle through type imports either', () => {
    expect(cyclesIn('src').map((c) => c.join(' '))).toEqual([]);
  });

  it('the walk finds a cycle where there is one (the fixture)', () => {
    expect(cyclesIn('test/fixtures/import-cycle')).toHaveLength(1);
  });
});
