import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { iamPolicy, type IamPolicy, type PolicyOptions } from '../policy/iam.js';
import { ENV } from '../lambda/env.js';
import {
  DRILL_DURATION_METRIC,
  DRILL_METRIC_NAMESPACE,
  DRILL_PASSED_METRIC,
  ESTIMATED_RESTORE_METRIC,
} from '../lambda/drill-metrics.js';

/**
 * Scheduled restore drills (issue 17): a state machine that runs the drill Lambda (index.drill,
 * the same engine as `cognito-vault drill`) for each pool, one at a time (quotas are per account
 * and Region, shared with production and the backups), on a schedule; the metrics the Lambda
 * logs (DrillPassed, DrillDurationSeconds, EstimatedRestoreSeconds by Vault and pool); and an
 * alarm when no drill passed in N days. Off unless the construct's `drill` prop is given.
 */
export interface DrillProps {
  /** When drills run, e.g. `events.Schedule.cron({ weekDay: 'SUN', hour: '5', minute: '0' })`. */
  readonly schedule: events.Schedule;
  /**
   * Users per drill: a deterministic sample (by a hash of the sub); default 1,000. Each is
   * created with AdminCreateUser and billed as a monthly active user of the scratch pool.
   */
  readonly sample?: number;
  /**
   * The pools to drill (default: the construct's `userPoolIds`; required with `'*'` or a
   * token), or a token (a template parameter) resolving to comma-separated pool ids: the
   * state machine splits it, and there are no per-pool alarms (the Vault-wide one covers them).
   */
  readonly userPoolIds?: string[] | (string & {});
  /** Changes which users the sample draws (default: the same users every drill). */
  readonly seed?: string;
  /** Alarm when no drill passed for this long (default 7 days; 1 to 7 days). */
  readonly alarmAfter?: Duration;
}

export interface DrillResources {
  function: lambda.Function;
  stateMachine: sfn.StateMachine;
  schedule: events.Rule;
  /** No passing drill of any pool in `alarmAfter`. */
  alarm: cloudwatch.Alarm;
  /** The same, per pool. */
  poolAlarms: cloudwatch.Alarm[];
}

export interface DrillContext {
  drill: DrillProps;
  /** The construct's pool ids, when named (used when `drill.userPoolIds` is absent). */
  userPoolIds?: string[];
  code: lambda.Code;
  /** The construct's function environment (location, KMS key, bucket owner, vault name…). */
  environment: Record<string, string>;
  vaultName: string;
  /** The policy options the construct builds its policies with (placeholder location and key). */
  policyOptions: PolicyOptions;
  /** Turns a policy built with those placeholders into statements on the real bucket and key. */
  statements: (policy: IamPolicy) => iam.PolicyStatement[];
  alarmTopic?: sns.ITopic;
}

export const DEFAULT_DRILL_SAMPLE = 1000;

export function addDrill(scope: Construct, ctx: DrillContext): DrillResources {
  const { drill, vaultName } = ctx;
  const pools = drill.userPoolIds ?? ctx.userPoolIds;
  if (typeof pools === 'string' && !Token.isUnresolved(pools))
    throw new Error('cognito-vault: drill.userPoolIds must be a list, or a token of a list');
  if (!pools?.length)
    throw new Error(
      'cognito-vault: drill needs userPoolIds when the construct backs up every pool (*) or pools from a parameter',
    );
  const sample = drill.sample ?? DEFAULT_DRILL_SAMPLE;
  if (!(Number.isSafeInteger(sample) && sample > 0))
    throw new Error('cognito-vault: drill.sample must be a positive whole number of users');
  const days = (drill.alarmAfter ?? Duration.days(7)).toDays();
  if (!(Number.isInteger(days) && days >= 1 && days <= 7))
    throw new Error('cognito-vault: drill.alarmAfter must be 1 to 7 whole days');

  const fn = new lambda.Function(scope, 'DrillFunction', {
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.drill',
    code: ctx.code,
    timeout: Duration.minutes(15),
    memorySize: 1024,
    environment: {
      ...ctx.environment,
      [ENV.drillSample]: String(sample),
      ...(drill.seed ? { [ENV.drillSeed]: drill.seed } : {}),
    },
    logGroup: new logs.LogGroup(scope, 'DrillFunctionLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    }),
  });
  // `cognito-vault policy drill`: pool actions only on drill-tagged pools.
  for (const s of ctx.statements(iamPolicy('drill', ctx.policyOptions))) fn.addToRolePolicy(s);

  const invoke = new tasks.LambdaInvoke(scope, 'DrillPool', {
    lambdaFunction: fn,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    payload: sfn.TaskInput.fromObject({ 'userPoolId.$': '$.userPoolId' }),
  });
  lambdaRetry(invoke);
  // One pool's failed drill (logged as DrillPassed 0) does not stop the others.
  const failed = new sfn.Pass(scope, 'DrillFailed', {
    parameters: { 'userPoolId.$': '$.userPoolId', passed: false, 'error.$': '$.failure.Error' },
  });
  invoke.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.failure' });
  const each = new sfn.Map(scope, 'DrillsOneAtATime', {
    itemsPath: '$.userPoolIds',
    maxConcurrency: 1,
    itemSelector: { 'userPoolId.$': '$$.Map.Item.Value' },
  });
  each.itemProcessor(invoke);
  // Pools from a parameter arrive as one comma-separated string: split them first.
  const start =
    typeof pools === 'string'
      ? new sfn.Pass(scope, 'DrillSplitPools', {
          parameters: { 'userPoolIds.$': "States.StringSplit($.userPoolIds, ',')" },
        }).next(each)
      : each;
  const stateMachine = new sfn.StateMachine(scope, 'DrillStateMachine', {
    definitionBody: sfn.DefinitionBody.fromChainable(start),
    timeout: Duration.hours(23),
    logs: {
      destination: new logs.LogGroup(scope, 'DrillStateMachineLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      level: sfn.LogLevel.ERROR,
      includeExecutionData: false,
    },
  });
  const schedule = new events.Rule(scope, 'DrillSchedule', {
    schedule: drill.schedule,
    targets: [
      new targets.SfnStateMachine(stateMachine, {
        input: events.RuleTargetInput.fromObject({ userPoolIds: pools }),
      }),
    ],
  });

  // No data point is no drill: missing data breaches, so the alarm also fires when nothing runs.
  const passed = (dims: Record<string, string>): cloudwatch.Metric =>
    new cloudwatch.Metric({
      namespace: DRILL_METRIC_NAMESPACE,
      metricName: DRILL_PASSED_METRIC,
      dimensionsMap: dims,
      statistic: 'Maximum',
      period: Duration.days(1),
    });
  const alarmOf = (name: string, dims: Record<string, string>, what: string) =>
    passed(dims).createAlarm(scope, name, {
      alarmDescription: `cognito-vault ${vaultName}: no passing restore drill of ${what} in ${days} day(s)`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: days,
      datapointsToAlarm: days,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  const alarm = alarmOf('DrillAlarm', { Vault: vaultName }, 'any pool');
  // Pools from a template parameter are known at deployment only: the Vault-wide alarm covers them.
  const poolAlarms =
    typeof pools === 'string'
      ? []
      : pools.map((p, i) => alarmOf(`DrillAlarm${i}`, { Vault: vaultName, UserPoolId: p }, p));
  if (ctx.alarmTopic) {
    const action = new cwActions.SnsAction(ctx.alarmTopic);
    for (const a of [alarm, ...poolAlarms]) a.addAlarmAction(action);
  }
  return { function: fn, stateMachine, schedule, alarm, poolAlarms };
}

/** The metric names the drill Lambda logs (for dashboards). */
export const DRILL_METRICS = {
  namespace: DRILL_METRIC_NAMESPACE,
  passed: DRILL_PASSED_METRIC,
  durationSeconds: DRILL_DURATION_METRIC,
  estimatedRestoreSeconds: ESTIMATED_RESTORE_METRIC,
} as const;

/**
 * The retry of every Lambda task of the construct's state machines (backup and drill): Lambda's
 * own service errors, 6 attempts from 2 s. The handlers' own errors are caught by each machine.
 */
export function lambdaRetry(t: tasks.LambdaInvoke): tasks.LambdaInvoke {
  t.addRetry({
    errors: [
      'Lambda.TooManyRequestsException',
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
    ],
    interval: Duration.seconds(2),
    maxAttempts: 6,
    backoffRate: 2,
  });
  return t;
}
