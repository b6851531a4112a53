import {
  type CreateUserPoolCommandInput,
  DescribeUserPoolCommand,
  paginateListUserPools,
  paginateListUsers,
  type SchemaAttributeType,
  type SetUserPoolMfaConfigCommandInput,
  type UpdateUserPoolCommandInput,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { CognitoError, UsageError } from '../../core/errors.js';
import { type CognitoGateway, items } from '../../cognito/gateway.js';
import { CREATE_POOL_KEYS, pickPresent } from '../../cognito/fields.js';
import type { PoolDocument } from '../../snapshot/format.js';
import { dropRedacted, redactedPaths, SECRET_PATHS } from '../../snapshot/redaction.js';
import { isCognitoOwnedAttribute } from '../../snapshot/user-record.js';
import type { RestoreWarning } from '../types.js';
import { opt } from '../../core/options.js';

/** The CreateUserPool fields copied by name (see src/cognito/fields.ts for the full table). */
export { CREATE_POOL_KEYS };

/** Custom attribute name limits: 1–20 characters after the prefix. */
export function legacyAttributeName(flag: string): string {
  const bare = flag.startsWith('custom:') ? flag.slice('custom:'.length) : flag;
  if (!/^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,20}$/u.test(bare)) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('legacySubAttribute')} expects a custom attribute name of 1 to 20 characters without spaces, got "${flag}"`,
      { option: 'legacySubAttribute' },
    );
  }
  return bare;
}

/** The name a schema attribute takes in CreateUserPool (no `custom:` / `dev:` prefix). */
export function bareAttributeName(name: string): { name: string; developerOnly: boolean } {
  let n = name;
  let developerOnly = false;
  if (n.startsWith('dev:')) {
    n = n.slice(4);
    developerOnly = true;
  }
  if (n.startsWith('custom:')) n = n.slice(7);
  return { name: n, developerOnly };
}

function isCustom(name: string): boolean {
  return name.startsWith('custom:') || name.startsWith('dev:');
}

/** CreateUserPool's Schema from DescribeUserPool's SchemaAttributes. */
export function schemaForCreate(
  attrs: SchemaAttributeType[],
  legacySubAttribute?: string,
): SchemaAttributeType[] {
  const out: SchemaAttributeType[] = [];
  for (const a of attrs) {
    const name = a.Name ?? '';
    // Cognito's own attributes (sub, identities) are never part of a CreateUserPool schema.
    if (!name || isCognitoOwnedAttribute(name)) continue;
    const constraints = {
      ...(a.StringAttributeConstraints
        ? { StringAttributeConstraints: a.StringAttributeConstraints }
        : {}),
      ...(a.NumberAttributeConstraints
        ? { NumberAttributeConstraints: a.NumberAttributeConstraints }
        : {}),
    };
    if (isCustom(name)) {
      const bare = bareAttributeName(name);
      out.push({
        Name: bare.name,
        ...(a.AttributeDataType ? { AttributeDataType: a.AttributeDataType } : {}),
        DeveloperOnlyAttribute: bare.developerOnly || Boolean(a.DeveloperOnlyAttribute),
        Mutable: a.Mutable ?? true,
        // "Required custom attributes are not supported currently."
        Required: false,
        ...constraints,
      });
      continue;
    }
    // Standard attributes: only the ones whose settings differ from Cognito's defaults
    // (required, or immutable). Passing every default back is at best noise, and Cognito
    // refuses settings it manages (sub, identities).
    if (a.Required === true || a.Mutable === false) {
      out.push({
        Name: name,
        ...(a.AttributeDataType ? { AttributeDataType: a.AttributeDataType } : {}),
        DeveloperOnlyAttribute: false,
        Mutable: a.Mutable ?? true,
        Required: a.Required ?? false,
        ...constraints,
      });
    }
  }
  if (legacySubAttribute && !attrs.some((a) => a.Name === `custom:${legacySubAttribute}`)) {
    out.push(legacySchemaAttribute(legacySubAttribute));
  }
  return out;
}

export function legacySchemaAttribute(name: string): SchemaAttributeType {
  return {
    Name: name,
    AttributeDataType: 'String',
    DeveloperOnlyAttribute: false,
    // Mutable: AdminLinkProviderForUser refuses users with immutable attributes.
    Mutable: true,
    Required: false,
    StringAttributeConstraints: { MinLength: '0', MaxLength: '64' },
  };
}

export interface PoolCreatePlan {
  input: CreateUserPoolCommandInput;
  /** SetUserPoolMfaConfig to send after CreateUserPool (TOTP, email, or MFA without SMS). */
  mfa: Omit<SetUserPoolMfaConfigCommandInput, 'UserPoolId'> | undefined;
  warnings: RestoreWarning[];
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** The members of CreateUserPool and UpdateUserPool requests that can carry a value twice. */
type PoolSettingsInput = Pick<
  CreateUserPoolCommandInput & UpdateUserPoolCommandInput,
  | 'VerificationMessageTemplate'
  | 'EmailVerificationMessage'
  | 'EmailVerificationSubject'
  | 'SmsVerificationMessage'
  | 'AdminCreateUserConfig'
  | 'Policies'
>;

/**
 * Each value sent once (in place): the legacy top-level verification messages duplicate
 * VerificationMessageTemplate, which supersedes them; the deprecated UnusedAccountValidityDays
 * conflicts with TemporaryPasswordValidityDays.
 */
export function withoutDuplicateSettings(input: PoolSettingsInput): void {
  const vmt = input.VerificationMessageTemplate;
  if (vmt) {
    if (
      present(input.EmailVerificationMessage) &&
      input.EmailVerificationMessage === vmt.EmailMessage
    )
      delete input.EmailVerificationMessage;
    if (
      present(input.EmailVerificationSubject) &&
      input.EmailVerificationSubject === vmt.EmailSubject
    )
      delete input.EmailVerificationSubject;
    if (present(input.SmsVerificationMessage) && input.SmsVerificationMessage === vmt.SmsMessage)
      delete input.SmsVerificationMessage;
  }
  const acu = input.AdminCreateUserConfig;
  if (
    acu &&
    present(acu.UnusedAccountValidityDays) &&
    present(input.Policies?.PasswordPolicy?.TemporaryPasswordValidityDays)
  )
    delete acu.UnusedAccountValidityDays;
}

/**
 * The CreateUserPool request that recreates the snapshot's pool, with every setting
 * CreateUserPool accepts, plus the SetUserPoolMfaConfig request for what CreateUserPool cannot
 * carry. UpdateUserPool is never used: it resets whatever a request omits.
 */
export function planPoolCreation(
  doc: PoolDocument,
  poolName: string,
  legacySubAttribute?: string,
  opts: { webauthnRpId?: string } = {},
): PoolCreatePlan {
  const up = doc.userPool;
  const warnings: RestoreWarning[] = [];
  const input: CreateUserPoolCommandInput = {
    ...pickPresent(up, CREATE_POOL_KEYS),
    PoolName: poolName,
  };

  const schema = schemaForCreate(up.SchemaAttributes ?? [], legacySubAttribute);
  if (schema.length) input.Schema = schema;

  const tags = { ...(up.UserPoolTags ?? {}), ...(doc.tags ?? {}) };
  if (Object.keys(tags).length) input.UserPoolTags = tags;
  else delete input.UserPoolTags;

  withoutDuplicateSettings(input);

  // CreateUserPool only configures SMS MFA: ON/OPTIONAL needs an SMS configuration. TOTP and
  // email MFA (and MFA without SMS) go through SetUserPoolMfaConfig right after.
  const m = doc.mfaConfig ?? {};
  const mode = m.MfaConfiguration ?? up.MfaConfiguration ?? 'OFF';
  const canCreateWith = mode === 'OFF' || present(up.SmsConfiguration);
  input.MfaConfiguration = canCreateWith ? mode : 'OFF';
  const totp = m.SoftwareTokenMfaConfiguration?.Enabled === true;
  const email = present(m.EmailMfaConfiguration);
  // WebAuthn (passkeys) lives in SetUserPoolMfaConfig too, whatever the MFA mode (OFF included);
  // its relying party id is settled once the new pool exists (settings.ts).
  const webAuthn = m.WebAuthnConfiguration;
  const hasWebAuthn =
    Boolean(webAuthn && Object.values(webAuthn).some(present)) || Boolean(opts.webauthnRpId);
  let mfa: PoolCreatePlan['mfa'];
  if (!canCreateWith || totp || email || hasWebAuthn) {
    const smsCopy = m.SmsMfaConfiguration ? structuredClone(m.SmsMfaConfiguration) : undefined;
    if (smsCopy) dropRedacted(smsCopy, [['SmsConfiguration', 'ExternalId']]);
    mfa = {
      MfaConfiguration: mode,
      ...(smsCopy && present(smsCopy.SmsConfiguration) ? { SmsMfaConfiguration: smsCopy } : {}),
      ...(m.SoftwareTokenMfaConfiguration
        ? { SoftwareTokenMfaConfiguration: m.SoftwareTokenMfaConfiguration }
        : {}),
      ...(m.EmailMfaConfiguration ? { EmailMfaConfiguration: m.EmailMfaConfiguration } : {}),
      ...(hasWebAuthn ? { WebAuthnConfiguration: structuredClone(webAuthn ?? {}) } : {}),
    };
  }

  // A redacted ExternalId (backup without --include-secrets) cannot be sent: the pool is created
  // without it, and the report says what to do.
  const smsRedacted =
    dropRedacted(input, [['SmsConfiguration', 'ExternalId']]).length > 0 ||
    redactedPaths(doc, SECRET_PATHS.pool).length > 0;
  if (smsRedacted) {
    warnings.push({
      code: 'SMS_EXTERNAL_ID_REDACTED',
      message: `the SMS role's ExternalId was redacted in the snapshot (backed up without ${opt('includeSecrets')}); the pool is created without it: if the role's trust policy requires sts:ExternalId, SMS fails until you set SmsConfiguration.ExternalId (UpdateUserPool), or restore a snapshot taken with ${opt('includeSecrets')}`,
    });
  }

  if (up.LambdaConfig && Object.keys(up.LambdaConfig).length > 0) {
    warnings.push({
      code: 'LAMBDA_TRIGGERS',
      message:
        'the pool has Lambda triggers: the new pool uses the same functions, which need a resource policy allowing the new pool to invoke them (and they run for every restored user)',
    });
  }
  return { input, mfa, warnings };
}

/** Settings captured in the snapshot that a restore does not recreate (named in warnings). */
export function notRestoredWarnings(
  doc: PoolDocument,
  createPool: boolean,
  existingTarget = false,
): RestoreWarning[] {
  const out: RestoreWarning[] = [];
  // Hosted UI customization, risk and log delivery settings are restored into a new pool
  // (settings.ts), each refusal reported there. Into an existing pool nothing is changed.
  if (existingTarget) {
    const ui = doc.uiCustomization;
    const risk = doc.riskConfiguration;
    const logs = doc.logDeliveryConfiguration;
    const has = [
      ui && (present(ui.CSS) || present(ui.ImageUrl)) ? 'hosted UI customization' : '',
      risk &&
      (present(risk.CompromisedCredentialsRiskConfiguration) ||
        present(risk.AccountTakeoverRiskConfiguration) ||
        present(risk.RiskExceptionConfiguration))
        ? 'threat protection (risk) configuration'
        : '',
      logs?.LogConfigurations && logs.LogConfigurations.length > 0
        ? 'log delivery configuration'
        : '',
    ].filter(Boolean);
    if (has.length) {
      out.push({
        code: 'NOT_RESTORED',
        message: `the target pool exists, so its settings are left as they are: the snapshot's ${has.join(', ')} not applied`,
      });
    }
  }
  const up = doc.userPool;
  if (createPool && (present(up.Domain) || present(up.CustomDomain) || present(doc.domain))) {
    out.push({
      code: 'DOMAIN_NOT_CREATED',
      message: `the snapshot's pool had a domain (${up.CustomDomain ?? up.Domain ?? doc.domain?.Domain ?? ''}); domain prefixes are global, so none is created unless you pass ${opt('domain')} PREFIX`,
    });
  }
  return out;
}

/** DescribeUserPool, with "does not exist" as a usage error naming the pool. */
export async function describeTargetPool(
  gw: CognitoGateway,
  userPoolId: string,
): Promise<UserPoolType> {
  try {
    const { UserPool: pool } = await gw.send(
      new DescribeUserPoolCommand({ UserPoolId: userPoolId }),
    );
    if (pool) return pool;
  } catch (e) {
    if (!(e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException')) throw e;
  }
  throw new UsageError('POOL_NOT_FOUND', `user pool ${userPoolId} does not exist`, {
    userPoolId,
  });
}

/** Ids of the pools named `name` (ListUserPools, every page). */
export async function poolsNamed(gw: CognitoGateway, name: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const p of items(gw.pages(paginateListUserPools, { MaxResults: 60 }), 'UserPools'))
    if (p.Name === name && p.Id) ids.push(p.Id);
  return ids;
}

/** True when the pool has at least one user (one ListUsers page at most). */
export async function poolHasUsers(gw: CognitoGateway, userPoolId: string): Promise<boolean> {
  const it = items(gw.pages(paginateListUsers, { UserPoolId: userPoolId }), 'Users');
  try {
    const first = await it.next();
    return !first.done;
  } finally {
    await it.return(undefined);
  }
}

/** What the users in a snapshot carry, gathered in one streaming pass. */
export interface UserScan {
  total: number;
  externalProvider: number;
  disabled: number;
  /** Native users with linked identities, and the links they carry. */
  withLinks: number;
  links: number;
  /** Attribute names with the custom:/dev: prefix that at least one user carries. */
  customAttributes: Set<string>;
  /** For each attribute the target requires: users (not external) without a value. */
  missingRequired: Map<string, number>;
  /** Users with no value usable as username in a UsernameAttributes pool. */
  noLogin: number;
  /** How native users would land (planSignIn), when scanned with a sign-in context. */
  signIn: { c: number; p: number; f: number; needsAdmin: number };
}

function sortedList(v: readonly string[] | undefined): string {
  const a = v ? v.slice().sort() : [];
  return a.length ? `[${a.join(', ')}]` : 'none';
}

/** Cognito's API default for pools created without UsernameConfiguration is case sensitive. */
function caseSensitive(p: UserPoolType): boolean {
  const c = p.UsernameConfiguration?.CaseSensitive;
  return c === undefined || c === null ? true : Boolean(c);
}

/**
 * What stops `source` (the snapshot's pool) from being restored into `target`: one line per
 * difference, each naming both sides.
 */
export function compatibilityDifferences(
  source: UserPoolType,
  target: UserPoolType,
  scan: UserScan,
  legacySubAttribute: string | undefined,
): string[] {
  const t = target;
  const diffs: string[] = [];
  const targetSchema = new Map(
    (target.SchemaAttributes ?? []).map((a) => [a.Name ?? '', a] as const),
  );
  const sourceSchema = new Map(
    (source.SchemaAttributes ?? []).map((a) => [a.Name ?? '', a] as const),
  );
  for (const name of [...scan.customAttributes].sort()) {
    const ta = targetSchema.get(name);
    if (!ta) {
      diffs.push(
        `custom attribute ${name}: the snapshot's users carry it, the target pool's schema does not have it`,
      );
      continue;
    }
    const sa = sourceSchema.get(name);
    if (
      sa?.AttributeDataType &&
      ta.AttributeDataType &&
      sa.AttributeDataType !== ta.AttributeDataType
    ) {
      diffs.push(
        `custom attribute ${name}: ${sa.AttributeDataType} in the snapshot, ${ta.AttributeDataType} in the target`,
      );
    }
  }
  if (sortedList(source.UsernameAttributes) !== sortedList(t.UsernameAttributes)) {
    diffs.push(
      `UsernameAttributes: snapshot ${sortedList(source.UsernameAttributes)}, target ${sortedList(t.UsernameAttributes)}`,
    );
  }
  if (sortedList(source.AliasAttributes) !== sortedList(t.AliasAttributes)) {
    diffs.push(
      `AliasAttributes: snapshot ${sortedList(source.AliasAttributes)}, target ${sortedList(t.AliasAttributes)}`,
    );
  }
  if (caseSensitive(source) !== caseSensitive(t)) {
    diffs.push(
      `UsernameConfiguration.CaseSensitive: snapshot ${String(caseSensitive(source))}, target ${String(caseSensitive(t))}`,
    );
  }
  for (const [attr, n] of scan.missingRequired) {
    if (n > 0) {
      diffs.push(
        `required attribute ${attr}: the target pool requires it, ${n} user(s) in the snapshot have no value`,
      );
    }
  }
  if (legacySubAttribute) {
    const name = `custom:${legacySubAttribute}`;
    const a = targetSchema.get(name);
    if (!a) {
      diffs.push(
        `${opt('legacySubAttribute')} ${legacySubAttribute}: the target pool has no ${name} attribute (add it with AddCustomAttributes, String, at least 36 characters)`,
      );
    } else {
      const max = Number(a.StringAttributeConstraints?.MaxLength ?? '2048');
      if (a.AttributeDataType && a.AttributeDataType !== 'String')
        diffs.push(
          `${opt('legacySubAttribute')} ${legacySubAttribute}: ${name} is ${a.AttributeDataType}, not String`,
        );
      else if (max < 36)
        diffs.push(
          `${opt('legacySubAttribute')} ${legacySubAttribute}: ${name} holds at most ${max} characters; a sub needs 36`,
        );
    }
  }
  return diffs;
}
