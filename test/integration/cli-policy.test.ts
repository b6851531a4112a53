import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { actionsOf, type iamPolicy } from '../../src/policy/iam.js';

const CLI = path.resolve('dist/cli/main.js');
const ARN = 'arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC';

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
});

describe('cognito-vault policy (CLI)', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'policy', ...args], {
      encoding: 'utf8',
    });

  it('exits 2 on an --s3 value without the s3:// scheme, an unknown kind or a bad ARN', () => {
    for (const args of [
      ['backup', '--s3', 'bucket/x'],
      ['nonsense'],
      ['restore', '--user-pool-arn', 'eu-west-1_AbC'],
    ]) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/error/);
    }
  });

  it('prints a policy for restore --user-pool-arn --create-pool', () => {
    const r = cli('restore', '--user-pool-arn', ARN, '--create-pool', '--s3', 's3://vault/c');
    expect(r.status).toBe(0);
    const p = JSON.parse(r.stdout) as ReturnType<typeof iamPolicy>;
    expect(actionsOf(p)).toEqual(
      expect.arrayContaining(['cognito-idp:CreateUserPool', 's3:GetObject']),
    );
  });
});
