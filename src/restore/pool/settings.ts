import {
  DescribeUserPoolCommand,
  type LogConfigurationType,
  SetLogDeliveryConfigurationCommand,
  SetRiskConfigurationCommand,
  type SetRiskConfigurationCommandInput,
  SetUICustomizationCommand,
  SetUserPoolMfaConfigCommand,
  type SetUserPoolMfaConfigCommandInput,
  type WebAuthnConfigurationType,
} from '@aws-sdk/client-cognito-identity-provider';
import { CognitoError, InterruptedError } from '../../core/errors.js';
import { pickPresent, RISK_KEYS } from '../../cognito/fields.js';
import type { CognitoGateway } from '../../cognito/gateway.js';
import type { PoolDocument } from '../../snapshot/format.js';
import type { RestoreJournal } from '../state/journal.js';
import type { RestoreWarning } from '../types.js';
import { opt } from '../../core/options.js';

/**
 * Pool settings a new pool gets after CreateUserPool, from calls CreateUserPool cannot carry:
 * the WebAuthn (passkey) configuration, the classic hosted UI customization, threat protection
 * (risk) configuration and log delivery. Each is restored or reported, never silently dropped:
 * a refusal (the Plus tier missing, an ARN in another account) is a warning naming the setting,
 * and the rest of the restore goes on.
 */

const present = (v: unknown): boolean => v !== undefined && v !== null;

/** SetUICustomization's ImageFile limit (ImageFileType max). */
export const UI_IMAGE_MAX_BYTES = 131_072;

/** Cognito's prefix domains: `<prefix>.auth.<region>.amazoncognito.com`. */
const PREFIX_DOMAIN = /^[a-z0-9-]+\.auth\.([a-z0-9-]+)\.amazoncognito\.com$/;

export interface WebAuthnOptions {
  /** --webauthn-rp-id: the relying party id to use in the new pool. */
  rpId?: string;
  /** --domain: the prefix domain the new pool gets (its RP id when the old one was a prefix). */
  domain?: string;
  /** The target pool's region (the new prefix domain's). */
  region: string;
}

/**
 * The WebAuthn configuration for the new pool: the snapshot's, with the relying party id
 * replaced by --webauthn-rp-id, or moved to the new prefix domain when the old one was the old
 * pool's prefix domain. A relying party id that cannot be carried over is left out (Cognito
 * then uses the pool's domain) and reported.
 */
export function webAuthnForRestore(
  snapshot: WebAuthnConfigurationType | undefined,
  opts: WebAuthnOptions,
): { config?: WebAuthnConfigurationType; warnings: RestoreWarning[] } {
  const warnings: RestoreWarning[] = [];
  if (!snapshot || !Object.values(snapshot).some(present)) {
    return opts.rpId ? { config: { RelyingPartyId: opts.rpId }, warnings } : { warnings };
  }
  const { RelyingPartyId: oldRp, ...rest } = snapshot;
  const config: WebAuthnConfigurationType = { ...rest };
  if (opts.rpId) config.RelyingPartyId = opts.rpId;
  else if (oldRp && PREFIX_DOMAIN.test(oldRp)) {
    if (opts.domain) {
      config.RelyingPartyId = `${opts.domain}.auth.${opts.region}.amazoncognito.com`;
    } else {
      warnings.push({
        code: 'WEBAUTHN_RP_NOT_RESTORED',
        message: `the pool's WebAuthn relying party id was the old pool's prefix domain, which the new pool does not have; passkeys use the new pool's domain once it has one (pass ${opt('domain')} PREFIX, or ${opt('webauthnRpId')} ID)`,
      });
    }
  } else if (oldRp) {
    // A custom domain (or a parent domain of one): valid only once the new pool has it.
    config.RelyingPartyId = oldRp;
    warnings.push({
      code: 'WEBAUTHN_RP_CUSTOM_DOMAIN',
      message: `the pool's WebAuthn relying party id is a custom domain, kept as it was; passkeys registered with the old pool work with the new one only once that domain points at it (${opt('webauthnRpId')} ID to choose another)`,
    });
  }
  return { config, warnings };
}

/** A warning for a setting Cognito refused: the AWS error name, never request values. */
export function refused(setting: string, how: string, e: unknown): RestoreWarning {
  const code = e instanceof CognitoError ? (e.awsCode ?? e.code) : 'error';
  return {
    code: 'SETTING_NOT_RESTORED',
    message: `${setting} not restored: Cognito refused it (${code}); ${how}`,
  };
}

/** True for a refusal of the request (re-running would not help), false for anything else. */
export function isRefusal(e: unknown): boolean {
  if (e instanceof InterruptedError) return false;
  if (!(e instanceof CognitoError)) return false;
  return (
    e.awsCode !== undefined &&
    [
      'InvalidParameterException',
      'FeatureUnavailableInTierException',
      'UserPoolAddOnNotEnabledException',
      'NotAuthorizedException',
      'AccessDeniedException',
      'InvalidEmailRoleAccessPolicyException',
      'InvalidSmsRoleAccessPolicyException',
      'InvalidSmsRoleTrustRelationshipException',
      'UnsupportedOperationException',
      'ResourceNotFoundException',
    ].includes(e.awsCode)
  );
}

/**
 * SetUserPoolMfaConfig for the new pool. A relying party id Cognito refuses (the domain is not
 * the new pool's yet) is dropped and the call repeated without it, with a warning.
 */
export async function applyMfaConfig(
  gw: CognitoGateway,
  input: SetUserPoolMfaConfigCommandInput,
  warn: (w: RestoreWarning) => void,
): Promise<void> {
  try {
    await gw.send(new SetUserPoolMfaConfigCommand(input));
  } catch (e) {
    const rp = input.WebAuthnConfiguration?.RelyingPartyId;
    if (!rp || !(e instanceof CognitoError) || e.awsCode !== 'InvalidParameterException') throw e;
    const { RelyingPartyId: _rp, ...webAuthn } = input.WebAuthnConfiguration ?? {};
    await gw.send(new SetUserPoolMfaConfigCommand({ ...input, WebAuthnConfiguration: webAuthn }));
    warn({
      code: 'WEBAUTHN_RP_NOT_RESTORED',
      message: `Cognito refused the WebAuthn relying party id for the new pool (InvalidParameterException); the rest of the WebAuthn configuration is restored, and passkeys use the pool's domain (${opt('webauthnRpId')} ID once the new pool has its domain)`,
    });
  }
}

/** The account and region of an ARN (`arn:partition:service:region:account:…`). */
function arnPlace(arn: string): { region: string; account: string } | undefined {
  const p = arn.split(':');
  if (p.length < 6 || p[0] !== 'arn') return undefined;
  return { region: p[3] ?? '', account: p[4] ?? '' };
}

function destinationArns(c: LogConfigurationType): string[] {
  return [
    c.CloudWatchLogsConfiguration?.LogGroupArn,
    c.S3Configuration?.BucketArn,
    c.FirehoseConfiguration?.StreamArn,
  ].filter((a): a is string => typeof a === 'string' && a.length > 0);
}

/**
 * The log configurations that can go to the target pool as they are, and a warning for each
 * one whose destination is in another account or region (Cognito delivers logs only within the
 * pool's account and region; an S3 bucket ARN names neither, so it is flagged to check).
 */
export function logConfigurationsFor(
  configs: LogConfigurationType[],
  target: { region: string; account?: string },
): { keep: LogConfigurationType[]; warnings: RestoreWarning[] } {
  const keep: LogConfigurationType[] = [];
  const warnings: RestoreWarning[] = [];
  for (const c of configs) {
    const arns = destinationArns(c);
    const elsewhere = arns.some((arn) => {
      const at = arnPlace(arn);
      if (!at) return true;
      const otherRegion = at.region !== '' && at.region !== target.region;
      const otherAccount =
        at.account !== '' && target.account !== undefined && at.account !== target.account;
      return otherRegion || otherAccount;
    });
    const label = `${c.EventSource ?? '?'} logs (${c.LogLevel ?? '?'})`;
    if (elsewhere) {
      warnings.push({
        code: 'LOG_DELIVERY_NEEDS_ATTENTION',
        message: `log delivery for ${label} not restored: its destination ${arns.join(', ')} is in another account or region than the new pool; create a destination there and set it with SetLogDeliveryConfiguration`,
      });
      continue;
    }
    if (arns.some((a) => a.startsWith('arn:aws:s3:::') || /^arn:[\w-]+:s3:::/.test(a))) {
      warnings.push({
        code: 'LOG_DELIVERY_NEEDS_ATTENTION',
        message: `log delivery for ${label} restored to ${arns.join(', ')}; an S3 bucket ARN names no account or region, so check the bucket accepts the new pool's logs`,
      });
    }
    keep.push(c);
  }
  return { keep, warnings };
}

export interface ExtrasContext {
  gw: CognitoGateway;
  poolId: string;
  /** The new pool's region and account (default: from its ARN), for log destinations. */
  region: string;
  account?: string;
  journal?: RestoreJournal;
  warn: (w: RestoreWarning) => void;
}

/** The settings phase's name in the journal. */
export const SETTINGS_PHASE = 'pool-extras';

/**
 * SetUICustomization, SetRiskConfiguration and SetLogDeliveryConfiguration for a new pool, from
 * the snapshot. Each Set call replaces the whole setting, so repeating the phase after a crash
 * gives the same result; the journal marks it done.
 */
export async function restorePoolExtras(ctx: ExtrasContext, doc: PoolDocument): Promise<void> {
  const { gw, poolId } = ctx;
  if (ctx.journal?.state.phases.has(SETTINGS_PHASE)) return;
  const warn = (w: RestoreWarning): void => {
    ctx.warn(w);
    ctx.journal?.append({ t: 'w', ...w });
  };

  // ---- classic hosted UI customization (pool-wide, ClientId ALL) -------------------------
  const ui = doc.uiCustomization;
  if (ui) {
    const css = ui.CSS ? ui.CSS : undefined;
    let image = ui.ImageFile ? Buffer.from(ui.ImageFile, 'base64') : undefined;
    if (image && (image.length === 0 || image.length > UI_IMAGE_MAX_BYTES)) {
      warn({
        code: 'UI_IMAGE_NOT_RESTORED',
        message: `the snapshot's hosted UI logo is ${image.length} bytes, outside what SetUICustomization takes (1 to ${UI_IMAGE_MAX_BYTES}); the CSS is restored without it`,
      });
      image = undefined;
    }
    if (present(ui.ImageUrl) && !image) {
      warn({
        code: 'UI_IMAGE_NOT_RESTORED',
        message:
          'the hosted UI logo was not captured in the snapshot (back up again with this version, which downloads it); set it with SetUICustomization',
      });
    }
    if (css || image) {
      try {
        await gw.send(
          new SetUICustomizationCommand({
            UserPoolId: poolId,
            ...(css ? { CSS: css } : {}),
            ...(image ? { ImageFile: image } : {}),
          }),
        );
      } catch (e) {
        if (!isRefusal(e)) throw e;
        warn(refused('hosted UI customization (CSS, logo)', 'set it with SetUICustomization', e));
      }
    }
  }

  // ---- threat protection (risk configuration; needs the Plus tier) -----------------------
  const risk = doc.riskConfiguration;
  if (risk) {
    const input: SetRiskConfigurationCommandInput = {
      UserPoolId: poolId,
      ...pickPresent(risk, RISK_KEYS),
    };
    if (Object.keys(input).length > 1) {
      try {
        await gw.send(new SetRiskConfigurationCommand(input));
      } catch (e) {
        if (!isRefusal(e)) throw e;
        warn(
          refused(
            'threat protection (risk) configuration',
            'it needs the Plus feature plan (UserPoolTier PLUS) and threat protection on; set it with SetRiskConfiguration',
            e,
          ),
        );
      }
    }
  }

  // ---- log delivery -----------------------------------------------------------------------
  const configs = doc.logDeliveryConfiguration?.LogConfigurations ?? [];
  if (configs.length > 0) {
    const account =
      ctx.account ??
      arnPlace(
        (await gw.send(new DescribeUserPoolCommand({ UserPoolId: poolId }))).UserPool?.Arn ?? '',
      )?.account;
    const target = { region: ctx.region, ...(account ? { account } : {}) };
    const { keep, warnings } = logConfigurationsFor(configs, target);
    for (const w of warnings) warn(w);
    if (keep.length > 0) {
      try {
        await gw.send(
          new SetLogDeliveryConfigurationCommand({ UserPoolId: poolId, LogConfigurations: keep }),
        );
      } catch (e) {
        if (!isRefusal(e)) throw e;
        warn(
          refused(
            'log delivery configuration',
            'the destination must allow delivery from the new pool; set it with SetLogDeliveryConfiguration',
            e,
          ),
        );
      }
    }
  }
  ctx.journal?.append({ t: 'phase', p: SETTINGS_PHASE });
}

/**
 * Everything a new pool gets after CreateUserPool: SetUserPoolMfaConfig (TOTP, email, MFA
 * without SMS, WebAuthn — sent whenever the snapshot has any of them, MFA OFF included), then
 * the UI customization, risk and log delivery settings. Journaled: a resumed run skips what is
 * done (each call replaces the whole setting, so a repeat is harmless).
 */
export async function applyNewPoolSettings(
  ctx: ExtrasContext & {
    journal: RestoreJournal;
    /** A refused SetUserPoolMfaConfig: true when handled (recorded), false to throw it. */
    mfaRefused?: (e: unknown) => boolean;
  },
  doc: PoolDocument,
  mfa: Omit<SetUserPoolMfaConfigCommandInput, 'UserPoolId'> | undefined,
  opts: { webauthnRpId?: string; domain?: string },
): Promise<void> {
  const { gw, poolId, journal } = ctx;
  const warn = (w: RestoreWarning): void => {
    ctx.warn(w);
    journal.append({ t: 'w', ...w });
  };
  if (!journal.state.poolSettingsDone) {
    if (mfa) {
      const { WebAuthnConfiguration: snapshotWebAuthn, ...rest } = mfa;
      const { config, warnings } = webAuthnForRestore(snapshotWebAuthn, {
        ...(opts.webauthnRpId ? { rpId: opts.webauthnRpId } : {}),
        ...(opts.domain ? { domain: opts.domain } : {}),
        region: ctx.region,
      });
      for (const w of warnings) warn(w);
      try {
        await applyMfaConfig(
          gw,
          { UserPoolId: poolId, ...rest, ...(config ? { WebAuthnConfiguration: config } : {}) },
          warn,
        );
      } catch (e) {
        if (!ctx.mfaRefused?.(e)) throw e;
      }
    }
    journal.append({ t: 'pool-settings' });
  }
  await restorePoolExtras(ctx, doc);
}
