import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

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
        "import { CognitoGateway } from '../cognito/gateway.js';\nimport { SnapshotReader } from '../snapshot/reader.js';\nimport { expectedRestoredStatus } from '../restore/sign-in.js';\nexport const x = [CognitoGateway, SnapshotReader, expectedRestoredStatus];\n",
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
