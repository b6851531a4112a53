/**
 * Group memberships per user, compact enough for millions of users: group names are interned to
 * small integers, and a user in one group costs a single small-integer value (no array). The
 * snapshot stores memberships grouped by group; the restore needs them per user, as soon as
 * that user exists, so it builds this index once before the users phase.
 *
 * Memory: one Map entry per user with at least one membership (the username string ~40–80
 * bytes + ~40 bytes of hash table) plus 8 bytes per extra membership: roughly 100–150 bytes per
 * member user. Entries are removed as users are taken, so the index shrinks during the run.
 */
export class MembershipIndex {
  private readonly groupIds = new Map<string, number>();
  private readonly groupNames: string[] = [];
  private readonly byUser = new Map<string, number | number[]>();
  private total = 0;

  /** Interns a group name (call for every known group first, so ids follow snapshot order). */
  intern(group: string): number {
    let id = this.groupIds.get(group);
    if (id === undefined) {
      id = this.groupNames.length;
      this.groupIds.set(group, id);
      this.groupNames.push(group);
    }
    return id;
  }

  add(username: string, group: string): void {
    const id = this.intern(group);
    const cur = this.byUser.get(username);
    if (cur === undefined) this.byUser.set(username, id);
    else if (typeof cur === 'number') {
      if (cur === id) return;
      this.byUser.set(username, [cur, id]);
    } else {
      if (cur.includes(id)) return;
      cur.push(id);
    }
    this.total++;
  }

  /** Memberships in the index (duplicates counted once). */
  get size(): number {
    return this.total;
  }

  get users(): number {
    return this.byUser.size;
  }

  groupName(id: number): string {
    return this.groupNames[id] ?? '';
  }

  /** The user's group names, without removing them. */
  peek(username: string): string[] {
    const cur = this.byUser.get(username);
    if (cur === undefined) return [];
    return (typeof cur === 'number' ? [cur] : cur).map((id) => this.groupName(id));
  }

  /** The user's group names, removing the user from the index. */
  take(username: string): string[] {
    const groups = this.peek(username);
    this.byUser.delete(username);
    return groups;
  }

  /** Users still in the index (memberships whose user was never taken). */
  remaining(): { users: number; memberships: number; sample: string[] } {
    let memberships = 0;
    const sample: string[] = [];
    for (const [u, g] of this.byUser) {
      memberships += typeof g === 'number' ? 1 : g.length;
      if (sample.length < 5) sample.push(u);
    }
    return { users: this.byUser.size, memberships, sample };
  }

  /** Members per group name (for plans). */
  countsByGroup(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const g of this.byUser.values()) {
      for (const id of typeof g === 'number' ? [g] : g) {
        const name = this.groupName(id);
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
    }
    return counts;
  }
}
