import { OPTION_REFERENCE, type OptionName } from '../core/options.js';

/** The CLI flag of each option engine messages name (src/core/options.ts). */
export const OPTION_FLAGS: Record<OptionName, string> = {
  'target.createPool': '--create-pool',
  'target.userPoolId': '--to-user-pool-id',
  mapArns: '--map-arns',
  allowForeignArns: '--allow-foreign-arns',
  targetAccount: '--target-account',
  idpSecrets: '--idp-secrets',
  legacySubAttribute: '--legacy-sub-attribute',
  usersPath: '--users',
  importLogsRoleArn: '--import-logs-role-arn',
  acceptMauCost: '--accept-mau-cost',
  dryRun: '--dry-run',
  stateDir: '--state-dir',
  domain: '--domain',
  webauthnRpId: '--webauthn-rp-id',
  passwordState: '--password-state',
  federatedUsers: '--federated-users',
  withoutTriggers: '--without-triggers',
  merge: '--merge',
  'selection.users': '--user',
  'selection.usersFrom': '--users-from',
  'selection.groups': '--group',
  'selection.clients': '--client',
  'selection.identityProviders': '--identity-provider',
  'selection.resourceServers': '--resource-server',
  'selection.differences': '--differences',
  existing: '--existing',
  planHash: '--plan-hash',
  username: '--user',
  sub: '--sub',
  subMap: '--sub-map',
  identity: '--identity',
  encryptTo: '--encrypt-to',
  includeSecrets: '--include-secrets',
  userMfa: '--user-mfa',
  shards: '--shards',
  resume: '--resume',
  rateShare: '--rate-share',
  maxRps: '--max-rps',
  regions: '--regions',
  keepLast: '--keep-last',
  keepDaily: '--keep-daily',
  keepMonthly: '--keep-monthly',
  incompleteGrace: '--incomplete-grace',
  region: '--region',
  profile: '--profile',
};

/**
 * An engine message as the CLI prints it: each option it names ("`mapArns`") becomes its flag
 * (`--map-arns`). Anything else in backquotes stays as it is.
 */
export function renderOptionNames(text: string): string {
  return text.replace(OPTION_REFERENCE, (ref, name: string) =>
    Object.hasOwn(OPTION_FLAGS, name) ? OPTION_FLAGS[name as OptionName] : ref,
  );
}
