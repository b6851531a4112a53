import { SnapshotInvalidError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import { MANIFEST_FILE, type Manifest } from './format.js';
import { SnapshotReader } from './reader.js';

export interface SnapshotListing {
  /** Key prefix of the snapshot below the root: <userPoolId>/<snapshotId>. */
  path: string;
  userPoolId: string;
  snapshotId: string;
  complete: boolean;
  bytes: number;
  manifest?: Manifest;
  problem?: string;
}

/** Every snapshot under a backup root (`<root>/<userPoolId>/<snapshotId>/…`), complete or not. */
export async function listSnapshots(root: Storage): Promise<SnapshotListing[]> {
  const found = new Map<string, { bytes: number; hasManifest: boolean }>();
  for await (const e of root.list()) {
    const parts = e.key.split('/');
    if (parts.length < 3) continue;
    const key = `${parts[0]}/${parts[1]}`;
    const cur = found.get(key) ?? { bytes: 0, hasManifest: false };
    cur.bytes += e.bytes;
    if (parts.length === 3 && parts[2] === MANIFEST_FILE) cur.hasManifest = true;
    found.set(key, cur);
  }
  const out: SnapshotListing[] = [];
  for (const [path, info] of found) {
    const [userPoolId = '', snapshotId = ''] = path.split('/');
    const item: SnapshotListing = {
      path,
      userPoolId,
      snapshotId,
      complete: false,
      bytes: info.bytes,
    };
    if (info.hasManifest) {
      try {
        item.manifest = (await SnapshotReader.open(root.child(path))).manifest;
        item.complete = true;
      } catch (e) {
        item.problem = e instanceof SnapshotInvalidError ? e.message : String(e);
      }
    } else {
      item.problem = 'no manifest (incomplete)';
    }
    out.push(item);
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}
