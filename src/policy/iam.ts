import { UsageError } from '../core/errors.js';
import {
  ACCOUNT_LEVEL,
  type CommandName,
  COMMAND_OPERATIONS,
  COMMAND_STORAGE,
  DRILL_TAGS,
  operationsOf,
  operationsOfFeatures,
  type StorageOperation,
} from '../cognito/operations.js';

/**
 * Least-privilege IAM policies, derived from the per-command operation table
 * (src/cognito/operations.ts) — the same table the recording test checks against the calls each
 * command really sends. Nothing here lists a Cognito action by hand.
 */
export type PolicyKind = CommandName;

export interface PolicyOptions {
  /** Restrict Cognito actions to these pool ARNs (default: every pool in the account). */
  userPoolArns?: string[];
  /**
   * restore: also allow `--create-pool` although `userPoolArns` is given. A pool that does not
   * exist yet has no ARN to name, so CreateUserPool/ListUserPools get Resource "*" (they support
   * no resource-level permission) and the restore's pool actions are allowed on every pool of
   * the account and Region of `userPoolArns`.
   */
  createPool?: boolean;
  /** S3 location of snapshots, s3://bucket[/prefix], to add object permissions for. */
  s3Location?: string;
  /** KMS key ARN used for the snapshot objects' SSE-KMS. */
  kmsKeyArn?: string;
  /** backup: the job also prunes old snapshots (Lambda retention): prune's storage actions. */
  prune?: boolean;
  /** restore: IAM roles the snapshot names (SMS role, group roles); default: the account's. */
  passRoleArns?: string[];
  /** backup: also allow `--user-mfa` (AdminGetUser per user). */
  userMfa?: boolean;
  /** restore: also allow `--without-triggers` (one UpdateUserPool at the end). */
  withoutTriggers?: boolean;
}

export interface Statement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface IamPolicy {
  Version: '2012-10-17';
  Statement: Statement[];
}

const cognito = (op: string): string => `cognito-idp:${op}`;

/** `s3://bucket[/prefix]` → bucket and prefix (no trailing slash); UsageError otherwise. */
export function parseS3Location(location: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(location);
  if (!m?.[1]) {
    throw new UsageError(
      'BAD_FLAG',
      `--s3 expects s3://bucket[/prefix] (a bucket name in lowercase letters, digits, dots and hyphens), got "${location}"`,
    );
  }
  const prefix = (m[2] ?? '')
    .split('/')
    .filter((p) => p.length > 0)
    .join('/');
  return { bucket: m[1], prefix };
}

/** ARN parts of a user pool ARN: arn:aws:cognito-idp:REGION:ACCOUNT:userpool/ID. */
function parsePoolArn(arn: string): { partition: string; region: string; account: string } {
  const m = /^arn:(aws[a-z-]*):cognito-idp:([a-z0-9-]+):(\d{12}):userpool\/[\w-]+$/.exec(arn);
  if (!m?.[1] || !m[2] || !m[3]) {
    throw new UsageError(
      'BAD_FLAG',
      `--user-pool-arn expects arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID, got "${arn}"`,
    );
  }
  return { partition: m[1], region: m[2], account: m[3] };
}

/**
 * S3 actions per storage operation. HeadObject (exists) is authorised by s3:GetObject; multipart
 * uploads need s3:AbortMultipartUpload to clean up after a failure.
 */
const S3_OBJECT_ACTIONS: Record<StorageOperation, string[]> = {
  put: ['s3:PutObject', 's3:AbortMultipartUpload'],
  get: ['s3:GetObject'],
  exists: ['s3:GetObject'],
  list: [],
  delete: ['s3:DeleteObject'],
  lease: [],
  progress: [],
};

/** KMS actions per storage operation (SSE-KMS). Multipart uploads also need kms:Decrypt. */
const KMS_ACTIONS: Record<StorageOperation, string[]> = {
  put: ['kms:GenerateDataKey', 'kms:Decrypt'],
  get: ['kms:Decrypt'],
  exists: [],
  list: [],
  delete: [],
  // A lease object is written (SSE-KMS: a new data key) and others' leases are read.
  lease: ['kms:GenerateDataKey', 'kms:Decrypt'],
  progress: [],
};

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

function storageStatements(storageOps: StorageOperation[], opts: PolicyOptions): Statement[] {
  const out: Statement[] = [];
  if (opts.s3Location !== undefined) {
    const { bucket, prefix } = parseS3Location(opts.s3Location);
    const objects = uniq(storageOps.flatMap((o) => S3_OBJECT_ACTIONS[o])).sort();
    out.push({
      Sid: 'SnapshotObjects',
      Effect: 'Allow',
      Action: objects,
      Resource: `arn:aws:s3:::${bucket}/${prefix ? `${prefix}/` : ''}*`,
    });
    if (storageOps.includes('lease')) {
      // Leases (docs/format.md#leases): every job writes and removes its own lock objects, so a
      // read-only restore still keeps prune off the snapshot it reads — and nothing else.
      out.push({
        Sid: 'SnapshotLeases',
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:DeleteObject'],
        Resource: `arn:aws:s3:::${bucket}/${prefix ? `${prefix}/` : ''}*/locks/*`,
      });
    }
    if (storageOps.includes('progress')) {
      // Completion records of a backup in progress (docs/format.md): removed once the manifest
      // is written, and stale ones on a resume — and nothing else.
      out.push({
        Sid: 'SnapshotProgress',
        Effect: 'Allow',
        Action: ['s3:DeleteObject'],
        Resource: `arn:aws:s3:::${bucket}/${prefix ? `${prefix}/` : ''}*/progress/*`,
      });
    }
    // ListBucket also turns a missing object into 404 (instead of 403) for GetObject/HeadObject.
    out.push({
      Sid: 'SnapshotBucket',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: `arn:aws:s3:::${bucket}`,
      ...(prefix ? { Condition: { StringLike: { 's3:prefix': [prefix, `${prefix}/*`] } } } : {}),
    });
  }
  if (opts.kmsKeyArn) {
    const kms = uniq(storageOps.flatMap((o) => KMS_ACTIONS[o])).sort();
    if (kms.length)
      out.push({ Sid: 'SnapshotKey', Effect: 'Allow', Action: kms, Resource: opts.kmsKeyArn });
  }
  return out;
}

/**
 * iam:PassRole for the roles a restore hands to Cognito. Per the Service Authorization Reference
 * ("Actions, resources, and condition keys for Amazon Cognito User Pools",
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncognitouserpools.html),
 * iam:PassRole is a dependent action of CreateUserPool (SmsConfiguration.SnsCallerArn),
 * CreateGroup (RoleArn) and CreateUserImportJob (CloudWatchLogsRoleArn). The import job's role
 * belongs to the `import-role` policy kind (its builder registers itself in POLICY_BUILDERS).
 * Scoped to the named roles (or the account's roles) and to Cognito as the receiving service.
 */
function passRoleStatement(opts: PolicyOptions, account: string, partition: string): Statement {
  return {
    Sid: 'PassRolesToCognito',
    Effect: 'Allow',
    Action: ['iam:PassRole'],
    Resource: opts.passRoleArns?.length
      ? opts.passRoleArns
      : `arn:${partition}:iam::${account}:role/*`,
    Condition: { StringEquals: { 'iam:PassedToService': 'cognito-idp.amazonaws.com' } },
  };
}

function cognitoStatements(
  ops: string[],
  poolResource: string | string[],
  extraPoolResource?: string,
): Statement[] {
  const account = ops.filter((o) => ACCOUNT_LEVEL.has(o as never)).map(cognito);
  const scoped = ops.filter((o) => !ACCOUNT_LEVEL.has(o as never)).map(cognito);
  const out: Statement[] = [];
  if (scoped.length) {
    out.push({ Sid: 'CognitoUserPool', Effect: 'Allow', Action: scoped, Resource: poolResource });
  }
  if (extraPoolResource && scoped.length) {
    out.push({
      Sid: 'CognitoCreatedPool',
      Effect: 'Allow',
      Action: scoped,
      Resource: extraPoolResource,
    });
  }
  if (account.length) {
    out.push({ Sid: 'CognitoAccount', Effect: 'Allow', Action: account, Resource: '*' });
  }
  return out;
}

function storageOpsOf(command: CommandName, extra: CommandName[] = []): StorageOperation[] {
  return uniq([command, ...extra].flatMap((c) => [...COMMAND_STORAGE[c]])) as StorageOperation[];
}

function commandPolicy(kind: CommandName, opts: PolicyOptions): IamPolicy {
  const arns = opts.userPoolArns?.length ? opts.userPoolArns : undefined;
  const parsed = arns?.map(parsePoolArn);
  const first = parsed?.[0];
  const statements: Statement[] = [];
  if (kind === 'backup') {
    // With pool ARNs there is no `--all`: ListUserPools is not needed.
    const features = (arns ? ['pool'] : Object.keys(COMMAND_OPERATIONS.backup)).filter(
      // AdminGetUser bills each user as MAU: only when --user-mfa is asked for.
      (f) => f !== 'userMfa',
    );
    const ops = operationsOfFeatures('backup', [...features, ...(opts.userMfa ? ['userMfa'] : [])]);
    statements.push(...cognitoStatements(ops, arns ?? 'arn:aws:cognito-idp:*:*:userpool/*'));
  } else if (kind === 'restore') {
    const all = Object.keys(COMMAND_OPERATIONS.restore);
    const creating = !arns || Boolean(opts.createPool);
    const features = all.filter(
      (f) =>
        (creating || f !== 'createPool') &&
        // UpdateUserPool only for --without-triggers (it can change any setting of a pool).
        (opts.withoutTriggers || f !== 'withoutTriggers'),
    );
    const ops = operationsOfFeatures('restore', features);
    let extra: string | undefined;
    if (arns && opts.createPool) {
      const places = uniq(
        (parsed ?? []).map(
          (p) => `arn:${p.partition}:cognito-idp:${p.region}:${p.account}:userpool/*`,
        ),
      );
      extra = places.length === 1 ? places[0] : undefined;
      if (places.length > 1) {
        throw new UsageError(
          'BAD_FLAG',
          '--create-pool with --user-pool-arn: the ARNs must share one account and Region (where the new pool is created)',
        );
      }
    }
    statements.push(...cognitoStatements(ops, arns ?? 'arn:aws:cognito-idp:*:*:userpool/*', extra));
    statements.push(passRoleStatement(opts, first?.account ?? '*', first?.partition ?? 'aws'));
    // --users auto|import-job: the per-row results of each import job, from its log stream.
    statements.push({
      Sid: 'ImportJobResults',
      Effect: 'Allow',
      Action: ['logs:GetLogEvents', 'logs:FilterLogEvents'],
      Resource: importLogGroups(first?.region, first?.account, first?.partition),
    });
  } else if (kind === 'drill') {
    statements.push(...drillStatements(first));
    statements.push(passRoleStatement(opts, first?.account ?? '*', first?.partition ?? 'aws'));
    statements.push({
      Sid: 'ImportJobResults',
      Effect: 'Allow',
      Action: ['logs:GetLogEvents', 'logs:FilterLogEvents'],
      Resource: importLogGroups(first?.region, first?.account, first?.partition),
    });
  } else {
    const ops = operationsOf(kind);
    statements.push(...cognitoStatements(ops, arns ?? 'arn:aws:cognito-idp:*:*:userpool/*'));
  }
  const storageOps =
    kind === 'backup' && opts.prune ? storageOpsOf('backup', ['prune']) : storageOpsOf(kind);
  statements.push(...storageStatements(storageOps, opts));
  if (!statements.length) {
    throw new UsageError(
      'BAD_FLAG',
      `policy ${kind}: the command only uses storage; pass --s3 s3://bucket[/prefix] (a local directory needs no IAM policy)`,
    );
  }
  return { Version: '2012-10-17', Statement: statements };
}

/**
 * `policy drill`: the drill works on scratch pools it creates, so nothing is granted on any
 * other pool. Every pool-scoped action carries an `aws:ResourceTag` condition on the drill tag
 * (DeleteUserPool included: a pool without the tag cannot be deleted with this policy, whatever
 * the code does); CreateUserPool is allowed only with the drill tag on the request
 * (`aws:RequestTag`); TagResource only on drill pools and only for the heartbeat key
 * (`aws:TagKeys`), so the policy cannot put the drill tag on a production pool and then delete
 * it. UpdateUserPool is not granted: the drill never sends it (the heartbeat is TagResource, which
 * leaves every setting alone). `--user-pool-arn` narrows the account and Region.
 */
function drillStatements(first?: {
  partition: string;
  region: string;
  account: string;
}): Statement[] {
  const tag = DRILL_TAGS.drill;
  const pools = first
    ? `arn:${first.partition}:cognito-idp:${first.region}:${first.account}:userpool/*`
    : 'arn:aws:cognito-idp:*:*:userpool/*';
  const ops = operationsOf('drill');
  const scoped = ops.filter((o) => !ACCOUNT_LEVEL.has(o) && o !== 'TagResource').map(cognito);
  const tagged = { StringLike: { [`aws:ResourceTag/${tag}`]: '?*' } };
  return [
    {
      Sid: 'CognitoDrillPools',
      Effect: 'Allow',
      Action: scoped,
      Resource: pools,
      Condition: tagged,
    },
    {
      Sid: 'CognitoDrillHeartbeat',
      Effect: 'Allow',
      Action: [cognito('TagResource')],
      Resource: pools,
      Condition: {
        ...tagged,
        'ForAllValues:StringEquals': { 'aws:TagKeys': [DRILL_TAGS.heartbeat] },
      },
    },
    {
      Sid: 'CognitoDrillCreate',
      Effect: 'Allow',
      Action: [cognito('CreateUserPool')],
      Resource: '*',
      Condition: { StringLike: { [`aws:RequestTag/${tag}`]: '?*' } },
    },
    {
      Sid: 'CognitoAccount',
      Effect: 'Allow',
      Action: ops.filter((o) => ACCOUNT_LEVEL.has(o) && o !== 'CreateUserPool').map(cognito),
      Resource: '*',
    },
  ];
}

/** The log groups Cognito writes import-job results to: /aws/cognito/userpools/<id>/<name>. */
function importLogGroups(region = '*', account = '*', partition = 'aws'): string {
  return `arn:${partition}:logs:${region}:${account}:log-group:/aws/cognito/*`;
}

export interface ImportRoleOptions {
  /** Region and account of the log groups (default: any). */
  region?: string;
  accountId?: string;
  /**
   * Confused-deputy conditions on the trust policy: aws:SourceAccount (with accountId) and
   * aws:SourceArn (with these pool ARNs). Off unless given.
   */
  userPoolArns?: string[];
}

/**
 * The IAM role CreateUserImportJob needs (CloudWatchLogsRoleArn): Cognito assumes it to write
 * each job's per-row results to /aws/cognito/userpools/<pool id>/<pool name>. Trust:
 * cognito-idp.amazonaws.com; permissions: the four CloudWatch Logs actions the import guide
 * lists, on the /aws/cognito/ log groups
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-using-import-tool-cli-cloudwatch-iam-role.html). The restore policy's
 * PassRolesToCognito statement lets the restore hand this role over.
 */
export function importLogsRole(opts: ImportRoleOptions = {}): {
  trustPolicy: { Version: '2012-10-17'; Statement: Record<string, unknown>[] };
  permissionsPolicy: IamPolicy;
} {
  const condition: Record<string, Record<string, string | string[]>> = {};
  if (opts.accountId) condition.StringEquals = { 'aws:SourceAccount': opts.accountId };
  if (opts.userPoolArns?.length) condition.ArnLike = { 'aws:SourceArn': opts.userPoolArns };
  return {
    trustPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'cognito-idp.amazonaws.com' },
          Action: 'sts:AssumeRole',
          ...(Object.keys(condition).length ? { Condition: condition } : {}),
        },
      ],
    },
    permissionsPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ImportJobLogs',
          Effect: 'Allow',
          Action: [
            'logs:CreateLogGroup',
            'logs:CreateLogStream',
            'logs:DescribeLogStreams',
            'logs:PutLogEvents',
          ],
          Resource: importLogGroups(opts.region, opts.accountId),
        },
      ],
    },
  };
}

/**
 * Policy builders by kind: one per command of the operation table (a command added there gets a
 * policy with no change here). Extension point: a kind that is not a command (e.g. `import-role`,
 * the role Cognito assumes for a CSV import job, and the PassRole to hand it over) adds its
 * builder to this record and becomes a valid `cognito-vault policy <kind>` argument.
 */
export const POLICY_BUILDERS: Record<string, (opts: PolicyOptions) => IamPolicy> =
  Object.fromEntries(
    (Object.keys(COMMAND_OPERATIONS) as CommandName[]).map((c) => [
      c,
      (o: PolicyOptions) => commandPolicy(c, o),
    ]),
  );
/** `policy import-role`: the role's permissions (the CLI prints its trust policy beside them). */
POLICY_BUILDERS['import-role'] = (o: PolicyOptions) =>
  importLogsRole(o.userPoolArns?.length ? { userPoolArns: o.userPoolArns } : {}).permissionsPolicy;

export function policyKinds(): string[] {
  return Object.keys(POLICY_BUILDERS);
}

export function iamPolicy(kind: string, opts: PolicyOptions = {}): IamPolicy {
  const build = POLICY_BUILDERS[kind];
  if (!build) {
    throw new UsageError(
      'BAD_FLAG',
      `policy: kind must be one of ${policyKinds().join(', ')}, got "${kind}"`,
    );
  }
  return build(opts);
}

/** Every action a policy allows (for tests and --json summaries). */
export function actionsOf(policy: IamPolicy): string[] {
  return uniq(policy.Statement.flatMap((s) => s.Action));
}
