import type { Command } from 'commander';
import { iamPolicy } from '../policy/iam.js';

export function registerPolicy(program: Command): void {
  program
    .command('policy')
    .description('print the least-privilege IAM policy (JSON) for backup or restore')
    .argument('<kind>', 'backup or restore')
    .option('--user-pool-arn <arn...>', 'limit Cognito actions to these pools')
    .option('--s3 <s3://bucket/prefix>', 'add object permissions for snapshots stored there')
    .option('--kms-key-arn <arn>', 'add permissions for the SSE-KMS key of the snapshot bucket')
    .option('--prune', 'backup: also allow deleting old snapshots (prune, Lambda retention)')
    .action(
      (
        kind: string,
        flags: { userPoolArn?: string[]; s3?: string; kmsKeyArn?: string; prune?: boolean },
      ) => {
        if (kind !== 'backup' && kind !== 'restore') {
          program.error(`policy: kind must be "backup" or "restore", got "${kind}"`, {
            exitCode: 2,
          });
        }
        const policy = iamPolicy(kind as 'backup' | 'restore', {
          ...(flags.userPoolArn ? { userPoolArns: flags.userPoolArn } : {}),
          ...(flags.s3 ? { s3Location: flags.s3 } : {}),
          ...(flags.kmsKeyArn ? { kmsKeyArn: flags.kmsKeyArn } : {}),
          prune: Boolean(flags.prune),
        });
        process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
      },
    );
}
