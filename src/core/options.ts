/**
 * Engine messages (errors, warnings, plan details) are read by library callers too, so they name
 * the option a caller can change — never a CLI flag. `opt('mapArns')` writes it as "`mapArns`";
 * the CLI renders each such name as its flag (`--map-arns`) before printing (src/cli/common.ts,
 * renderOptionNames), so its output reads as before. Errors about one option also carry it as
 * `context.option`.
 */
export const OPTION_NAMES = [
  // restore
  'target.createPool',
  'target.userPoolId',
  'mapArns',
  'allowForeignArns',
  'targetAccount',
  'idpSecrets',
  'legacySubAttribute',
  'usersPath',
  'importLogsRoleArn',
  'acceptMauCost',
  'dryRun',
  'stateDir',
  'domain',
  'webauthnRpId',
  'passwordState',
  'federatedUsers',
  'withoutTriggers',
  'merge',
  // selective restore: the selectors and their checks
  'selection.users',
  'selection.usersFrom',
  'selection.groups',
  'selection.clients',
  'selection.identityProviders',
  'selection.resourceServers',
  'selection.differences',
  'existing',
  'planHash',
  // forget: the user, by username or by sub
  'username',
  'sub',
  // diff
  'subMap',
  // readers of encrypted snapshots (verify, restore, export-csv, diff)
  'identity',
  // backup
  'includeSecrets',
  'userMfa',
  'encryptTo',
  'shards',
  'resume',
  'rateShare',
  'maxRps',
  'regions',
  // retention (prune, backup --keep-*)
  'keepLast',
  'keepDaily',
  'keepMonthly',
  'incompleteGrace',
  // clients
  'region',
  'profile',
] as const;

export type OptionName = (typeof OPTION_NAMES)[number];

/** An option named in an engine message: "`name`" (the CLI prints its flag instead). */
export function opt(name: OptionName): string {
  return `\`${name}\``;
}

/** Option references in a message, as opt() writes them. */
export const OPTION_REFERENCE = /`([A-Za-z][A-Za-z0-9.]*)`/g;
