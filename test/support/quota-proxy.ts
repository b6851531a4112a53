import {
  OPERATION_CATEGORY,
  QUOTA_CATEGORIES,
  type QuotaCategory,
} from '../../src/cognito/quotas.js';
import {
  startQuotaProxy as startProxy,
  type QuotaProxy as ProxyBase,
  type QuotaProxyOptions as ProxyBaseOptions,
} from '../../bench/quota-proxy.mjs';

export type { CategoryStats, QuotaProxyStats } from '../../bench/quota-proxy.mjs';

/**
 * The Cognito quota simulator (bench/quota-proxy.mjs, one implementation shared with the
 * benchmark), typed with this code base's quota table.
 */
export interface QuotaProxyOptions extends Omit<
  ProxyBaseOptions,
  'quotaCategories' | 'operationCategory' | 'overrides'
> {
  overrides?: Partial<Record<QuotaCategory, number>>;
}

export interface QuotaProxy extends Omit<ProxyBase, 'compete'> {
  compete(category: QuotaCategory, rps: number): () => void;
}

export function startQuotaProxy(opts: QuotaProxyOptions): Promise<QuotaProxy> {
  const { overrides, ...rest } = opts;
  return startProxy({
    ...rest,
    ...(overrides ? { overrides: overrides as Record<string, number> } : {}),
    quotaCategories: QUOTA_CATEGORIES,
    operationCategory: OPERATION_CATEGORY,
  });
}
