/**
 * The construct's state machine, executed: a CloudFormation template (the published one, or one
 * synthesized from the construct in the test) deployed onto moto — its Lambda functions created
 * from the template's properties with the code zip it names, its state machine created from the
 * template's DefinitionString — and executed by moto's Step Functions interpreter (its port of
 * LocalStack's ASL interpreter, switched on with moto's `stepfunctions.execute_state_machine`
 * config). Each Lambda invocation runs the function's code on Node.js
 * (test/support/moto-sfn-server.py, test/support/lambda-runtime.mjs: what differs from AWS is
 * written there). Nothing here imports the product: the template and the bundle are the inputs.
 *
 * Requests to moto's Step Functions, Lambda, IAM and KMS are plain HTTP with a SigV4-shaped
 * Authorization header naming the service (moto routes by it and checks no signature).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type MotoFixture, REGION, startMotoFixture } from './fixture.js';

const run = promisify(execFile);
export const ACCOUNT = '123456789012';
const SERVER = path.resolve('test/support/moto-sfn-server.py');

/** One Lambda invocation, as moto-sfn-server.py recorded it. */
export interface Invocation {
  function: string;
  handler: string;
  region: string;
  start: number;
  end: number;
  /** The deadline the invocation had. */
  timeoutMs: number;
  event: unknown;
  result?: unknown;
  error?: { errorType: string; errorMessage: string; trace?: string[] };
  logs: string[];
}

export interface CfnTemplate {
  Parameters?: Record<string, { Default?: string | number }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<
    string,
    { Type: string; Condition?: string; Properties?: Record<string, unknown> }
  >;
  Outputs?: Record<string, { Value: unknown }>;
}

export interface HistoryEvent {
  type: string;
  id: number;
  [detail: string]: unknown;
}

export interface ExecutionOutcome {
  arn: string;
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  output?: unknown;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
  /** The Lambda invocations this execution made, in order of their start. */
  invocations: Invocation[];
}

export interface Deployment {
  name: string;
  bucket: string;
  stateMachineArn: string;
  /** Function name by logical id, and by handler (`index.plan` …). */
  functions: Record<string, string>;
  byHandler: Record<string, string>;
  /** The definition as created (ASL JSON), CloudFormation tokens resolved. */
  definition: Record<string, unknown>;
}

export interface DeployOptions {
  /** Unique per deployment: prefixes its functions, state machine and bucket. */
  name: string;
  /** Template parameter values (else their defaults). */
  parameters?: Record<string, string>;
  /**
   * Variables added to every function's environment on top of the template's: only what points
   * the functions at the emulator (COGNITO_VAULT_ENDPOINT_URL is always set) or shortens a
   * deadline. Each test says why.
   */
  environment?: Record<string, string>;
  /**
   * Timeout (seconds) by handler, replacing the template's (a short deadline); a list gives the
   * n-th invocation of the function the n-th value (the last one from then on).
   */
  timeouts?: Record<string, number | number[]>;
  /** Rewrites the definition before it is created (e.g. shorter Retry intervals). */
  editDefinition?: (asl: Record<string, unknown>) => void;
}

export interface SfnEmulator {
  fixture: MotoFixture;
  /** moto itself (Step Functions, Lambda, S3). */
  endpoint: string;
  s3: S3Client;
  /** The zip of the Lambda bundle, uploaded once: the CodeBucket/CodeKey parameters. */
  code: { bucket: string; key: string };
  deploy(template: CfnTemplate, opts: DeployOptions): Promise<Deployment>;
  execute(
    d: Deployment,
    input?: unknown,
    opts?: { timeoutMs?: number; name?: string },
  ): Promise<ExecutionOutcome>;
  invocations(): Promise<Invocation[]>;
  stop(): Promise<void>;
}

function authorization(service: string, region: string): string {
  return `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;
}

async function call(
  endpoint: string,
  service: string,
  region: string,
  init: { path?: string; method?: string; headers?: Record<string, string>; body: string },
): Promise<unknown> {
  const r = await fetch(`${endpoint}${init.path ?? '/'}`, {
    method: init.method ?? 'POST',
    headers: {
      authorization: authorization(service, region),
      'x-amz-date': '20260101T000000Z',
      ...init.headers,
    },
    body: init.body,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${service} ${init.path ?? '/'}: HTTP ${r.status}: ${text}`);
  // IAM answers XML; nothing here reads its answers.
  return text.startsWith('{') ? (JSON.parse(text) as unknown) : {};
}

/** An AWS JSON 1.0/1.1 call (Step Functions: AWSStepFunctions.X; KMS: TrentService.X). */
export function awsJson(
  endpoint: string,
  service: string,
  target: string,
  body: unknown,
  region = REGION,
): Promise<Record<string, unknown>> {
  return call(endpoint, service, region, {
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target },
    body: JSON.stringify(body),
  }) as Promise<Record<string, unknown>>;
}

const sfnCall = (endpoint: string, action: string, body: unknown, region = REGION) =>
  awsJson(endpoint, 'states', `AWSStepFunctions.${action}`, body, region);

/**
 * A template value with its intrinsic functions resolved: Ref, Fn::GetAtt, Fn::Join, Fn::Sub,
 * Fn::Select, Fn::Split, Fn::If (over the template's Conditions: Fn::Equals, Fn::Not, Fn::And,
 * Fn::Or, Condition). An intrinsic or reference it does not know throws: a template change the
 * harness does not model fails the test instead of deploying something else.
 */
export function resolver(
  template: CfnTemplate,
  refs: Record<string, string>,
  attrs: Record<string, string>,
): (v: unknown) => unknown {
  const conditions = template.Conditions ?? {};
  const condition = (name: string): boolean => {
    if (!(name in conditions)) throw new Error(`no condition ${name}`);
    return Boolean(resolve(conditions[name]));
  };
  const resolve = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(resolve).filter((x) => x !== NO_VALUE);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const a = o[k];
      switch (k) {
        case 'Ref': {
          const name = a as string;
          if (name === 'AWS::NoValue') return NO_VALUE;
          if (!(name in refs)) throw new Error(`unresolved Ref ${name}`);
          return refs[name];
        }
        case 'Fn::GetAtt': {
          const [res, att] = (typeof a === 'string' ? a.split('.') : a) as [string, string];
          const key = `${res}.${att}`;
          if (!(key in attrs)) throw new Error(`unresolved Fn::GetAtt ${key}`);
          return attrs[key];
        }
        case 'Fn::Join': {
          const [sep, parts] = a as [string, unknown[]];
          return (resolve(parts) as unknown[]).map(String).join(sep);
        }
        case 'Fn::Split': {
          const [sep, s] = a as [string, unknown];
          return String(resolve(s)).split(sep);
        }
        case 'Fn::Select': {
          const [i, list] = a as [unknown, unknown];
          return (resolve(list) as unknown[])[Number(resolve(i))];
        }
        case 'Fn::Sub': {
          const [text, vars] = (typeof a === 'string' ? [a, {}] : a) as [
            string,
            Record<string, unknown>,
          ];
          return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
            if (name in vars) return String(resolve(vars[name]));
            if (name.includes('.')) return String(resolve({ 'Fn::GetAtt': name }));
            return String(resolve({ Ref: name }));
          });
        }
        case 'Fn::If': {
          const [c, yes, no] = a as [string, unknown, unknown];
          return resolve(condition(c) ? yes : no);
        }
        case 'Fn::Equals': {
          const [x, y] = a as [unknown, unknown];
          return JSON.stringify(resolve(x)) === JSON.stringify(resolve(y));
        }
        case 'Fn::Not':
          return !resolve((a as unknown[])[0]);
        case 'Fn::And':
          return (a as unknown[]).every((c) => resolve(c));
        case 'Fn::Or':
          return (a as unknown[]).some((c) => resolve(c));
        case 'Condition':
          return condition(a as string);
        default:
          if (k.startsWith('Fn::')) throw new Error(`intrinsic ${k} is not modelled`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      const r = resolve(x);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  };
  return resolve;
}
const NO_VALUE = Symbol('AWS::NoValue');

/** The lines of the Lambda log (moto-sfn-server.py), parsed. */
async function readInvocations(file: string): Promise<Invocation[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Invocation)
    .sort((a, b) => a.start - b.start);
}

/**
 * moto (behind the project's request-validating front for Cognito) with the Step Functions
 * interpreter on and Lambda routed to Node.js; the Lambda bundle in `bundleDir` zipped and
 * uploaded once.
 */
export async function startSfnEmulator(
  tmpPrefix: string,
  bundleDir = path.resolve('dist/lambda-bundle'),
): Promise<SfnEmulator> {
  const work = await mkdtemp(path.join(tmpdir(), tmpPrefix));
  const logFile = path.join(work, 'lambda.jsonl');
  const controlFile = path.join(work, 'lambda-control.json');
  const schedules: Record<string, number[]> = {};
  const saved = {
    MOTO_SERVER: process.env.MOTO_SERVER,
    CV_LAMBDA_LOG: process.env.CV_LAMBDA_LOG,
    CV_LAMBDA_CONTROL: process.env.CV_LAMBDA_CONTROL,
  };
  process.env.MOTO_SERVER = SERVER;
  process.env.CV_LAMBDA_LOG = logFile;
  process.env.CV_LAMBDA_CONTROL = controlFile;
  let fixture: MotoFixture;
  try {
    fixture = await startMotoFixture(`${tmpPrefix}f-`);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const endpoint = fixture.moto.motoEndpoint;
  const config = await fetch(`${endpoint}/moto-api/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stepfunctions: { execute_state_machine: true } }),
  });
  // moto's GET of its config leaves `stepfunctions` out: the executions themselves (their
  // Lambda invocations) show that the interpreter runs.
  if (config.status !== 201) throw new Error(`moto-api/config: HTTP ${config.status}`);
  const s3 = new S3Client({ region: REGION, endpoint, forcePathStyle: true });
  const code = { bucket: 'cv-lambda-code', key: 'cognito-vault-lambda.zip' };
  const zip = path.join(work, 'bundle.zip');
  // The zip the README tells operators to upload: the bundle directory's files at the root.
  await run('python3', ['-m', 'zipfile', '-c', zip, ...(await bundleFiles(bundleDir))]);
  await s3.send(new CreateBucketCommand({ Bucket: code.bucket }));
  await s3.send(
    new PutObjectCommand({ Bucket: code.bucket, Key: code.key, Body: await readFile(zip) }),
  );
  await call(endpoint, 'iam', REGION, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      Action: 'CreateRole',
      Version: '2010-05-08',
      RoleName: 'cv-test-role',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: ['lambda.amazonaws.com', 'states.amazonaws.com'] },
            Action: 'sts:AssumeRole',
          },
        ],
      }),
    }).toString(),
  });
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/cv-test-role`;

  return {
    fixture,
    endpoint,
    s3,
    code,
    async deploy(template, opts) {
      const parameters: Record<string, string> = {};
      for (const [k, p] of Object.entries(template.Parameters ?? {})) {
        const v = opts.parameters?.[k] ?? p.Default;
        if (v === undefined) throw new Error(`template parameter ${k} has no value`);
        // CloudFormation hands every parameter to Ref as a string (a Number's too).
        parameters[k] = String(v);
      }
      for (const k of Object.keys(opts.parameters ?? {})) {
        if (!(k in parameters)) throw new Error(`the template has no parameter ${k}`);
      }
      const refs: Record<string, string> = {
        ...parameters,
        'AWS::AccountId': ACCOUNT,
        'AWS::Region': REGION,
        'AWS::Partition': 'aws',
        'AWS::URLSuffix': 'amazonaws.com',
        'AWS::StackName': opts.name,
        'AWS::StackId': `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${opts.name}/0`,
      };
      const attrs: Record<string, string> = {};
      const name = opts.name.toLowerCase();
      const bucket = `${name}-vault`;
      // A resource whose Condition is false is not created (CloudFormation's rule); the
      // conditions read parameters only, so they resolve before any resource exists.
      const conditionHolds = resolver(template, refs, attrs);
      const resources = Object.entries(template.Resources).filter(
        ([, r]) => r.Condition === undefined || conditionHolds({ Condition: r.Condition }) === true,
      );
      // Resources the functions' environment and the definition refer to.
      for (const [id, r] of resources) {
        switch (r.Type) {
          case 'AWS::S3::Bucket':
            await s3.send(new CreateBucketCommand({ Bucket: bucket }));
            refs[id] = bucket;
            attrs[`${id}.Arn`] = `arn:aws:s3:::${bucket}`;
            break;
          case 'AWS::KMS::Key': {
            const k = (await awsJson(endpoint, 'kms', 'TrentService.CreateKey', {
              Description: `${opts.name} ${id}`,
            })) as { KeyMetadata: { KeyId: string; Arn: string } };
            refs[id] = k.KeyMetadata.KeyId;
            attrs[`${id}.Arn`] = k.KeyMetadata.Arn;
            break;
          }
          case 'AWS::IAM::Role':
            refs[id] = 'cv-test-role';
            attrs[`${id}.Arn`] = roleArn;
            break;
          case 'AWS::Lambda::Function': {
            const fn = `${opts.name}-${id}`.slice(0, 64);
            refs[id] = fn;
            attrs[`${id}.Arn`] = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${fn}`;
            break;
          }
          case 'AWS::Logs::LogGroup':
            refs[id] = `/cv/${opts.name}/${id}`;
            attrs[`${id}.Arn`] =
              `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/cv/${opts.name}/${id}:*`;
            break;
          case 'AWS::SNS::Topic':
            refs[id] = `arn:aws:sns:${REGION}:${ACCOUNT}:${opts.name}-${id}`;
            attrs[`${id}.TopicArn`] = refs[id];
            break;
          default:
            break;
        }
      }
      const resolve = resolver(template, refs, attrs);
      const functions: Record<string, string> = {};
      const byHandler: Record<string, string> = {};
      for (const [id, r] of resources) {
        if (r.Type !== 'AWS::Lambda::Function') continue;
        const p = resolve(r.Properties) as {
          Handler: string;
          Runtime: string;
          Timeout?: number;
          MemorySize?: number;
          Architectures?: string[];
          Code: { S3Bucket: string; S3Key: string };
          Environment?: { Variables?: Record<string, string> };
        };
        const fn = refs[id] as string;
        const timeout = opts.timeouts?.[p.Handler];
        if (Array.isArray(timeout)) {
          schedules[fn] = timeout;
          await writeFile(controlFile, JSON.stringify(schedules));
        }
        await call(endpoint, 'lambda', REGION, {
          path: '/2015-03-31/functions',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            FunctionName: fn,
            Runtime: p.Runtime,
            Role: roleArn,
            Handler: p.Handler,
            Code: { S3Bucket: p.Code.S3Bucket, S3Key: p.Code.S3Key },
            Timeout: (Array.isArray(timeout) ? Math.max(...timeout) : timeout) ?? p.Timeout ?? 3,
            MemorySize: p.MemorySize ?? 128,
            ...(p.Architectures ? { Architectures: p.Architectures } : {}),
            Environment: {
              Variables: {
                ...(p.Environment?.Variables ?? {}),
                COGNITO_VAULT_ENDPOINT_URL: fixture.moto.endpoint,
                ...opts.environment,
              },
            },
          }),
        });
        functions[id] = fn;
        byHandler[p.Handler] = fn;
      }
      const machines = resources.filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
      if (machines.length !== 1) throw new Error(`${machines.length} state machines`);
      const sm = resolve(machines[0]![1].Properties) as { DefinitionString: string };
      const definition = JSON.parse(sm.DefinitionString) as Record<string, unknown>;
      opts.editDefinition?.(definition);
      const created = await sfnCall(endpoint, 'CreateStateMachine', {
        name: `${opts.name}-sm`,
        definition: JSON.stringify(definition),
        roleArn,
        type: 'STANDARD',
      });
      return {
        name: opts.name,
        bucket,
        stateMachineArn: created.stateMachineArn as string,
        functions,
        byHandler,
        definition,
      };
    },
    async execute(d, input = {}, opts = {}) {
      const before = new Set((await readInvocations(logFile)).map((i) => JSON.stringify(i)));
      const started = await sfnCall(endpoint, 'StartExecution', {
        stateMachineArn: d.stateMachineArn,
        // AWS names an unnamed execution with a UUID; moto would name it "None".
        name: opts.name ?? randomUUID(),
        input: JSON.stringify(input),
      });
      const arn = started.executionArn as string;
      const until = Date.now() + (opts.timeoutMs ?? 180_000);
      let described: Record<string, unknown>;
      for (;;) {
        described = await sfnCall(endpoint, 'DescribeExecution', { executionArn: arn });
        if (described.status !== 'RUNNING') break;
        if (Date.now() > until) throw new Error(`execution ${arn} still running`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const history: HistoryEvent[] = [];
      let token: string | undefined;
      do {
        const page = await sfnCall(endpoint, 'GetExecutionHistory', {
          executionArn: arn,
          maxResults: 1000,
          ...(token ? { nextToken: token } : {}),
        });
        history.push(...(page.events as HistoryEvent[]));
        token = page.nextToken as string | undefined;
      } while (token);
      const fns = new Set(Object.values(d.functions));
      const invocations = (await readInvocations(logFile)).filter(
        (i) => fns.has(i.function) && !before.has(JSON.stringify(i)),
      );
      return {
        arn,
        status: described.status as ExecutionOutcome['status'],
        ...(described.output !== undefined
          ? { output: JSON.parse(described.output as string) as unknown }
          : {}),
        ...(described.error !== undefined ? { error: described.error as string } : {}),
        ...(described.cause !== undefined ? { cause: described.cause as string } : {}),
        history,
        invocations,
      };
    },
    invocations: () => readInvocations(logFile),
    async stop() {
      s3.destroy();
      await fixture.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
}

async function bundleFiles(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(dir)).map((f) => path.join(dir, f));
}
