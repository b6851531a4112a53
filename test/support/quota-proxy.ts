import {
  startQuotaProxy as startProxy,
  type QuotaProxy as ProxyBase,
  type QuotaProxyOptions as ProxyBaseOptions,
} from '../../bench/quota-proxy.mjs';
import {
  DOCUMENTED_OPERATION_CATEGORY,
  DOCUMENTED_QUOTAS,
  type DocumentedCategory,
} from './quota-table.js';

export type { CategoryStats, QuotaProxyStats } from '../../bench/quota-proxy.mjs';

/**
 * The Cognito quota simulator (bench/quota-proxy.mjs, one implementation shared with the
 * benchmark), with AWS's documented quota table pinned in test/support/quota-table.ts — never
 * src's own (test/unit/quota-table.test.ts compares the two). Imports nothing from src/.
 */
export interface QuotaProxyOptions extends Omit<
  ProxyBaseOptions,
  'quotaCategories' | 'operationCategory' | 'overrides'
> {
  overrides?: Partial<Record<DocumentedCategory, number>>;
}

export interface QuotaProxy extends Omit<ProxyBase, 'compete'> {
  compete(category: DocumentedCategory, rps: number): () => void;
}

export function startQuotaProxy(opts: QuotaProxyOptions): Promise<QuotaProxy> {
  const { overrides, ...rest } = opts;
  return startProxy({
    ...rest,
    ...(overrides ? { overrides: overrides as Record<string, number> } : {}),
    quotaCategories: DOCUMENTED_QUOTAS,
    operationCategory: DOCUMENTED_OPERATION_CATEGORY,
  });
}
