import { CreateUserPoolDomainCommand } from '@aws-sdk/client-cognito-identity-provider';
import { describeTargetPool } from './target.js';
import { isResourceError, recordResourceFailure } from '../resources/restore.js';
import type { RunStep } from '../run-state.js';
import { opt } from '../../core/options.js';

/**
 * The requested Cognito-hosted domain (options.domain), once: not when the pool already has a
 * domain (a warning), and a refusal is a resource failure, not the end of the restore.
 */
export async function ensureDomain(step: RunStep, poolId: string): Promise<void> {
  const { run, pre, journal } = step;
  const { gw, options, progress, warn } = run;
  const state = journal.state;
  const domain = options.domain;
  if (!domain || state.domain === domain || state.failed('domain', domain)) return;
  const live = pre.targetPool ?? (await describeTargetPool(gw, poolId));
  if (live.Domain || live.CustomDomain) {
    warn({
      code: 'DOMAIN_EXISTS',
      message: `the target pool already has a domain (${live.CustomDomain ?? live.Domain}); ${opt('domain')} ${domain} not created`,
    });
  } else {
    const version = pre.data.pool.domain?.ManagedLoginVersion;
    try {
      await gw.send(
        new CreateUserPoolDomainCommand({
          UserPoolId: poolId,
          Domain: domain,
          ...(typeof version === 'number' ? { ManagedLoginVersion: version } : {}),
        }),
      );
    } catch (e) {
      // A retry after a lost answer finds the domain taken — by this pool.
      if ((await describeTargetPool(gw, poolId)).Domain !== domain) {
        if (!isResourceError(e)) throw e;
        recordResourceFailure({ journal, progress }, 'domain', domain, 'CreateUserPoolDomain', e);
      }
    }
  }
  if (!state.failed('domain', domain)) journal.append({ t: 'domain', d: domain });
}
