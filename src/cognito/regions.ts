import { UsageError } from '../core/errors.js';
import { opt } from '../core/options.js';

/**
 * The AWS Regions of the commercial partition (`aws`) that serve the Cognito user pools API
 * (`cognito-idp.<region>.amazonaws.com`), from the service endpoint table of the AWS General
 * Reference, "Amazon Cognito endpoints and quotas"
 * (https://docs.aws.amazon.com/general/latest/gr/cognito.html). Maintained by hand: the AWS SDK's
 * partition data lists every Region of the partition, not the Regions a service runs in (it
 * would send `--regions all` to Regions without user pools), so it cannot stand in for this
 * table. `optIn` marks the Regions an account must enable first
 * (https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html): with
 * `--regions all`, such a Region that refuses the credentials is skipped, not a failure.
 *
 * Not listed: other partitions (AWS GovCloud (US), China), whose credentials differ — back them
 * up with `--region` one at a time.
 */
export const COGNITO_REGIONS: readonly { region: string; optIn: boolean }[] = [
  { region: 'us-east-1', optIn: false },
  { region: 'us-east-2', optIn: false },
  { region: 'us-west-1', optIn: false },
  { region: 'us-west-2', optIn: false },
  { region: 'af-south-1', optIn: true },
  { region: 'ap-east-1', optIn: true },
  { region: 'ap-south-1', optIn: false },
  { region: 'ap-south-2', optIn: true },
  { region: 'ap-southeast-1', optIn: false },
  { region: 'ap-southeast-2', optIn: false },
  { region: 'ap-southeast-3', optIn: true },
  { region: 'ap-southeast-4', optIn: true },
  { region: 'ap-southeast-5', optIn: true },
  { region: 'ap-northeast-1', optIn: false },
  { region: 'ap-northeast-2', optIn: false },
  { region: 'ap-northeast-3', optIn: false },
  { region: 'ca-central-1', optIn: false },
  { region: 'ca-west-1', optIn: true },
  { region: 'eu-central-1', optIn: false },
  { region: 'eu-central-2', optIn: true },
  { region: 'eu-west-1', optIn: false },
  { region: 'eu-west-2', optIn: false },
  { region: 'eu-west-3', optIn: false },
  { region: 'eu-south-1', optIn: true },
  { region: 'eu-south-2', optIn: true },
  { region: 'eu-north-1', optIn: false },
  { region: 'il-central-1', optIn: true },
  { region: 'me-central-1', optIn: true },
  { region: 'me-south-1', optIn: true },
  { region: 'sa-east-1', optIn: false },
];

const KNOWN = new Map(COGNITO_REGIONS.map((r) => [r.region, r]));

export function isOptInRegion(region: string): boolean {
  return KNOWN.get(region)?.optIn ?? false;
}

/** What `--regions` (or the Lambda's COGNITO_VAULT_REGIONS) asked for. */
export interface RegionSelection {
  regions: string[];
  /** `all`: opt-in Regions the account has not enabled are skipped, not failures. */
  all: boolean;
}

/**
 * Parses `us-east-1,eu-west-1` or `all` (`what` names the setting in messages). Refused (UsageError, exit 2): an empty list or item,
 * a Region twice, a name that is not a Region with Cognito user pools (COGNITO_REGIONS), `all`
 * mixed with names.
 */
export function parseRegionList(value: string, what = opt('regions')): RegionSelection {
  const text = value.trim();
  if (text === 'all') return { regions: COGNITO_REGIONS.map((r) => r.region), all: true };
  const items = text.split(',').map((s) => s.trim());
  if (text === '' || items.some((s) => s === '')) {
    throw new UsageError(
      'BAD_REGIONS',
      `${what} needs a comma-separated list of Regions (e.g. us-east-1,eu-west-1) or "all", with no empty item`,
    );
  }
  const seen = new Set<string>();
  for (const r of items) {
    if (r === 'all') {
      throw new UsageError('BAD_REGIONS', `${what}: "all" stands alone, not in a list`);
    }
    if (!KNOWN.has(r)) {
      // Echoed as one short printable line.
      const printable = r.replace(/[^\x20-\x7e]/g, '?');
      const shown = printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
      throw new UsageError(
        'UNKNOWN_REGION',
        `${what}: "${shown}" is not a Region with Cognito user pools (docs/cli.md lists them)`,
        { region: shown },
      );
    }
    if (seen.has(r)) {
      throw new UsageError('BAD_REGIONS', `${what}: ${r} is listed twice`, { region: r });
    }
    seen.add(r);
  }
  return { regions: items, all: false };
}
