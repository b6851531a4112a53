import { describe, expect, it } from 'vitest';
import {
  MAX_PROGRESS_RECORD_BYTES,
  readPageRecords,
  readPlan,
  readUnitRecords,
} from '../../src/snapshot/progress.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';

/** A storage whose every get is counted: a refused record must not be read at all. */
function counting(): { storage: MemoryStorage; gets: string[] } {
  const storage = new MemoryStorage();
  const gets: string[] = [];
  const get = storage.get.bind(storage);
  (storage as Storage).get = async (key: string) => {
    gets.push(key);
    return get(key);
  };
  return { storage, gets };
}

describe('progress records from untrusted storage are read bounded', () => {
  const huge = 'x'.repeat(MAX_PROGRESS_RECORD_BYTES + 1);

  it('an oversized plan is invalid, refused by its size before it is read', async () => {
    const { storage, gets } = counting();
    await storage.put('progress/plan.json', huge);
    const r = await readPlan(storage);
    expect(r.status).toBe('invalid');
    expect(gets).toEqual([]);
  });

  it('an oversized page record or unit record is counted invalid, never read or joined', async () => {
    const { storage, gets } = counting();
    await storage.put('progress/pages/users-00003/0000-00/000001.json', huge);
    await storage.put('progress/units/users-00003.json', huge);
    const pages = await readPageRecords(storage);
    expect(pages.records.size).toBe(0);
    expect(pages.invalid).toEqual(['progress/pages/users-00003/0000-00/000001.json']);
    const units = await readUnitRecords(storage);
    expect(units.records.size).toBe(0);
    expect(units.invalid).toBe(1);
    expect(gets).toEqual([]);
  });
});
