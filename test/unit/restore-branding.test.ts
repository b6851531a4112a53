import {
  CreateManagedLoginBrandingCommand,
  type CreateManagedLoginBrandingCommandInput,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { RestoreJournal } from '../../src/restore/state/journal.js';
import { loadSnapshot } from '../../src/restore/preflight/snapshot.js';
import { restoreManagedLoginBranding } from '../../src/restore/resources/restore.js';
import type { RestoreWarning } from '../../src/restore/types.js';
import { brandingJson, FILES, type ManagedLoginBrandingRecord } from '../../src/snapshot/format.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { awsError } from '../support/aws-errors.js';
import type { StackMock } from '../support/stack-mock.js';
import { phaseContext, TempStateDir } from '../support/restore-phase.js';
import { unitGateway } from '../support/unit-gateway.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

const TARGET = 'us-east-1_New';
const png = Buffer.from('\x89PNG style logo');
const clients = [
  { ClientId: 'old-web', ClientName: 'web' },
  { ClientId: 'old-mobile', ClientName: 'mobile' },
  { ClientId: 'old-gone', ClientName: 'gone' },
];
const brandings: ManagedLoginBrandingRecord[] = [
  {
    ClientId: 'old-web',
    ManagedLoginBrandingId: 'b-web',
    UseCognitoProvidedValues: false,
    Settings: { components: { form: { borderRadius: 8 } } },
    Assets: [
      {
        Category: 'FORM_LOGO',
        ColorMode: 'LIGHT',
        Extension: 'PNG',
        Bytes: new Uint8Array(png),
        ResourceId: 'logo-1',
      },
    ],
  },
  { ClientId: 'old-mobile', UseCognitoProvidedValues: true },
  // Its client was not restored (failed or skipped): no style either.
  { ClientId: 'old-gone', UseCognitoProvidedValues: true },
];

let state: TempStateDir;
let mock: StackMock;
let gw: CognitoGateway;

beforeEach(async () => {
  state = await TempStateDir.create('cv-brand-');
  ({ mock, gw } = unitGateway());
});

afterEach(async () => {
  mock.restore();
  gw.destroy();
  await state.remove();
});

const journal = (): Promise<RestoreJournal> => state.journal();

const context = (
  j: RestoreJournal,
  warnings: RestoreWarning[] = [],
  events: ProgressEvent[] = [],
) => phaseContext(gw, TARGET, j, warnings, events);

/** The journal of a run whose clients phase mapped web and mobile (created) to new ids. */
async function journalWithClients(s: 'c' | 'e' = 'c'): Promise<RestoreJournal> {
  const j = await journal();
  j.append({ t: 'client', old: 'old-web', new: 'new-web', s });
  j.append({ t: 'client', old: 'old-mobile', new: 'new-mobile', s: 'c' });
  return j;
}
const clientMap = (j: RestoreJournal) =>
  new Map([...j.state.clients].map(([old, v]) => [old, v.id]));

const sent = (): CreateManagedLoginBrandingCommandInput[] =>
  mock.commandCalls(CreateManagedLoginBrandingCommand).map((c) => c.args[0].input);

describe('managed login branding restore', () => {
  it("creates each style for the restored client's new id, with the asset bytes decoded", async () => {
    mock.on(CreateManagedLoginBrandingCommand).resolves({ ManagedLoginBranding: {} });
    const j = await journalWithClients();
    await restoreManagedLoginBranding(context(j), brandings, clients, clientMap(j));
    const calls = sent();
    expect(calls.map((c) => c.ClientId)).toEqual(['new-web', 'new-mobile']);
    expect(calls[0]).toMatchObject({
      UserPoolId: TARGET,
      Settings: { components: { form: { borderRadius: 8 } } },
      Assets: [
        { Category: 'FORM_LOGO', ColorMode: 'LIGHT', Extension: 'PNG', ResourceId: 'logo-1' },
      ],
    });
    expect(calls[0]?.UseCognitoProvidedValues).toBeUndefined();
    expect(Buffer.from(calls[0]?.Assets?.[0]?.Bytes ?? new Uint8Array())).toEqual(png);
    // Cognito's defaults: only the flag (Settings and Assets must be omitted with it).
    expect(calls[1]).toEqual({
      UserPoolId: TARGET,
      ClientId: 'new-mobile',
      UseCognitoProvidedValues: true,
    });
    expect(j.state.brandings).toEqual(
      new Map([
        ['old-web', 'c'],
        ['old-mobile', 'c'],
      ]),
    );
    expect(j.state.phases.has('managed-login-branding')).toBe(true);
    j.close();
  });

  it('a refused style is a resource failure; the others are still created and the restore goes on', async () => {
    mock
      .on(CreateManagedLoginBrandingCommand)
      .callsFake(async (i: CreateManagedLoginBrandingCommandInput) => {
        if (i.ClientId === 'new-web') throw awsError('InvalidParameterException');
        return { ManagedLoginBranding: {} };
      });
    const events: ProgressEvent[] = [];
    const j = await journalWithClients();
    await restoreManagedLoginBranding(context(j, [], events), brandings, clients, clientMap(j));
    expect(sent().map((c) => c.ClientId)).toEqual(['new-web', 'new-mobile']);
    expect([...j.state.resourceFailures.values()]).toEqual([
      expect.objectContaining({
        kind: 'managedLoginBranding',
        name: 'web',
        operation: 'CreateManagedLoginBranding',
      }),
    ]);
    expect(events).toContainEqual(expect.objectContaining({ code: 'RESOURCE_FAILED' }));
    expect(j.state.brandings.has('old-mobile')).toBe(true);
    j.close();
  });

  it('credentials refused stop the restore (not a resource failure)', async () => {
    mock.on(CreateManagedLoginBrandingCommand).rejects(awsError('AccessDeniedException'));
    const j = await journalWithClients();
    await expect(
      restoreManagedLoginBranding(context(j), brandings, clients, clientMap(j)),
    ).rejects.toMatchObject({ exitCode: 5 });
    expect(j.state.resourceFailures.size).toBe(0);
    j.close();
  });

  it('a resumed run creates only the styles not journaled and does not retry a failed one', async () => {
    mock
      .on(CreateManagedLoginBrandingCommand)
      .rejectsOnce(awsError('InvalidParameterException'))
      .resolves({ ManagedLoginBranding: {} });
    const j1 = await journalWithClients();
    j1.append({ t: 'client', old: 'old-gone', new: 'new-gone', s: 'c' });
    // Crash after the web style failed and mobile was created, before the phase line.
    const only = brandings.slice(0, 2);
    await restoreManagedLoginBranding(context(j1), only, clients, clientMap(j1));
    j1.close();
    mock.resetHistory();
    const j2 = await journal();
    // The web style failed in run 1, mobile is done: run 2 sends only the third one.
    const phases = j2.state.phases;
    phases.delete('managed-login-branding');
    await restoreManagedLoginBranding(context(j2), brandings, clients, clientMap(j2));
    expect(sent().map((c) => c.ClientId)).toEqual(['new-gone']);
    expect(j2.state.failed('managedLoginBranding', 'web')).toBe(true);
    j2.close();
    // Once the phase is journaled, nothing is sent again.
    mock.resetHistory();
    const j3 = await journal();
    await restoreManagedLoginBranding(context(j3), brandings, clients, clientMap(j3));
    expect(sent()).toEqual([]);
    j3.close();
  });

  it('ManagedLoginBrandingExistsException: ours after a lost answer (quiet), kept with a warning on a client the target had', async () => {
    mock
      .on(CreateManagedLoginBrandingCommand)
      .rejects(awsError('ManagedLoginBrandingExistsException'));
    const warnings: RestoreWarning[] = [];
    const j = await journalWithClients('e');
    await restoreManagedLoginBranding(context(j, warnings), brandings, clients, clientMap(j));
    expect(j.state.brandings).toEqual(
      new Map([
        ['old-web', 'e'],
        ['old-mobile', 'e'],
      ]),
    );
    expect(j.state.resourceFailures.size).toBe(0);
    expect(warnings).toEqual([expect.objectContaining({ code: 'BRANDING_EXISTS' })]);
    expect(warnings[0]?.message).toMatch(/web/);
    j.close();
  });
});

describe('snapshot documents', () => {
  async function snapshot(withBranding: boolean): Promise<SnapshotReader> {
    const storage = new MemoryStorage();
    const w = new SnapshotWriter(storage);
    await w.writeJson(FILES.pool, 'pool', { userPool: { Id: 'us-east-1_Old' } }, 1);
    await w.writeJson(FILES.clients, 'clients', clients, clients.length);
    for (const kind of ['identityProviders', 'resourceServers', 'groups'] as const)
      await w.writeJson(FILES[kind], kind, [], 0);
    if (withBranding)
      await w.writeJson(
        FILES.managedLoginBranding,
        'managedLoginBranding',
        brandings.map(brandingJson),
        3,
      );
    await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', (async function* () {})());
    await w.writeJsonLines(
      'memberships/part-00000.jsonl.gz',
      'memberships',
      (async function* () {})(),
    );
    await w.commit(
      manifestDraft({
        snapshotId: 's',
        userPool: { id: 'us-east-1_Old', name: 'old' },
        startedAt: '2026-11-29T00:00:00.000Z',
        finishedAt: '2026-11-29T00:00:01.000Z',
        counts: { clients: 3 },
      }),
    );
    return SnapshotReader.open(storage);
  }

  it('reads the styles of a snapshot that has them, and none from an older snapshot without the file', async () => {
    expect((await loadSnapshot(await snapshot(true))).managedLoginBranding).toEqual(brandings);
    expect((await loadSnapshot(await snapshot(false))).managedLoginBranding).toEqual([]);
  });
});
