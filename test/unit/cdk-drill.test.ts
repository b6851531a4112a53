import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { CognitoVault } from '../../src/cdk/index.js';

const run = promisify(execFile);

function synth(drill?: ConstructorParameters<typeof CognitoVault>[2]['drill']): Template {
  const app = new App();
  const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'us-east-1' } });
  new CognitoVault(stack, 'Vault', {
    userPoolIds: ['us-east-1_AbC', 'us-east-1_XyZ'],
    code: lambda.Code.fromInline('exports.handler = async () => {}'),
    ...(drill ? { drill } : {}),
  });
  return Template.fromStack(stack);
}

describe('construct: scheduled drills', () => {
  it('are off by default', () => {
    const t = synth();
    expect(
      Object.keys(
        t.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.drill' } }),
      ),
    ).toEqual([]);
    expect(t.findResources('AWS::StepFunctions::StateMachine')).not.toEqual({});
    expect(Object.keys(t.findResources('AWS::Events::Rule'))).toHaveLength(1);
  });

  it('a drill state machine, schedule, drill-only IAM and the "no passing drill" alarms', async () => {
    const t = synth({
      schedule: events.Schedule.cron({ weekDay: 'SUN', hour: '5', minute: '0' }),
      sample: 500,
      alarmAfter: Duration.days(7),
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.drill',
      Timeout: 900,
      Environment: { Variables: Match.objectLike({ COGNITO_VAULT_DRILL_SAMPLE: '500' }) },
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 5 ? * SUN *)',
      Targets: [
        Match.objectLike({
          Input: JSON.stringify({ userPoolIds: ['us-east-1_AbC', 'us-east-1_XyZ'] }),
        }),
      ],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DrillPassed',
      Namespace: 'CognitoVault',
      Statistic: 'Maximum',
      Period: 86400,
      EvaluationPeriods: 7,
      DatapointsToAlarm: 7,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      Dimensions: [{ Name: 'Vault', Value: 'Vault' }],
    });
    expect(
      Object.keys(
        t.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'DrillPassed' } }),
      ),
    ).toHaveLength(3);
    // The drill role: DeleteUserPool only with the drill tag on the pool.
    const policies = Object.values(t.findResources('AWS::IAM::Policy')).map((p) =>
      JSON.stringify(p),
    );
    const drillPolicy = policies.find((p) => p.includes('cognito-idp:DeleteUserPool'));
    expect(drillPolicy).toContain('aws:ResourceTag/cognito-vault:drill');
    expect(drillPolicy).toContain('aws:RequestTag/cognito-vault:drill');
    expect(policies.filter((p) => p.includes('cognito-idp:DeleteUserPool'))).toHaveLength(1);

    // cfn-lint, an independent checker, on the synthesized template.
    const dir = await mkdtemp(path.join(tmpdir(), 'cv-cdk-drill-'));
    try {
      const file = path.join(dir, 'template.json');
      await writeFile(file, JSON.stringify(t.toJSON()));
      const r = await run('cfn-lint', ['--format', 'parseable', file]).catch(
        (e: { stdout?: string; code?: number | string }) => {
          // Installed with the test tools: a missing cfn-lint fails the test, never skips it.
          if (e.code === 'ENOENT') throw new Error('cfn-lint is not installed');
          return { stdout: e.stdout ?? '', code: e.code };
        },
      );
      const errors = r.stdout.split('\n').filter((l) => /:E\d{4}:/.test(l));
      expect(errors).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a drill of every pool (*) without pool ids, and an alarm beyond 7 days', () => {
    const make = (over: object) => () => {
      const app = new App();
      const stack = new Stack(app, 'S');
      new CognitoVault(stack, 'Vault', {
        userPoolIds: '*',
        code: lambda.Code.fromInline('x'),
        drill: { schedule: events.Schedule.rate(Duration.days(1)), ...over },
      });
    };
    expect(make({})).toThrow(/needs userPoolIds/);
    expect(make({ userPoolIds: ['us-east-1_A'], alarmAfter: Duration.days(8) })).toThrow(/1 to 7/);
  });
});
