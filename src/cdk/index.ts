import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Aws, CfnOutput, Duration, RemovalPolicy, Token, Tokenization } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { iamPolicy, type IamPolicy } from '../policy/iam.js';
import { ENV } from '../lambda/env.js';
import { COMPLETED_METRIC, METRIC_NAMESPACE } from '../lambda/metrics.js';
import { addDrill, type DrillProps, type DrillResources, lambdaRetry } from './drill.js';

export { DRILL_METRICS, type DrillProps, type DrillResources } from './drill.js';

/**
 * `cognito-vault/cdk`: scheduled, distributed backups as one construct (docs/architecture.md,
 * "Distributed path"; README, "Scheduled backups in five minutes"). aws-cdk-lib and constructs
 * are peer dependencies: only a CDK app that imports this entry point needs them.
 */

/** Retention, as the prune handler applies it (the same rules as `cognito-vault prune`). */
export interface VaultRetention {
  /**
   * Keep the newest N complete snapshots of each pool. Each count may be a token (a template
   * parameter's `valueAsNumber`); then give the construct `lifecycleExpiration` too.
   */
  keepLast: number;
  /** … plus the newest of each of the last N days. */
  keepDaily?: number;
  /** … plus the newest of each of the last N months. */
  keepMonthly?: number;
  /** Delete incomplete snapshots idle this long (default 7 days). */
  incompleteGrace?: Duration;
}

export interface CognitoVaultProps {
  /**
   * Pool ids to back up, or `'*'` for every pool of each account and Region, or a token (a
   * template parameter) that resolves to `*` or comma-separated pool ids: then the functions
   * may act on every pool of the account (the ids are not known when the policy is written),
   * there are no per-pool alarms, and a drill names its pools itself.
   */
  readonly userPoolIds: string[] | '*' | (string & {});
  /**
   * With `'*'`: the Regions to list, or `['all']` (default: the stack's Region). Entries may be
   * tokens (comma-separated lists; one resolving to `AWS::NoValue` sets nothing).
   */
  readonly regions?: string[];
  /**
   * Other accounts whose pools to back up (default: only this one). Each needs a role the
   * functions can assume, `roleArnPattern` with `{account}` replaced, that allows
   * `cognito-vault policy backup` and trusts this stack's plan and backup roles.
   */
  readonly accounts?: string[];
  /** e.g. `arn:aws:iam::{account}:role/CognitoVaultBackup`. */
  readonly roleArnPattern?: string;
  /** The bucket to write to (default: a new KMS-encrypted, versioned, private bucket). */
  readonly bucket?: s3.IBucket;
  /**
   * The account that must own a given bucket (every S3 request carries ExpectedBucketOwner).
   * A new bucket is this stack's account's.
   */
  readonly expectedBucketOwner?: string;
  /** The key of a given bucket's SSE-KMS (its objects are written with it). */
  readonly encryptionKey?: kms.IKey;
  /** Key prefix of the snapshots in the bucket (default `snapshots`). */
  readonly prefix?: string;
  /** When to run (default: every day at 03:00 UTC). */
  readonly schedule?: events.Schedule;
  /** Retention after each pool's backup; none when omitted. */
  readonly retention?: VaultRetention;
  /**
   * The new bucket's lifecycle expiry of current objects, a backstop behind prune (default:
   * the longest retention window plus 30 days, assuming at least one backup a day).
   */
  readonly lifecycleExpiration?: Duration;
  /** How long deleted or overwritten object versions stay recoverable (default 30 days). */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * Share of each Cognito quota a backup uses, in (0, 1] (default 0.5, leaving the rest to
   * production). May be a token (a template parameter's `valueAsNumber`).
   */
  readonly rateShare?: number;
  /** Keep app client and IdP secrets in the snapshots (default false). */
  readonly includeSecrets?: boolean;
  /**
   * age X25519 recipients (age1…): every data file is encrypted to them before it is uploaded
   * (`backup --encrypt-to`; default: not encrypted, SSE-KMS only). Tokens are checked by the
   * functions when they start; one resolving to `AWS::NoValue` sets nothing.
   */
  readonly encryptTo?: string[];
  /**
   * Capture each user's MFA settings (`backup --user-mfa`): one AdminGetUser per user, each
   * user read that way billed as a monthly active user (default false). May be a token (a
   * template parameter) resolving to `true` or `false`.
   */
  readonly userMfa?: boolean | (string & {});
  /** Account/Region groups backed up at the same time (default 10; 1 to 40). */
  readonly maxConcurrentGroups?: number;
  /**
   * Invocations one pool may take (each up to 15 minutes) before the unit fails (default 24:
   * six hours, about 20 million users at the default rate share).
   */
  readonly maxInvocationsPerUnit?: number;
  /**
   * Run each account/Region group as a child execution of a distributed Map (its own event
   * history, up to 10,000 at a time) instead of an inline Map iteration: for more pools than
   * one execution's 25,000-event history holds (roughly 1,000 units). Default false.
   */
  readonly distributedMap?: boolean;
  /** Alarm when no snapshot completed for this long (default 26 hours; at most 7 days). */
  readonly staleAfter?: Duration;
  /** Where every alarm notifies (default: a new topic, `alarmTopic` of the construct). */
  readonly alarmTopic?: sns.ITopic;
  /** An e-mail address subscribed to the alarm topic (default: none; subscribe yourself). */
  readonly alarmEmail?: string;
  /** The functions' code (default: the bundle `npm run build` writes to dist/lambda-bundle). */
  readonly code?: lambda.Code;
  /** The name of this vault: the `Vault` dimension of its metrics (default: the construct id). */
  readonly vaultName?: string;
  /** Removal policy of a new bucket and key (default RETAIN). */
  readonly removalPolicy?: RemovalPolicy;
  /** Scheduled restore drills (src/cdk/drill.ts); none when omitted. */
  readonly drill?: DrillProps;
}

/** Step Functions' inline Map runs at most 40 iterations at a time. */
export const MAX_INLINE_CONCURRENCY = 40;
/**
 * Errors (the thrown class's name, Step Functions' error name) worth another invocation:
 * throttling or outages that outlived the gateway's retries, S3 trouble, and a unit stopped at
 * its deadline before its snapshot had an id.
 */
export const RETRIED_ERRORS = ['ServiceUnavailableError', 'StorageError', 'InterruptedError'];
const PLACEHOLDER_BUCKET = 'cognito-vault-placeholder-bucket';
const PLACEHOLDER_ACCOUNT = '000000000000';
const PLACEHOLDER_KEY = `arn:aws:kms:us-east-1:${PLACEHOLDER_ACCOUNT}:key/placeholder`;

/** The Lambda bundle beside the built construct (dist/cdk → dist/lambda-bundle). */
export function bundleDirectory(): string {
  for (const rel of ['../lambda-bundle', '../../dist/lambda-bundle']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/index.mjs`)) return dir;
  }
  throw new Error(
    'cognito-vault: the Lambda bundle (dist/lambda-bundle/index.mjs) is missing: run `npm run build`, or pass `code`',
  );
}

/** The longest window retention keeps a snapshot for, in days (one backup a day assumed). */
export function retentionDays(r: VaultRetention): number {
  if (
    [r.keepLast, r.keepDaily, r.keepMonthly].some((n) => n !== undefined && Token.isUnresolved(n))
  )
    throw new Error(
      'cognito-vault: retention from template parameters needs lifecycleExpiration (at least the longest retention window plus 30 days), or none',
    );
  return Math.max(r.keepLast, r.keepDaily ?? 0, (r.keepMonthly ?? 0) * 31);
}

/** A number prop as environment text: a literal, or the token of a template parameter. */
const numberText = (n: number): string => Tokenization.stringifyNumber(n);

/**
 * A policy of `cognito-vault policy` (src/policy/iam.ts, derived from the operation table) as
 * CDK statements, with the bucket, key and account put in for the placeholders it was built
 * with (the real ones are tokens until deployment).
 */
function statementsOf(
  policy: IamPolicy,
  bucket: s3.IBucket,
  keyArn: string | undefined,
): iam.PolicyStatement[] {
  const put = (r: string): string =>
    r
      .replace(`arn:aws:s3:::${PLACEHOLDER_BUCKET}`, bucket.bucketArn)
      .replace(PLACEHOLDER_KEY, keyArn ?? PLACEHOLDER_KEY)
      .replace(`:${PLACEHOLDER_ACCOUNT}:`, `:${Aws.ACCOUNT_ID}:`);
  return policy.Statement.map((s) =>
    iam.PolicyStatement.fromJson({
      ...s,
      Resource: Array.isArray(s.Resource) ? s.Resource.map(put) : put(s.Resource),
    }),
  );
}

/** A vault's props, checked, with their defaults filled in. */
interface Settings {
  prefix: string;
  vaultName: string;
  groups: number;
  maxInvocations: number;
  staleHours: number;
  pools: CognitoVaultProps['userPoolIds'];
  /** The pools by name, when they are known at synthesis. */
  namedPools: string[] | undefined;
  rateShare: number;
  userMfa: boolean | string;
  removalPolicy: RemovalPolicy;
}

/** Where the functions' policies point: the snapshot location and key, as placeholders. */
interface PolicyTarget {
  location: string;
  keyArn: string | undefined;
  policyKey: { kmsKeyArn?: string };
}

/** The props checked (they throw on a bad value) and completed with their defaults. */
function settingsOf(id: string, props: CognitoVaultProps): Settings {
  const prefix = (props.prefix ?? 'snapshots').replace(/^\/+|\/+$/g, '');
  const vaultName = props.vaultName ?? id;
  const groups = props.maxConcurrentGroups ?? 10;
  const maxGroups = props.distributedMap ? 10_000 : MAX_INLINE_CONCURRENCY;
  if (!(Number.isInteger(groups) && groups >= 1 && groups <= maxGroups)) {
    throw new Error(`maxConcurrentGroups must be 1 to ${maxGroups}`);
  }
  const maxInvocations = props.maxInvocationsPerUnit ?? 24;
  const staleHours = (props.staleAfter ?? Duration.hours(26)).toHours();
  if (!(Number.isInteger(staleHours) && staleHours >= 1 && staleHours <= 168)) {
    throw new Error('staleAfter must be whole hours, 1 to 168 (CloudWatch: 7 days)');
  }
  const pools = props.userPoolIds;
  const poolsToken = typeof pools === 'string' && Token.isUnresolved(pools);
  if (typeof pools === 'string' && pools !== '*' && !poolsToken) {
    throw new Error("userPoolIds: a list of pool ids, '*', or a token (template parameter)");
  }
  /** The pools by name, when they are known at synthesis. */
  const namedPools = Array.isArray(pools) ? pools : undefined;
  if (props.regions?.length && namedPools) {
    throw new Error("regions go with userPoolIds '*' only (pool ids name their Region)");
  }
  if (props.accounts?.length && !props.roleArnPattern?.includes('{account}')) {
    throw new Error('accounts need roleArnPattern with {account}');
  }
  const rateShare = props.rateShare ?? 0.5;
  if (!Token.isUnresolved(rateShare) && !(rateShare > 0 && rateShare <= 1)) {
    throw new Error('rateShare must be a number in (0, 1]');
  }
  const userMfa = props.userMfa ?? false;
  if (typeof userMfa === 'string' && !Token.isUnresolved(userMfa)) {
    throw new Error('userMfa: true, false, or a token (template parameter) of "true"/"false"');
  }
  for (const r of props.encryptTo ?? []) {
    // Tokens (template parameters) are checked by the functions when they start.
    if (!Token.isUnresolved(r) && !/^age1[02-9ac-hj-np-z]{58}$/.test(r)) {
      throw new Error(`encryptTo: "${r}" is not an age X25519 recipient (age1…)`);
    }
  }
  const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
  return {
    prefix,
    vaultName,
    groups,
    maxInvocations,
    staleHours,
    pools,
    namedPools,
    rateShare,
    userMfa,
    removalPolicy,
  };
}

/** The functions' environment: the settings `plan`, `backupUnit`, `prune` and `report` read. */
function environmentOf(
  props: CognitoVaultProps,
  s: Settings,
  bucket: s3.IBucket,
  keyArn: string | undefined,
): Record<string, string> {
  const { prefix, namedPools, pools, rateShare, userMfa, vaultName } = s;
  const environment: Record<string, string> = {
    [ENV.to]: `s3://${bucket.bucketName}/${prefix}`,
    [ENV.userPoolIds]: namedPools ? namedPools.join(',') : (pools as string),
    [ENV.rateShare]: numberText(rateShare),
    [ENV.includeSecrets]: props.includeSecrets ? 'true' : 'false',
    ...(props.encryptTo?.length ? { [ENV.encryptTo]: props.encryptTo.join(',') } : {}),
    ...(userMfa === true ? { [ENV.userMfa]: 'true' } : {}),
    ...(typeof userMfa === 'string' ? { [ENV.userMfa]: userMfa } : {}),
    [ENV.vaultName]: vaultName,
    ...(props.bucket
      ? props.expectedBucketOwner
        ? { [ENV.expectedBucketOwner]: props.expectedBucketOwner }
        : {}
      : { [ENV.expectedBucketOwner]: Aws.ACCOUNT_ID }),
    ...(keyArn ? { [ENV.kmsKeyId]: keyArn } : {}),
    ...(props.regions?.length ? { [ENV.regions]: props.regions.join(',') } : {}),
    ...(props.accounts?.length ? { [ENV.accounts]: props.accounts.join(',') } : {}),
    ...(props.roleArnPattern ? { [ENV.roleArnPattern]: props.roleArnPattern } : {}),
    ...(props.retention
      ? {
          [ENV.keepLast]: numberText(props.retention.keepLast),
          ...(props.retention.keepDaily !== undefined
            ? { [ENV.keepDaily]: numberText(props.retention.keepDaily) }
            : {}),
          ...(props.retention.keepMonthly !== undefined
            ? { [ENV.keepMonthly]: numberText(props.retention.keepMonthly) }
            : {}),
          ...(props.retention.incompleteGrace
            ? {
                [ENV.incompleteGrace]: `${props.retention.incompleteGrace.toHours()}h`,
              }
            : {}),
        }
      : {}),
  };
  return environment;
}

export class CognitoVault extends Construct {
  readonly bucket: s3.IBucket;
  readonly key?: kms.IKey;
  readonly stateMachine: sfn.StateMachine;
  readonly planFunction: lambda.Function;
  readonly backupFunction: lambda.Function;
  readonly pruneFunction: lambda.Function;
  readonly reportFunction: lambda.Function;
  readonly schedule: events.Rule;
  readonly failureAlarm: cloudwatch.Alarm;
  readonly staleAlarm: cloudwatch.Alarm;
  /** Per pool, when the pools are named. */
  readonly poolStaleAlarms: cloudwatch.Alarm[] = [];
  /** Present with the `drill` prop. */
  readonly drill?: DrillResources;
  /** Every alarm's action. */
  readonly alarmTopic: sns.ITopic;
  /** The `alarmEmail` subscription, when one was given. */
  readonly alarmSubscription?: sns.Subscription;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: CognitoVaultProps) {
    super(scope, id);
    const s = settingsOf(id, props);
    const storage = this.addStorage(props, s);
    this.bucket = storage.bucket;
    if (storage.key) this.key = storage.key;
    const keyArn = this.key?.keyArn;
    const target: PolicyTarget = {
      location: `s3://${PLACEHOLDER_BUCKET}/${s.prefix}`,
      keyArn,
      policyKey: keyArn ? { kmsKeyArn: PLACEHOLDER_KEY } : {},
    };
    const code = props.code ?? lambda.Code.fromAsset(bundleDirectory());
    const environment = environmentOf(props, s, this.bucket, keyArn);
    const functions = this.addFunctions(code, environment);
    this.planFunction = functions.plan;
    this.backupFunction = functions.backup;
    this.pruneFunction = functions.prune;
    this.reportFunction = functions.report;
    this.grantLeastPrivilege(props, s, target);
    this.stateMachine = this.addStateMachine(props, s);
    this.schedule = this.addSchedule(props);
    const alarms = this.addAlarms(s);
    this.failureAlarm = alarms.failureAlarm;
    this.staleAlarm = alarms.staleAlarm;
    const notify = this.addAlarmTopic(props, s.vaultName);
    this.alarmTopic = notify.topic;
    if (notify.subscription) this.alarmSubscription = notify.subscription;
    this.notifyAlarmTopic();
    this.dashboard = this.addDashboard(s.vaultName, alarms.failures);
    this.addOutputs();
    if (props.drill) this.drill = this.addDrillHook(props.drill, s, code, environment, target);
  }

  /** The given bucket (and key), or a new KMS-encrypted, versioned, private bucket and its key. */
  private addStorage(
    props: CognitoVaultProps,
    s: Settings,
  ): { bucket: s3.IBucket; key?: kms.IKey } {
    const { vaultName, removalPolicy, prefix } = s;
    if (props.bucket) {
      return { bucket: props.bucket, ...(props.encryptionKey ? { key: props.encryptionKey } : {}) };
    }
    const key = new kms.Key(this, 'Key', {
      description: `cognito-vault ${vaultName}: snapshot encryption`,
      enableKeyRotation: true,
      removalPolicy,
    });
    const expiration =
      props.lifecycleExpiration ??
      (props.retention ? Duration.days(retentionDays(props.retention) + 30) : undefined);
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      lifecycleRules: [
        {
          id: 'abort-incomplete-uploads',
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          id: 'noncurrent-versions',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
          expiredObjectDeleteMarker: true,
        },
        ...(expiration ? [{ id: 'retention-backstop', prefix: `${prefix}/`, expiration }] : []),
      ],
    });
    return { bucket, key };
  }

  /** The four functions of a run, each with its own log group. */
  private addFunctions(
    code: lambda.Code,
    environment: Record<string, string>,
  ): Record<'plan' | 'backup' | 'prune' | 'report', lambda.Function> {
    const fn = (name: string, handler: string, timeout: Duration, memorySize: number) =>
      new lambda.Function(this, name, {
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        handler: `index.${handler}`,
        code,
        timeout,
        memorySize,
        environment,
        logGroup: new logs.LogGroup(this, `${name}Logs`, {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      });
    return {
      plan: fn('PlanFunction', 'plan', Duration.minutes(5), 256),
      backup: fn('BackupFunction', 'backupUnit', Duration.minutes(15), 1024),
      prune: fn('PruneFunction', 'prune', Duration.minutes(15), 512),
      report: fn('ReportFunction', 'report', Duration.seconds(30), 128),
    };
  }

  /** Least privilege, from the same source as `cognito-vault policy`. */
  private grantLeastPrivilege(props: CognitoVaultProps, s: Settings, target: PolicyTarget): void {
    const { namedPools } = s;
    const { location, keyArn, policyKey } = target;
    const poolArns =
      !namedPools || props.accounts?.length
        ? undefined
        : namedPools.map(
            (p) => `arn:aws:cognito-idp:${p.split('_')[0]}:${PLACEHOLDER_ACCOUNT}:userpool/${p}`,
          );
    const backupPolicy = iamPolicy('backup', {
      ...(poolArns ? { userPoolArns: poolArns } : {}),
      s3Location: location,
      ...policyKey,
    });
    for (const s of statementsOf(backupPolicy, this.bucket, keyArn)) {
      // Cross-account pools are backed up with the assumed role's permissions, not these.
      if (props.accounts?.length && s.sid?.startsWith('Cognito')) continue;
      this.backupFunction.addToRolePolicy(s);
    }
    const prunePolicy = iamPolicy('prune', { s3Location: location, ...policyKey });
    for (const s of statementsOf(prunePolicy, this.bucket, keyArn)) {
      this.pruneFunction.addToRolePolicy(s);
    }
    if (!namedPools && !props.accounts?.length) {
      this.planFunction.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'ListPools',
          actions: ['cognito-idp:ListUserPools'],
          resources: ['*'],
        }),
      );
    }
    if (props.accounts?.length && props.roleArnPattern) {
      const roles = props.accounts.map((a) => props.roleArnPattern!.replaceAll('{account}', a));
      for (const f of [this.planFunction, this.backupFunction]) {
        f.addToRolePolicy(
          new iam.PolicyStatement({
            sid: 'AssumeBackupRoles',
            actions: ['sts:AssumeRole'],
            resources: roles,
          }),
        );
      }
    }
  }

  /** Plan, then each account/Region group's units one at a time, then the report. */
  private addStateMachine(props: CognitoVaultProps, s: Settings): sfn.StateMachine {
    const { groups, maxInvocations } = s;
    const planTask = lambdaRetry(
      new tasks.LambdaInvoke(this, 'PlanUnits', {
        lambdaFunction: this.planFunction,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        resultPath: '$.plan',
      }),
    );
    const backupTask = lambdaRetry(
      new tasks.LambdaInvoke(this, 'BackupUnit', {
        lambdaFunction: this.backupFunction,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        // No `payload`: the state's whole input ({ unit, invocations, snapshotId? }) is the
        // function's event. (`TaskInput.fromJsonPathAt('$')` renders `"Parameters": "$"`, a
        // string where the States Language requires an object: aws-cdk issue 34260.)
        // The backup's result replaces the unit's state: { unit, done, snapshotId, invocations }.
        resultPath: '$',
      }),
    );
    backupTask.addRetry({
      errors: RETRIED_ERRORS,
      interval: Duration.seconds(30),
      maxAttempts: 3,
      backoffRate: 2,
    });
    const pruneTask = lambdaRetry(
      new tasks.LambdaInvoke(this, 'PruneUnit', {
        lambdaFunction: this.pruneFunction,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        payload: sfn.TaskInput.fromObject({ 'unit.$': '$.unit' }),
        resultPath: '$.prune',
      }),
    );
    const succeeded = new sfn.Pass(this, 'UnitSucceeded', {
      parameters: {
        'userPoolId.$': '$.unit.userPoolId',
        ok: true,
        'snapshotId.$': '$.snapshotId',
        'pruneErrors.$': 'States.ArrayLength($.prune.errors)',
      },
    });
    const pruneFailed = new sfn.Pass(this, 'PruneFailed', {
      parameters: {
        'userPoolId.$': '$.unit.userPoolId',
        ok: true,
        'snapshotId.$': '$.snapshotId',
        pruneErrors: 1,
      },
    });
    pruneTask.addCatch(pruneFailed, { errors: ['States.ALL'], resultPath: '$.pruneError' });
    const unitFailed = new sfn.Pass(this, 'UnitFailed', {
      parameters: {
        'userPoolId.$': '$.unit.userPoolId',
        ok: false,
        'error.$': '$.failure.Error',
        'cause.$': '$.failure.Cause',
      },
    });
    const tooLong = new sfn.Pass(this, 'UnitTooLong', {
      parameters: {
        'userPoolId.$': '$.unit.userPoolId',
        ok: false,
        error: 'MaxInvocationsExceeded',
        'cause.$': "States.Format('not complete after {} invocations', $.invocations)",
      },
    });
    backupTask.addCatch(unitFailed, { errors: ['States.ALL'], resultPath: '$.failure' });
    const doneChoice = new sfn.Choice(this, 'UnitDone')
      .when(sfn.Condition.booleanEquals('$.done', true), pruneTask.next(succeeded))
      .when(sfn.Condition.numberGreaterThanEquals('$.invocations', maxInvocations), tooLong)
      .otherwise(backupTask);
    backupTask.next(doneChoice);

    const units = new sfn.Map(this, 'UnitsOneAtATime', {
      itemsPath: '$.units',
      // One account and Region: one backup at a time (quotas are per account and Region).
      maxConcurrency: 1,
      itemSelector: { 'unit.$': '$$.Map.Item.Value', invocations: 0 },
    });
    units.itemProcessor(backupTask);
    const groupsProps = {
      itemsPath: '$.plan.groups',
      maxConcurrency: groups,
      itemSelector: { 'units.$': '$$.Map.Item.Value.units' },
      resultPath: '$.results',
    };
    const groupsMap = props.distributedMap
      ? new sfn.DistributedMap(this, 'AccountRegionGroups', {
          ...groupsProps,
          mapExecutionType: sfn.StateMachineType.STANDARD,
        })
      : new sfn.Map(this, 'AccountRegionGroups', groupsProps);
    groupsMap.itemProcessor(units);
    const reportTask = lambdaRetry(
      new tasks.LambdaInvoke(this, 'Report', {
        lambdaFunction: this.reportFunction,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        payload: sfn.TaskInput.fromObject({ 'results.$': '$.results' }),
      }),
    );
    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(planTask.next(groupsMap).next(reportTask)),
      // A run never overlaps the next daily one: two at once would share one quota.
      timeout: Duration.hours(23),
      logs: { destination: smLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
  }

  /** The rule that starts a run (default: every day at 03:00 UTC). */
  private addSchedule(props: CognitoVaultProps): events.Rule {
    return new events.Rule(this, 'Schedule', {
      schedule: props.schedule ?? events.Schedule.cron({ minute: '0', hour: '3' }),
      // The plan reads its settings from the environment; an execution started by hand may
      // pass { userPoolIds, regions, accounts, roleArnPattern } instead of the scheduled event.
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({}),
        }),
      ],
    });
  }

  /** The failure alarm and the stale alarms (the vault's, and each named pool's). */
  private addAlarms(s: Settings): {
    failures: cloudwatch.MathExpression;
    failureAlarm: cloudwatch.Alarm;
    staleAlarm: cloudwatch.Alarm;
  } {
    const { vaultName, staleHours, namedPools } = s;
    const failures = new cloudwatch.MathExpression({
      expression: 'failed + timedOut + aborted',
      usingMetrics: {
        failed: this.stateMachine.metricFailed({ statistic: 'Sum' }),
        timedOut: this.stateMachine.metricTimedOut({ statistic: 'Sum' }),
        aborted: this.stateMachine.metricAborted({ statistic: 'Sum' }),
      },
      period: Duration.minutes(5),
      label: 'executions failed, timed out or aborted',
    });
    const failureAlarm = failures.createAlarm(this, 'FailureAlarm', {
      alarmDescription: `cognito-vault ${vaultName}: a backup run failed (see the execution's Report step)`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const completed = (dims: Record<string, string>): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: METRIC_NAMESPACE,
        metricName: COMPLETED_METRIC,
        dimensionsMap: dims,
        statistic: 'Sum',
        period: Duration.hours(1),
      });
    const staleAlarm = (name: string, dims: Record<string, string>, what: string) =>
      completed(dims).createAlarm(this, name, {
        alarmDescription: `cognito-vault ${vaultName}: no complete snapshot of ${what} in ${staleHours} hours`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: staleHours,
        datapointsToAlarm: staleHours,
        // No data point is no snapshot: the alarm also fires when nothing runs at all.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    const vaultStaleAlarm = staleAlarm('StaleAlarm', { Vault: vaultName }, 'any pool');
    if (namedPools) {
      namedPools.forEach((p, i) =>
        this.poolStaleAlarms.push(
          staleAlarm(`StaleAlarm${i}`, { Vault: vaultName, UserPoolId: p }, p),
        ),
      );
    }
    return { failures, failureAlarm, staleAlarm: vaultStaleAlarm };
  }

  /** The topic every alarm notifies (a given one, or a new one) and its e-mail subscription. */
  private addAlarmTopic(
    props: CognitoVaultProps,
    vaultName: string,
  ): { topic: sns.ITopic; subscription?: sns.Subscription } {
    // Every alarm notifies the topic: a given one, or a new one (an alarm that notifies nobody
    // is a dashboard nobody looks at).
    const topic =
      props.alarmTopic ??
      new sns.Topic(this, 'AlarmTopic', {
        displayName: `cognito-vault ${vaultName} alarms`,
        enforceSSL: true,
      });
    if (!props.alarmEmail) return { topic };
    const subscription = new sns.Subscription(this, 'AlarmEmail', {
      topic,
      protocol: sns.SubscriptionProtocol.EMAIL,
      endpoint: props.alarmEmail,
    });
    return { topic, subscription };
  }

  /** Every alarm of the vault notifies the alarm topic. */
  private notifyAlarmTopic(): void {
    const action = new cwActions.SnsAction(this.alarmTopic);
    for (const a of [this.failureAlarm, this.staleAlarm, ...this.poolStaleAlarms]) {
      a.addAlarmAction(action);
    }
  }

  /** Snapshots, runs and alarms at a glance. */
  private addDashboard(
    vaultName: string,
    failures: cloudwatch.MathExpression,
  ): cloudwatch.Dashboard {
    const vaultMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: METRIC_NAMESPACE,
        metricName,
        dimensionsMap: { Vault: vaultName },
        statistic,
        period: Duration.hours(1),
      });
    return new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(14),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Snapshots completed (per hour)',
            left: [vaultMetric(COMPLETED_METRIC, 'Sum')],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Users per snapshot',
            left: [vaultMetric('UsersBackedUp', 'Maximum')],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Runs: duration',
            left: [this.stateMachine.metricTime({ statistic: 'Maximum' })],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Runs: failed, timed out, aborted',
            left: [failures],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Backup function: errors and throttles',
            left: [
              this.backupFunction.metricErrors({ statistic: 'Sum' }),
              this.backupFunction.metricThrottles({ statistic: 'Sum' }),
            ],
            width: 8,
          }),
        ],
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Alarms',
            alarms: [this.failureAlarm, this.staleAlarm, ...this.poolStaleAlarms],
            width: 24,
          }),
        ],
      ],
    });
  }

  /** The bucket, the state machine and the alarm topic, as stack outputs. */
  private addOutputs(): void {
    new CfnOutput(this, 'BucketName', {
      description: 'Where the snapshots are',
      value: this.bucket.bucketName,
    });
    new CfnOutput(this, 'StateMachineArn', {
      description: 'The backup run (start an execution to back up now)',
      value: this.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'Every alarm notifies this topic: subscribe to it',
      value: this.alarmTopic.topicArn,
    });
  }

  /** Scheduled restore drills (src/cdk/drill.ts) over this vault's snapshots. */
  private addDrillHook(
    drill: DrillProps,
    s: Settings,
    code: lambda.Code,
    environment: Record<string, string>,
    target: PolicyTarget,
  ): DrillResources {
    const { namedPools, vaultName } = s;
    const { location, keyArn, policyKey } = target;
    return addDrill(this, {
      drill,
      ...(namedPools ? { userPoolIds: namedPools } : {}),
      code,
      environment,
      vaultName,
      policyOptions: { s3Location: location, ...policyKey },
      statements: (p) => statementsOf(p, this.bucket, keyArn),
      alarmTopic: this.alarmTopic,
    });
  }
}
