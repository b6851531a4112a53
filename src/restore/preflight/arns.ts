import { readOptionJson } from './option-file.js';
import {
  DescribeUserPoolCommand,
  paginateListUserPools,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { type CognitoGateway, items } from '../../cognito/gateway.js';
import { TargetIncompatibleError, UsageError } from '../../core/errors.js';
import type { SnapshotData } from './snapshot.js';
import type { RestoreWarning } from '../types.js';
import { opt } from '../../core/options.js';

/**
 * Account- and Region-bound ARNs in a snapshot: Lambda triggers and their KMS key, the SES
 * identity, the SMS role, Pinpoint analytics (app clients), group IAM roles, log-delivery
 * destinations — anything a restore sends back to Cognito. A restore into another account or
 * Region would attach resources that do not exist there (or, worse, belong to someone else), so
 * the preflight names every foreign ARN and stops unless `--map-arns FILE` rewrites it or
 * `--allow-foreign-arns` accepts it. ARNs are configuration, not personal data: naming them on
 * stderr is fine.
 */

/** `arn:partition:service:region:account:resource` (resource may contain ':' and '/'). */
const ARN = /^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws|):(.+)$/;

export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

export function parseArn(s: string): ParsedArn | undefined {
  const m = ARN.exec(s);
  if (!m) return undefined;
  return {
    partition: m[1] ?? '',
    service: m[2] ?? '',
    region: m[3] ?? '',
    account: m[4] ?? '',
    resource: m[5] ?? '',
  };
}

/** Where one ARN sits in the snapshot, e.g. `pool.userPool.LambdaConfig.PreSignUp`. */
export interface ArnUse {
  path: string;
  arn: string;
}

/**
 * Paths of the pool document that a restore never sends to Cognito: the old pool's own ARN
 * (output only), and the domain (a custom domain's certificate is not restored; --domain
 * creates a prefix domain).
 */
const NOT_SENT = [/^pool\.userPool\.Arn$/, /^pool\.userPool\.Id$/, /^pool\.domain(\.|$)/];

function* walk(value: unknown, at: string): Generator<ArnUse> {
  if (typeof value === 'string') {
    if (value.startsWith('arn:') && parseArn(value)) yield { path: at, arn: value };
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* walk(value[i], `${at}[${i}]`);
    return;
  }
  if (value && typeof value === 'object') {
    if (value instanceof Date || ArrayBuffer.isView(value)) return;
    for (const [k, v] of Object.entries(value)) {
      yield* walk(v, at ? `${at}.${k}` : k);
    }
  }
}

/**
 * Every ARN a restore sends: the pool document's (only when the pool is created from it — an
 * existing target keeps its own settings), groups' roles, app clients' analytics, identity
 * providers. Groups, clients and IdPs are named by their name, not their index.
 */
export function collectArns(data: SnapshotData, opts: { includePool: boolean }): ArnUse[] {
  const out: ArnUse[] = [];
  if (opts.includePool) {
    for (const u of walk(data.pool, 'pool')) {
      if (!NOT_SENT.some((r) => r.test(u.path))) out.push(u);
    }
  }
  for (const g of data.groups) out.push(...walk(g, `group ${g.GroupName}`));
  for (const c of data.clients) out.push(...walk(c, `client ${c.ClientName ?? c.ClientId}`));
  for (const i of data.identityProviders)
    out.push(...walk(i, `identity provider ${i.ProviderName}`));
  return out;
}

export interface TargetLocation {
  region: string;
  /** Unknown before a new pool exists, unless --target-account or another pool says it. */
  account: string | undefined;
  /**
   * The snapshot pool's Region. An ARN in another Region than the source pool's was chosen to
   * be cross-Region (e.g. an SES identity in us-east-1 for a pool in eu-central-1, which Cognito
   * allows) and stays valid wherever the pool goes; only ARNs that lived in the source pool's
   * Region are foreign when the restore moves Region. Undefined: every Region difference counts.
   */
  sourceRegion?: string | undefined;
}

/** Why an ARN does not belong to the target (undefined: it does, or it is global). */
export function foreignReason(arn: string, target: TargetLocation): string | undefined {
  const p = parseArn(arn);
  if (!p) return undefined;
  const reasons: string[] = [];
  // AWS-owned ARNs (account "aws" or empty, e.g. managed policies) are the same everywhere.
  if (/^\d{12}$/.test(p.account) && target.account !== undefined && p.account !== target.account)
    reasons.push(`account ${p.account}, target ${target.account}`);
  if (
    p.region &&
    p.region !== target.region &&
    (target.sourceRegion === undefined || p.region === target.sourceRegion)
  )
    reasons.push(`Region ${p.region}, target ${target.region}`);
  return reasons.length ? reasons.join('; ') : undefined;
}

// ---- --map-arns ----------------------------------------------------------------------------

/**
 * `{ "old-arn": "new-arn" }`, plus prefix rules whose key ends in `*`:
 * `{ "arn:aws:lambda:us-east-1:111111111111:*": "arn:aws:lambda:eu-west-1:222222222222:" }`
 * replaces that prefix. An exact entry wins over a prefix; the longest prefix wins.
 */
export class ArnMap {
  private readonly exact = new Map<string, string>();
  private readonly prefixes: [string, string][] = [];
  private readonly used = new Set<string>();

  constructor(entries: Record<string, string>) {
    for (const [k, v] of Object.entries(entries)) {
      if (k.endsWith('*')) this.prefixes.push([k.slice(0, -1), v]);
      else this.exact.set(k, v);
    }
    this.prefixes.sort((a, b) => b[0].length - a[0].length);
  }

  get size(): number {
    return this.exact.size + this.prefixes.length;
  }

  /** The rewritten ARN, or undefined when no entry matches. */
  map(arn: string): string | undefined {
    const e = this.exact.get(arn);
    if (e !== undefined) {
      this.used.add(arn);
      return e;
    }
    for (const [prefix, to] of this.prefixes) {
      if (arn.startsWith(prefix)) {
        this.used.add(`${prefix}*`);
        return to + arn.slice(prefix.length);
      }
    }
    return undefined;
  }

  /** Entries that matched nothing (a typo in the file is worth a warning). */
  unused(): string[] {
    return [...this.exact.keys(), ...this.prefixes.map(([p]) => `${p}*`)].filter(
      (k) => !this.used.has(k),
    );
  }
}

/** Validates a --map-arns document (exit 2 on anything else, naming the entry). */
export function parseArnMap(raw: unknown, file: string): ArnMap {
  const bad = (why: string): UsageError =>
    new UsageError('BAD_INPUT', `${opt('mapArns')} ${file}: ${why}`, {
      path: file,
      option: 'mapArns',
    });
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw bad('must be a JSON object {"<old ARN>": "<new ARN>"}');
  const entries = raw as Record<string, unknown>;
  if (Object.keys(entries).length === 0) throw bad('has no entries');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entries)) {
    if (typeof v !== 'string') throw bad(`the value for ${k} is not a string`);
    if (k.endsWith('*')) {
      const prefix = k.slice(0, -1);
      if (!prefix.startsWith('arn:') || prefix.includes('*'))
        throw bad(`${k} is not an ARN prefix (arn:…:* with one trailing *)`);
      if (!v.startsWith('arn:') || v.includes('*'))
        throw bad(`the value for ${k} must be an ARN prefix without *`);
    } else {
      if (!parseArn(k))
        throw bad(`${k} is not an ARN (arn:partition:service:region:account:resource)`);
      if (!parseArn(v)) throw bad(`the value for ${k} is not an ARN`);
    }
    out[k] = v;
  }
  return new ArnMap(out);
}

/** Reads and validates a --map-arns file (exit 2 naming the problem, never the contents). */
export async function loadArnMap(file: string): Promise<Record<string, string>> {
  const raw = await readOptionJson(file, 'mapArns');
  parseArnMap(raw, file);
  return raw as Record<string, string>;
}

/**
 * Rewrites, in place, every mapped ARN among the string members of `value`, at any depth
 * (objects and arrays; a Date or bytes hold none). Top-level members named in `skip` are left.
 */
function rewriteIn(
  value: object,
  map: ArnMap,
  rewritten: { n: number },
  skip?: ReadonlySet<string>,
): void {
  for (const [k, v] of Object.entries(value)) {
    if (skip?.has(k)) continue;
    if (typeof v === 'string') {
      const to = v.startsWith('arn:') ? map.map(v) : undefined;
      if (to === undefined) continue;
      Reflect.set(value, k, to);
      rewritten.n++;
    } else if (v && typeof v === 'object' && !(v instanceof Date) && !ArrayBuffer.isView(v)) {
      rewriteIn(v, map, rewritten);
    }
  }
}

/** The old pool's own ARN is not a setting: never rewritten. */
const POOL_OWN = new Set(['Arn']);

/**
 * Applies --map-arns to everything a restore sends: the pool document (but not the old pool's
 * own ARN, nor the domain), groups, clients, identity providers. The documents are replaced by
 * rewritten copies (the ones read are left as they were). Returns how many ARNs it rewrote.
 */
export function applyArnMap(data: SnapshotData, map: ArnMap): number {
  const n = { n: 0 };
  const pool = structuredClone(data.pool);
  for (const [key, v] of Object.entries(pool)) {
    if (key === 'domain' || !v || typeof v !== 'object') continue;
    rewriteIn(v, map, n, key === 'userPool' ? POOL_OWN : undefined);
  }
  data.pool = pool;
  for (const list of [
    (data.groups = structuredClone(data.groups)),
    (data.clients = structuredClone(data.clients)),
    (data.identityProviders = structuredClone(data.identityProviders)),
  ])
    rewriteIn(list, map, n);
  return n.n;
}

export interface ArnCheckOptions {
  target: TargetLocation;
  includePool: boolean;
  allowForeign: boolean;
}

/**
 * The foreign-ARN preflight (after --map-arns was applied): every ARN that names another
 * account or Region, one line each. Throws TargetIncompatibleError (exit 4) unless
 * --allow-foreign-arns, which turns them into one warning. When the target account is unknown
 * (a new pool, no --target-account, no other pool in the Region to read it from), account-bound
 * ARNs are checked for their Region only and a warning says so.
 */
export function checkForeignArns(data: SnapshotData, opts: ArnCheckOptions): RestoreWarning[] {
  const warnings: RestoreWarning[] = [];
  const uses = collectArns(data, { includePool: opts.includePool });
  const foreign: string[] = [];
  for (const u of uses) {
    const why = foreignReason(u.arn, opts.target);
    if (why) foreign.push(`${u.path}: ${u.arn} (${why})`);
  }
  if (
    opts.target.account === undefined &&
    uses.some((u) => /^\d{12}$/.test(parseArn(u.arn)?.account ?? ''))
  ) {
    warnings.push({
      code: 'TARGET_ACCOUNT_UNKNOWN',
      message: `the target account is not known before the new pool exists (no other pool in the Region to read it from): the snapshot's ARNs were checked for their Region only; pass ${opt('targetAccount')} ID to check the account too`,
    });
  }
  if (!foreign.length) return warnings;
  if (opts.allowForeign) {
    warnings.push({
      code: 'FOREIGN_ARNS',
      message: `${foreign.length} ARN(s) name another account or Region and are restored as they are (${opt('allowForeignArns')}):\n  ${foreign.join('\n  ')}`,
    });
    return warnings;
  }
  throw new TargetIncompatibleError(
    `${foreign.length} ARN(s) in the snapshot name another account or Region than the target; rewrite them with ${opt('mapArns')} FILE ({"<old ARN>": "<new ARN>"}, or "<prefix>*" rules), or pass ${opt('allowForeignArns')}:\n  ${foreign.join('\n  ')}`,
    foreign,
    { foreignArns: foreign.length },
  );
}

/** The account in a pool ARN (arn:aws:cognito-idp:<region>:<account>:userpool/<id>). */
export function accountOfPoolArn(arn: string | undefined): string | undefined {
  const p = arn ? parseArn(arn) : undefined;
  return p && /^\d{12}$/.test(p.account) ? p.account : undefined;
}

// ---- the preflight step --------------------------------------------------------------------

export interface ArnPreflightOptions {
  /** The target pool when it exists (an existing target, or the pool an earlier run created). */
  targetPool: UserPoolType | undefined;
  /** The pool is (or was) created from the snapshot: its settings are sent too. */
  creating: boolean;
  mapArns: Record<string, string> | undefined;
  /** The file the map came from (for error messages). */
  mapArnsSource?: string | undefined;
  allowForeignArns: boolean;
  targetAccount: string | undefined;
}

export interface ArnPreflightResult {
  warnings: RestoreWarning[];
  /** The target as checked; `account` undefined when it could not be known yet. */
  checked: TargetLocation;
  rewritten: number;
}

/**
 * Where the target account comes from, without another SDK client (STS): the target pool's ARN
 * when the pool exists; else --target-account; else the ARN of any pool the credentials can
 * see in the target Region (ListUserPools, one page, and one DescribeUserPool); else unknown —
 * then a new pool's restore asks for --target-account (arnPreflight), and the account the new
 * pool really is in is checked right after CreateUserPool (checkAfterCreate).
 */
export async function resolveTargetAccount(
  gw: CognitoGateway,
  targetPool: UserPoolType | undefined,
  flag: string | undefined,
): Promise<string | undefined> {
  const fromPool = accountOfPoolArn(targetPool?.Arn);
  if (fromPool) return fromPool;
  if (flag !== undefined || targetPool) return flag;
  for await (const p of items(gw.pages(paginateListUserPools, { MaxResults: 60 }), 'UserPools')) {
    if (!p.Id) continue;
    return accountOfPoolArn(
      (await gw.send(new DescribeUserPoolCommand({ UserPoolId: p.Id }))).UserPool?.Arn,
    );
  }
  return undefined;
}

/** --map-arns, then the foreign-ARN check. Nothing is written. */
export async function arnPreflight(
  gw: CognitoGateway,
  data: SnapshotData,
  opts: ArnPreflightOptions,
): Promise<ArnPreflightResult> {
  if (opts.targetAccount !== undefined && !/^\d{12}$/.test(opts.targetAccount)) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('targetAccount')} expects a 12-digit AWS account id, got "${opts.targetAccount}"`,
      { option: 'targetAccount' },
    );
  }
  const warnings: RestoreWarning[] = [];
  let rewritten = 0;
  if (opts.mapArns) {
    const map = parseArnMap(opts.mapArns, opts.mapArnsSource ?? '(option)');
    rewritten = applyArnMap(data, map);
    const unused = map.unused();
    if (unused.length) {
      warnings.push({
        code: 'MAP_ARNS_UNUSED',
        message: `${unused.length} ${opt('mapArns')} entr${unused.length === 1 ? 'y matches' : 'ies match'} no ARN in the snapshot: ${unused.join(', ')}`,
      });
    }
  }
  const region = parseArn(opts.targetPool?.Arn ?? '')?.region || (await gw.client.config.region());
  const fromPool = accountOfPoolArn(opts.targetPool?.Arn);
  if (fromPool && opts.targetAccount && fromPool !== opts.targetAccount) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('targetAccount')} ${opts.targetAccount} does not match the target pool's account ${fromPool}`,
      { option: 'targetAccount' },
    );
  }
  // Only look the account up when some ARN is bound to one (no extra calls otherwise).
  const accountBound = collectArns(data, { includePool: opts.creating }).some((u) =>
    /^\d{12}$/.test(parseArn(u.arn)?.account ?? ''),
  );
  const account = accountBound
    ? await resolveTargetAccount(gw, opts.targetPool, opts.targetAccount)
    : (fromPool ?? opts.targetAccount);
  const up = data.pool.userPool;
  const sourceRegion =
    parseArn(up.Arn ?? '')?.region || (up.Id.includes('_') ? up.Id.split('_')[0] : undefined);
  const checked = { region, account, sourceRegion };
  // Only the pool document goes out with CreateUserPool; groups, clients and IdPs are sent after
  // it, once the new pool's ARN names the account (checkAfterCreate).
  const poolAccounts = [
    ...new Set(
      collectArns(data, { includePool: true })
        .filter((u) => u.path.startsWith('pool.'))
        .map((u) => parseArn(u.arn)?.account ?? '')
        .filter((a) => /^\d{12}$/.test(a)),
    ),
  ];
  if (opts.creating && account === undefined && poolAccounts.length && !opts.allowForeignArns) {
    // CreateUserPool would carry the snapshot's ARNs before anything could check them, and a
    // resumed run never sends the pool settings again: refuse rather than check too late.
    throw new UsageError(
      'TARGET_ACCOUNT_UNKNOWN',
      `the snapshot's pool settings name account-bound resources (account ${poolAccounts.join(', ')}), and the target account cannot be known before the new pool exists (no user pool in ${region} to read it from): pass ${opt('targetAccount')} ID (or ${opt('allowForeignArns')})`,
    );
  }
  warnings.push(
    ...checkForeignArns(data, {
      target: checked,
      includePool: opts.creating,
      allowForeign: opts.allowForeignArns,
    }),
  );
  return { warnings, checked, rewritten };
}

/**
 * After CreateUserPool: the new pool's ARN names the real account. When the preflight was told
 * another (a wrong --target-account) or could not know it (--allow-foreign-arns), check again —
 * a foreign ARN stops the restore here (exit 4) with only the new pool written, which already
 * carries the snapshot's settings: the message says to delete or fix it.
 */
export function checkAfterCreate(
  data: SnapshotData,
  created: UserPoolType,
  checked: TargetLocation,
  allowForeignArns: boolean,
): RestoreWarning[] {
  const account = accountOfPoolArn(created.Arn);
  if (!account || account === checked.account) return [];
  try {
    return checkForeignArns(data, {
      target: { ...checked, account },
      includePool: true,
      allowForeign: allowForeignArns,
    }).filter((w) => w.code !== 'TARGET_ACCOUNT_UNKNOWN');
  } catch (e) {
    if (!(e instanceof TargetIncompatibleError)) throw e;
    throw new TargetIncompatibleError(
      checked.account === undefined
        ? `the new pool ${created.Id ?? ''} is in account ${account}; nothing but the pool was written — map these ARNs (${opt('mapArns')}) and run the same command again to continue in it: ${e.message}`
        : `the new pool ${created.Id ?? ''} is in account ${account}, not ${checked.account} (${opt('targetAccount')}); it was created with the snapshot's settings and nothing else was written — delete it, or fix its settings, before restoring again: ${e.message}`,
      e.differences,
      { userPoolId: created.Id ?? '', foreignArns: e.differences.length },
    );
  }
}
