import { describe, expect, it } from 'vitest';
import { Gate } from '../../src/restore/gate.js';

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('group readiness gate', () => {
  it('holds a membership until its own group exists, not until every group does', async () => {
    const gate = new Gate();
    const a = gate.wait('admins');
    const b = gate.wait('staff');
    gate.open('admins');
    expect(await settled(a)).toBe(true);
    expect(await settled(b)).toBe(false);
    gate.openAll();
    expect(await settled(b)).toBe(true);
  });

  it('lets waits for already-created groups through at once', async () => {
    const gate = new Gate();
    gate.open('admins');
    // Settled within the same turn of the event loop (no open/openAll needed after the wait),
    // while a wait for a group not yet created in that same turn is still pending.
    const ready = gate.wait('admins');
    const pending = gate.wait('staff');
    expect(await settled(ready)).toBe(true);
    expect(await settled(pending)).toBe(false);
    await expect(ready).resolves.toBeUndefined();
    expect(gate.isOpen('admins')).toBe(true);
    expect(gate.isOpen('staff')).toBe(false);
  });

  it('releases waits for groups the snapshot does not hold once the phase is done', async () => {
    const gate = new Gate();
    const ghost = gate.wait('deleted-during-backup');
    gate.openAll();
    await expect(ghost).resolves.toBeUndefined();
    await expect(gate.wait('anything')).resolves.toBeUndefined();
  });

  it('fails current and later waits when the groups phase fails', async () => {
    const gate = new Gate();
    const pending = gate.wait('admins');
    const denied = new Error('CreateGroup denied');
    gate.fail(denied);
    await expect(pending).rejects.toBe(denied);
    await expect(gate.wait('staff')).rejects.toBe(denied);
  });
});
