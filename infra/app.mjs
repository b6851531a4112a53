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
// it to (parameters CodeBucket and CodeKey) instead of a CDK asset, so it deploys without CDK.
import {
  Annotations,
  App,
  CfnCondition,
  CfnParameter,
  Fn,
  DefaultStackSynthesizer,
  Duration,
  Stack,
} from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
// The package's own entry point (a CDK app in another project imports it the same way).
import { CognitoVault } from 'cognito-vault/cdk';

const app = new App();
const ctx = (name, fallback) => app.node.tryGetContext(name) ?? fallback;
const pools = String(ctx('userPoolIds', '*'));
const userPoolIds = pools === '*' ? '*' : pools.split(',').map((p) => p.trim());
const retention = {
  keepLast: Number(ctx('keepLast', 7)),
  keepDaily: Number(ctx('keepDaily', 14)),
  keepMonthly: Number(ctx('keepMonthly', 3)),
};

const stack = new Stack(app, 'CognitoVault', {
  description: 'cognito-vault: scheduled backups of Amazon Cognito user pools',
});
new CognitoVault(stack, 'Vault', {
  userPoolIds,
  retention,
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
const vault = new CognitoVault(plain, 'Vault', {
  userPoolIds: '*',
  alarmEmail: alarmEmail.valueAsString,
  retention: { keepLast: 7, keepDaily: 14, keepMonthly: 3 },
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
