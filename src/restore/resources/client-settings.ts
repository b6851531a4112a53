import {
  type SetRiskConfigurationCommandInput,
  type SetUICustomizationCommandInput,
  SetRiskConfigurationCommand,
  SetUICustomizationCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { RISK_KEYS, UI_KEYS } from '../../cognito/fields.js';
import type { ClientRecord, PoolDocument } from '../../snapshot/format.js';
import type { PhaseContext } from '../phase-context.js';
import { isRefusal, refused, UI_IMAGE_MAX_BYTES } from '../pool/settings.js';
import type { RestoreWarning } from '../types.js';

/**
 * The app clients' own settings, after the clients exist under their new ids: the classic
 * hosted UI customization (SetUICustomization with a ClientId) and the threat protection (risk)
 * configuration (SetRiskConfiguration with a ClientId) each captured client had besides the
 * pool's. Only clients this restore created get them (a client the target had already keeps its
 * own, with a warning). A refusal (no Plus plan, a logo Cognito rejects) is a
 * SETTING_NOT_RESTORED warning, as for the pool's settings; the restore goes on. Each Set call
 * replaces the client's whole setting, so a resumed run repeating the phase gives the same
 * result; the journal marks it done.
 */
export const CLIENT_SETTINGS_PHASE = 'client-settings';

const present = (v: unknown): boolean => v !== undefined && v !== null;

/** How many per-client settings a snapshot holds (for the plan and the progress line). */
export function clientSettingsCount(doc: PoolDocument): number {
  return (doc.clientUICustomizations?.length ?? 0) + (doc.clientRiskConfigurations?.length ?? 0);
}

export async function restoreClientSettings(
  ctx: PhaseContext,
  doc: PoolDocument,
  clients: readonly ClientRecord[],
  clientIds: ReadonlyMap<string, string>,
): Promise<void> {
  const { gw, poolId, journal } = ctx;
  if (journal.state.phases.has(CLIENT_SETTINGS_PHASE)) return;
  const count = clientSettingsCount(doc);
  if (count === 0) return;
  ctx.progress({ type: 'phase', phase: CLIENT_SETTINGS_PHASE, detail: `${count}` });
  const warn = (w: RestoreWarning): void => {
    ctx.warn(w);
    journal.append({ t: 'w', ...w });
  };
  const names = new Map(clients.map((c) => [c.ClientId, c.ClientName ?? c.ClientId]));
  /** The new id of a client this restore created; undefined (with a warning) otherwise. */
  const target = (oldId: string, setting: string): string | undefined => {
    const newId = clientIds.get(oldId);
    if (!newId) return undefined; // not restored (failed or skipped): reported already
    if (journal.state.clients.get(oldId)?.s !== 'c') {
      warn({
        code: 'NOT_RESTORED',
        message: `app client ${names.get(oldId) ?? oldId} existed in the target already; its ${setting} from the snapshot was not applied`,
      });
      return undefined;
    }
    return newId;
  };

  for (const ui of doc.clientUICustomizations ?? []) {
    ctx.signal.throwIfAborted();
    const name = names.get(ui.ClientId) ?? ui.ClientId;
    const clientId = target(ui.ClientId, 'hosted UI customization');
    if (!clientId) continue;
    const input: SetUICustomizationCommandInput = { UserPoolId: poolId, ClientId: clientId };
    for (const k of UI_KEYS) {
      if (typeof ui[k] === 'string' && ui[k]) input[k] = ui[k];
    }
    const file = typeof ui.ImageFile === 'string' && ui.ImageFile ? ui.ImageFile : undefined;
    const image = file ? Buffer.from(file, 'base64') : undefined;
    if (image && image.length > 0 && image.length <= UI_IMAGE_MAX_BYTES) input.ImageFile = image;
    else if (present(ui.ImageUrl)) {
      warn({
        code: 'UI_IMAGE_NOT_RESTORED',
        message: `the hosted UI logo of app client ${name} is not in the snapshot or outside what SetUICustomization takes (1 to ${UI_IMAGE_MAX_BYTES} bytes); its CSS is restored without it`,
      });
    }
    if (!input.CSS && !input.ImageFile) continue;
    try {
      await gw.send(new SetUICustomizationCommand(input));
    } catch (e) {
      if (!isRefusal(e)) throw e;
      warn(
        refused(
          `hosted UI customization of app client ${name}`,
          'set it with SetUICustomization',
          e,
        ),
      );
    }
  }

  for (const risk of doc.clientRiskConfigurations ?? []) {
    ctx.signal.throwIfAborted();
    const name = names.get(risk.ClientId) ?? risk.ClientId;
    const clientId = target(risk.ClientId, 'threat protection (risk) configuration');
    if (!clientId) continue;
    const input: SetRiskConfigurationCommandInput = { UserPoolId: poolId, ClientId: clientId };
    let any = false;
    for (const k of RISK_KEYS) {
      if (present(risk[k])) {
        Object.assign(input, { [k]: risk[k] });
        any = true;
      }
    }
    if (!any) continue;
    try {
      await gw.send(new SetRiskConfigurationCommand(input));
    } catch (e) {
      if (!isRefusal(e)) throw e;
      warn(
        refused(
          `threat protection (risk) configuration of app client ${name}`,
          'it needs the Plus feature plan (UserPoolTier PLUS); set it with SetRiskConfiguration',
          e,
        ),
      );
    }
  }
  journal.append({ t: 'phase', p: CLIENT_SETTINGS_PHASE });
}
