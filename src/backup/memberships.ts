import { paginateListUsersInGroup } from '@aws-sdk/client-cognito-identity-provider';
import { z } from 'zod';
import { SnapshotInvalidError } from '../core/errors.js';
import { items } from '../cognito/gateway.js';
import {
  type FileEntry,
  FILES,
  type MembershipRecord,
  PART_DIRS,
  partPath,
} from '../snapshot/format.js';
import type { Storage } from '../storage/storage.js';
import type { BackupPlan, BackupRun, Tally } from './run-state.js';
import { allOrAbort } from './tasks.js';

/**
 * The memberships step: every member of every group in groups.json (ListUsersInGroup, one
 * sequential chain per group), `membershipWorkers` groups at a time, each worker writing its own
 * part file. They share the UserList quota with the users step, whose shards run in the
 * background so that these short chains do not queue behind them.
 */
export async function captureMemberships(
  run: BackupRun,
  planned: BackupPlan,
  tally: Tally,
  groupNames: readonly string[],
): Promise<FileEntry[]> {
  let groupsDone = 0;
  let nextGroup = 0;
  const membershipWorker = async function* (): AsyncGenerator<MembershipRecord> {
    while (nextGroup < groupNames.length) {
      const g = groupNames[nextGroup++] ?? '';
      for await (const u of items(
        run.gw.pages(paginateListUsersInGroup, { UserPoolId: run.poolId, GroupName: g }),
        'Users',
      )) {
        tally.memberships++;
        yield { group: g, username: u.Username ?? '' };
      }
      groupsDone++;
      run.progress({
        type: 'memberships',
        done: tally.memberships,
        groupsDone,
        groups: groupNames.length,
      });
    }
  };
  const workers = Math.max(1, Math.min(run.opts.membershipWorkers ?? 4, groupNames.length));
  const files: FileEntry[] = [];
  if (groupNames.length === 0) return files;
  await allOrAbort(
    Array.from(
      { length: workers },
      (_, i) => async () =>
        files.push(
          await planned.writer.writeJsonLines(
            partPath(PART_DIRS.memberships, i, planned.partSuffix),
            'memberships',
            membershipWorker(),
          ),
        ),
    ),
    run,
  );
  return files;
}

/** The group names of the snapshot's groups.json (memberships are listed for exactly those). */
export async function recordedGroupNames(snap: Storage): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of await snap.get(FILES.groups))
    chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  const parsed = z
    .array(z.looseObject({ GroupName: z.string().min(1) }))
    .safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
  if (!parsed.success)
    throw new SnapshotInvalidError(`${snap.location}/${FILES.groups} is not a list of groups`);
  return parsed.data.map((g) => g.GroupName);
}
