import type { Command } from 'commander';
import { isVaultError } from '../core/errors.js';
import { iamPolicy, importLogsRole, policyKinds, type PolicyOptions } from '../policy/iam.js';
import { renderOptionNames } from './option-flags.js';
import { parseKmsKeyArn } from './validate.js';

interface PolicyFlags {
  userPoolArn?: string[];
  createPool?: boolean;
  s3?: string;
  kmsKeyArn?: string;
  prune?: boolean;
  passRoleArn?: string[];
  region?: string;
  accountId?: string;
  userMfa?: boolean;
  withoutTriggers?: boolean;
}

export function registerPolicy(program: Command): void {
  program
    .command('policy')
    .description(
      'print the least-privilege IAM policy (JSON) for a command: the Cognito actions it sends, the S3 (and KMS) actions on the snapshot location; import-role: the CloudWatch Logs role for restore --users import-job (trust + permissions)',
    )
    .argument('<kind>', policyKinds().join(', '))
    .option('--user-pool-arn <arn...>', 'limit Cognito actions to these pools')
    .option(
      '--create-pool',
      'restore with --user-pool-arn: also allow --create-pool (in the ARNs’ account and Region; a new pool has no ARN to name)',
    )
    .option('--s3 <s3://bucket/prefix>', 'add object permissions for snapshots stored there')
    .option(
      '--kms-key-arn <arn>',
      'add permissions for the SSE-KMS key of the snapshot objects',
      parseKmsKeyArn,
    )
    .option('--prune', 'backup: also allow deleting old snapshots (Lambda retention)')
    .option('--user-mfa', 'backup: also allow --user-mfa (AdminGetUser)')
    .option('--without-triggers', 'restore: also allow --without-triggers (UpdateUserPool)')
    .option(
      '--pass-role-arn <arn...>',
      'restore: the IAM roles the snapshot names (SMS role, group roles) and the --import-logs-role-arn role that iam:PassRole may pass (default: any role of the account)',
    )
    .option('--region <region>', 'import-role: the Region of the log groups (default any)')
    .option(
      '--account-id <id>',
      'import-role: the account of the log groups, and an aws:SourceAccount condition on the trust',
    )
    .action((kind: string, flags: PolicyFlags) => {
      if (kind === 'import-role') {
        if (flags.accountId !== undefined && !/^\d{12}$/.test(flags.accountId)) {
          // program.error prints through COMMANDER_OUTPUT, which adds the tool's prefix.
          program.error(`--account-id expects 12 digits, got "${flags.accountId}"`, {
            exitCode: 2,
          });
        }
        const role = importLogsRole({
          ...(flags.region ? { region: flags.region } : {}),
          ...(flags.accountId ? { accountId: flags.accountId } : {}),
          ...(flags.userPoolArn ? { userPoolArns: flags.userPoolArn } : {}),
        });
        process.stdout.write(`${JSON.stringify(role, null, 2)}\n`);
        return;
      }
      const opts: PolicyOptions = {
        ...(flags.userPoolArn ? { userPoolArns: flags.userPoolArn } : {}),
        ...(flags.s3 !== undefined ? { s3Location: flags.s3 } : {}),
        ...(flags.kmsKeyArn ? { kmsKeyArn: flags.kmsKeyArn } : {}),
        ...(flags.passRoleArn ? { passRoleArns: flags.passRoleArn } : {}),
        createPool: Boolean(flags.createPool),
        prune: Boolean(flags.prune),
        userMfa: Boolean(flags.userMfa),
        withoutTriggers: Boolean(flags.withoutTriggers),
      };
      try {
        const policy = iamPolicy(kind, opts);
        process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
      } catch (e) {
        if (isVaultError(e)) program.error(renderOptionNames(e.message), { exitCode: 2 });
        throw e;
      }
    });
}
