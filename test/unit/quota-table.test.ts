import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { categoryOfName } from '../../src/cognito/pacing.js';
import { COMMAND_OPERATIONS } from '../../src/cognito/operations.js';
import { OPERATION_CATEGORY, QUOTA_CATEGORIES } from '../../src/cognito/quotas.js';
import {
  DOCUMENTED_OPERATION_CATEGORY,
  DOCUMENTED_QUOTAS,
  NOT_LISTED,
} from '../support/quota-table.js';

/**
 * src/cognito/quotas.ts against AWS's quota page, pinned as literals in
 * test/support/quota-table.ts (the table the quota proxy throttles by). An operation src paces in
 * the wrong category would never be throttled by a proxy that took src's table; here it fails.
 */
const sent = [
  ...new Set([
    ...Object.keys(OPERATION_CATEGORY),
    ...Object.values(COMMAND_OPERATIONS).flatMap((features) =>
      Object.values(features as Record<string, readonly string[]>).flat(),
    ),
  ]),
].sort();

describe('the quota table: src against AWS documentation', () => {
  it('covers the operations commands send', () => {
    // A sanity floor: the union is what backup/restore/diff/export-csv send.
    expect(sent).toEqual(expect.arrayContaining(['ListUsers', 'AdminCreateUser', 'CreateGroup']));
    expect(sent.length).toBeGreaterThanOrEqual(Object.keys(OPERATION_CATEGORY).length);
  });

  it.each(sent)('%s is paced in the category AWS documents', (op) => {
    const documented = NOT_LISTED.includes(op)
      ? 'Unlisted'
      : (DOCUMENTED_OPERATION_CATEGORY[op] ?? '(not in the pinned table)');
    expect(categoryOfName(op)).toBe(documented);
  });

  it('every category src paces by has the documented rate and per-pool limit', () => {
    for (const [category, q] of Object.entries(QUOTA_CATEGORIES)) {
      if (category === 'Unlisted') continue; // src's own conservative pace for NOT_LISTED
      const doc = (
        DOCUMENTED_QUOTAS as Record<string, { rps: number; perPoolOperationRps?: number }>
      )[category];
      expect({ category, ...q }).toEqual({ category, ...doc });
    }
  });

  it('the pinned table is written from the documentation, not taken from src', () => {
    for (const f of ['quota-table.ts', 'quota-proxy.ts', 'raw-pool.ts']) {
      const text = readFileSync(path.resolve('test/support', f), 'utf8');
      const imports = [
        ...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)';/gm),
        ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
      ].map((m) => m[1]);
      if (f !== 'quota-table.ts') expect(imports.length).toBeGreaterThan(0); // the regex sees them
      expect({ f, fromSrc: imports.filter((i) => i?.includes('/src/')) }).toEqual({
        f,
        fromSrc: [],
      });
    }
  });
});
