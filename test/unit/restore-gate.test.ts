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
    await expect(gate.wait('admins')).resolves.toBeUndefined();
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
    gate.fail(new Error('CreateGroup denied'));
    await expect(pending).rejects.toThrow('CreateGroup denied');
    await expect(gate.wait('staff')).rejects.toThrow('CreateGroup denied');
  });
});
