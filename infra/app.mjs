// Example CDK app for cognito-vault's scheduled, distributed backups (README, "Scheduled
// backups in five minutes"). Synthesizes offline: no account or Region lookups (the stacks are
// environment-agnostic), and cdk.json turns off notices, version reporting and CLI telemetry.
//
//   npx cdk synth                                   every pool of the deployment Region
//   npx cdk synth -c userPoolIds=eu-west-1_AbC,eu-west-1_XyZ -c keepLast=14
//   npx cdk deploy CognitoVault                     (needs `cdk bootstrap` once per account/Region)
//
// The second stack, CognitoVaultTemplate, is the published plain CloudFormation template
// (template/cognito-vault.template.json): it takes the Lambda bundle from a bucket you upload
// it to (parameters CodeBucket and CodeKey) instead of a CDK asset, so it deploys without CDK,
// and takes what operators set as parameters (pools, Regions, schedule, retention, age
// recipients, user MFA capture, rate share, alarm e-mail, drill; docs/deploy.md).
import {
  Annotations,
  App,
  CfnCondition,
  Aws,
  CfnParameter,
  CfnResource,
  CfnRule,
  Fn,
  DefaultStackSynthesizer,
  Duration,
  Stack,
} from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
// The package's own entry point (a CDK app in another project imports it the same way).
import { CognitoVault } from 'cognito-vault/cdk';

const app = new App();
const ctx = (name, fallback) => app.node.tryGetContext(name) ?? fallback;
const pools = String(ctx('userPoolIds', '*'));
const userPoolIds = pools === '*' ? '*' : pools.split(',').map((p) => p.trim());
const ctxRetention = {
  keepLast: Number(ctx('keepLast', 7)),
  keepDaily: Number(ctx('keepDaily', 14)),
  keepMonthly: Number(ctx('keepMonthly', 3)),
};

const stack = new Stack(app, 'CognitoVault', {
  description: 'cognito-vault: scheduled backups of Amazon Cognito user pools',
});
new CognitoVault(stack, 'Vault', {
  userPoolIds,
  retention: ctxRetention,
  staleAfter: Duration.hours(Number(ctx('staleAfterHours', 26))),
});

// The published template: no CDK asset, no bootstrap stack.
const plain = new Stack(app, 'CognitoVaultTemplate', {
  description:
    'cognito-vault: scheduled backups of every Amazon Cognito user pool in the Region (published template)',
  synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
});
const codeBucket = new CfnParameter(plain, 'CodeBucket', {
  description: 'Bucket (in this Region) holding the Lambda bundle zip',
});
const codeKey = new CfnParameter(plain, 'CodeKey', {
  description:
    'Key of the zip of dist/lambda-bundle/index.mjs; a new version gets a new key (the stack update then updates the functions)',
  default: 'cognito-vault-lambda.zip',
});
// CloudFormation sees a changed CodeKey, not a changed object: a new bundle gets a new key.
Annotations.of(plain).acknowledgeWarning(
  '@aws-cdk/aws-lambda:codeFromBucketObjectVersionNotSpecified',
  'a new bundle is uploaded under a new CodeKey',
);
const alarmEmail = new CfnParameter(plain, 'AlarmEmail', {
  description:
    'An e-mail address subscribed to the alarm topic (empty: none; subscribe to the AlarmTopicArn output yourself)',
  default: '',
});
// What operators set (README, "Production in ten minutes"; docs/deploy.md): each parameter
// flows into the functions' environment, which the functions check when they start.
const poolsParam = new CfnParameter(plain, 'UserPoolIds', {
  description: 'Pools to back up: comma-separated pool ids, or * for every pool of the Regions',
  default: '*',
  allowedPattern: '^(\\*|[\\w-]+_[0-9a-zA-Z]+(,[\\w-]+_[0-9a-zA-Z]+)*)$',
  constraintDescription: '* or comma-separated user pool ids (eu-west-1_AbC,eu-west-1_XyZ)',
});
const regionsParam = new CfnParameter(plain, 'Regions', {
  description:
    'With UserPoolIds *: the Regions whose pools to back up (comma-separated), or all (empty: this Region)',
  default: '',
  allowedPattern: '^(|all|[a-z]{2}(-[a-z]+)+-\\d(,[a-z]{2}(-[a-z]+)+-\\d)*)$',
  constraintDescription: 'empty, all, or comma-separated Region names',
});
const scheduleExpression = new CfnParameter(plain, 'ScheduleExpression', {
  description: 'When backups run: an EventBridge cron() or rate() expression (UTC)',
  default: 'cron(0 3 * * ? *)',
  allowedPattern: '^(cron|rate)\\(.+\\)$',
});
// The bucket's lifecycle expiry is a backstop behind retention; CloudFormation cannot compute
// the longest window from parameters, so the counts are bounded and the backstop covers the
// bounds: max(366 days, 12 months × 31 days) + 30 days.
const keepLast = new CfnParameter(plain, 'KeepLast', {
  type: 'Number',
  description: 'Retention: keep the newest N complete snapshots of each pool (1 to 366)',
  default: 7,
  minValue: 1,
  maxValue: 366,
});
const keepDaily = new CfnParameter(plain, 'KeepDaily', {
  type: 'Number',
  description: 'Retention: also the newest of each of the last N days (0 to 366)',
  default: 14,
  minValue: 0,
  maxValue: 366,
});
const keepMonthly = new CfnParameter(plain, 'KeepMonthly', {
  type: 'Number',
  description: 'Retention: also the newest of each of the last N months (0 to 12)',
  default: 3,
  minValue: 0,
  maxValue: 12,
});
const BACKSTOP_DAYS = 12 * 31 + 30;
const encryptTo = new CfnParameter(plain, 'EncryptTo', {
  description:
    'age X25519 recipients (age1…, comma-separated): every data file is encrypted to them (empty: SSE-KMS only)',
  default: '',
  allowedPattern: '^(|age1[02-9ac-hj-np-z]{58}(,age1[02-9ac-hj-np-z]{58})*)$',
  constraintDescription: 'empty or comma-separated age1… recipients',
});
const userMfa = new CfnParameter(plain, 'UserMfa', {
  description:
    "Capture each user's MFA settings: one AdminGetUser per user, which bills every user as a monthly active user",
  default: 'false',
  allowedValues: ['false', 'true'],
});
const rateShare = new CfnParameter(plain, 'RateShare', {
  type: 'Number',
  description:
    'Share of each Cognito quota (per account and Region, shared with production) a backup uses',
  default: 0.5,
  minValue: 0.05,
  maxValue: 1,
});
const drillSchedule = new CfnParameter(plain, 'DrillSchedule', {
  description:
    'Scheduled restore drills into a scratch pool: a cron() or rate() expression (empty: no drill resources)',
  default: '',
  allowedPattern: '^(|(cron|rate)\\(.+\\))$',
});
const drillUserPoolIds = new CfnParameter(plain, 'DrillUserPoolIds', {
  description: 'With DrillSchedule: the pools to drill (comma-separated pool ids)',
  default: '',
  allowedPattern: '^(|[\\w-]+_[0-9a-zA-Z]+(,[\\w-]+_[0-9a-zA-Z]+)*)$',
});
const has = (id, p) =>
  new CfnCondition(plain, id, { expression: Fn.conditionNot(Fn.conditionEquals(p, '')) });
const hasRegions = has('HasRegions', regionsParam.valueAsString);
const hasRecipients = has('HasEncryptTo', encryptTo.valueAsString);
const drillEnabled = has('DrillEnabled', drillSchedule.valueAsString);
// Cross-parameter checks CloudFormation makes before it creates anything.
new CfnRule(plain, 'RegionsNeedAllPools', {
  ruleCondition: Fn.conditionNot(Fn.conditionEquals(regionsParam.valueAsString, '')),
  assertions: [
    {
      assert: Fn.conditionEquals(poolsParam.valueAsString, '*'),
      assertDescription: 'Regions go with UserPoolIds * only (pool ids name their Region)',
    },
  ],
});
new CfnRule(plain, 'DrillNeedsPools', {
  ruleCondition: Fn.conditionNot(Fn.conditionEquals(drillSchedule.valueAsString, '')),
  assertions: [
    {
      assert: Fn.conditionNot(Fn.conditionEquals(drillUserPoolIds.valueAsString, '')),
      assertDescription: 'DrillSchedule needs DrillUserPoolIds',
    },
  ],
});
const ifSet = (condition, p) => Fn.conditionIf(condition.logicalId, p, Aws.NO_VALUE).toString();
const vault = new CognitoVault(plain, 'Vault', {
  userPoolIds: poolsParam.valueAsString,
  regions: [ifSet(hasRegions, regionsParam.valueAsString)],
  schedule: events.Schedule.expression(scheduleExpression.valueAsString),
  alarmEmail: alarmEmail.valueAsString,
  retention: {
    keepLast: keepLast.valueAsNumber,
    keepDaily: keepDaily.valueAsNumber,
    keepMonthly: keepMonthly.valueAsNumber,
  },
  lifecycleExpiration: Duration.days(BACKSTOP_DAYS),
  encryptTo: [ifSet(hasRecipients, encryptTo.valueAsString)],
  userMfa: userMfa.valueAsString,
  rateShare: rateShare.valueAsNumber,
  drill: {
    schedule: events.Schedule.expression(drillSchedule.valueAsString),
    userPoolIds: drillUserPoolIds.valueAsString,
  },
  code: lambda.Code.fromBucket(
    s3.Bucket.fromBucketName(plain, 'CodeBucketRef', codeBucket.valueAsString),
    codeKey.valueAsString,
  ),
});
// The subscription exists only when an address is given.
vault.alarmSubscription.node.defaultChild.cfnOptions.condition = new CfnCondition(
  plain,
  'HasAlarmEmail',
  { expression: Fn.conditionNot(Fn.conditionEquals(alarmEmail.valueAsString, '')) },
);
// The drill's resources (function, state machine, schedule, alarm, their roles and logs) exist
// only when DrillSchedule is set: a drill alarm without drills would always be in ALARM.
for (const c of vault.node.findAll()) {
  if (c instanceof CfnResource && c.node.path.startsWith(`${vault.node.path}/Drill`)) {
    c.cfnOptions.condition = drillEnabled;
  }
}
