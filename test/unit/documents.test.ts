import type {
  GroupType,
  IdentityProviderType,
  LogDeliveryConfigurationType,
  ManagedLoginBrandingType,
  ResourceServerType,
  RiskConfigurationType,
  UICustomizationType,
  UserPoolClientType,
  UserPoolType,
  UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { SnapshotInvalidError } from '../../src/core/errors.js';
import {
  brandingJson,
  ClientRecord,
  FILES,
  GroupRecord,
  IdentityProviderRecord,
  IsoDate,
  type Json,
  ManagedLoginBrandingRecord,
  PoolDocument,
  ResourceServerRecord,
  sdkDocument,
  UserRecord,
} from '../../src/snapshot/format.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

/**
 * Snapshot documents are the AWS SDK's types (issue 11.2): the compiler follows a field from
 * Describe (backup) through the snapshot into Create/Set (restore) and compare. The type-level
 * assertions below are checked by `npm run typecheck` (tsc covers test/): each document type
 * must be exactly its SDK type, so a document type that drops or retypes an SDK member does not
 * compile; the `@ts-expect-error` lines show what the checks refuse.
 */
describe('document types are the SDK types', () => {
  it('each document is its SDK type, every member with the SDK type', () => {
    expectTypeOf<PoolDocument['userPool']>().toEqualTypeOf<UserPoolType & { Id: string }>();
    expectTypeOf<ClientRecord>().toEqualTypeOf<
      UserPoolClientType & {
        ClientId: string;
        ClientSecrets?: { ClientSecretId?: string; ClientSecretCreateDate?: Date }[];
      }
    >();
    expectTypeOf<IdentityProviderRecord>().toExtend<IdentityProviderType>();
    expectTypeOf<keyof IdentityProviderRecord>().toEqualTypeOf<keyof IdentityProviderType>();
    expectTypeOf<ResourceServerRecord>().toExtend<ResourceServerType>();
    expectTypeOf<keyof ResourceServerRecord>().toEqualTypeOf<keyof ResourceServerType>();
    expectTypeOf<GroupRecord>().toEqualTypeOf<GroupType & { GroupName: string }>();
    expectTypeOf<UserRecord>().toExtend<UserType>();
    expectTypeOf<NonNullable<PoolDocument['uiCustomization']>>().toExtend<UICustomizationType>();
    expectTypeOf<
      NonNullable<PoolDocument['riskConfiguration']>
    >().toEqualTypeOf<RiskConfigurationType>();
    expectTypeOf<
      NonNullable<PoolDocument['logDeliveryConfiguration']>
    >().toEqualTypeOf<LogDeliveryConfigurationType>();
    expectTypeOf<ManagedLoginBrandingRecord>().toExtend<
      Omit<ManagedLoginBrandingType, 'UserPoolId'>
    >();
  });

  it('a document type that drops an SDK member does not compile', () => {
    // What a hand-written document type missing a member looks like: the check refuses it.
    type WithoutPolicies = Omit<UserPoolType, 'Policies'> & { Id: string };
    type Pool = PoolDocument['userPool'];
    // @ts-expect-error -- Policies dropped: not the SDK's pool type
    expectTypeOf<WithoutPolicies>().toEqualTypeOf<Pool>();
    // A retyped member (a date kept as the JSON string) is refused the same way.
    type DateAsString = GroupType & { GroupName: string; CreationDate?: string };
    // @ts-expect-error -- CreationDate is a Date in the SDK type
    expectTypeOf<DateAsString>().toEqualTypeOf<GroupRecord>();
  });

  it('a document schema must convert every member whose JSON form differs, with the SDK type', () => {
    const dates = { CreationDate: IsoDate.optional(), LastModifiedDate: IsoDate.optional() };
    const Group = sdkDocument<GroupType>()({ GroupName: z.string(), ...dates });
    // @ts-expect-error -- CreationDate/LastModifiedDate are Dates: left unconverted, they would be strings
    sdkDocument<GroupType>()({ GroupName: z.string() });
    // @ts-expect-error -- Precedence is a number in GroupType
    sdkDocument<GroupType>()({ Precedence: z.string(), ...dates });
    // @ts-expect-error -- not a member of GroupType
    sdkDocument<GroupType>()({ Precedance: z.number(), ...dates });
    // The JSON form is what JSON.stringify makes of the SDK type.
    expectTypeOf<Json<GroupType>['CreationDate']>().toEqualTypeOf<string | undefined>();
    // The schema that compiles converts at run time too: the JSON string comes back a Date.
    const g = Group.parse({ GroupName: 'admins', CreationDate: '2026-01-02T03:04:05.006Z' });
    expect(g.CreationDate).toBeInstanceOf(Date);
    expect(g.CreationDate?.toISOString()).toBe('2026-01-02T03:04:05.006Z');
    expect(Group.safeParse({ GroupName: 'admins', CreationDate: 'soon' }).success).toBe(false);
  });

  // The assertions above are types: vitest strips them and runs nothing. This test runs the
  // compiler on this file, with the project's options, so a document type that drifts from its
  // SDK type (or an @ts-expect-error that no longer has an error to expect: TS2578) fails here,
  // not only in `npm run typecheck`.
  it('the compiler accepts this file: every type assertion holds, every @ts-expect-error is used', () => {
    const self = fileURLToPath(import.meta.url);
    const config = ts.readConfigFile(path.resolve('tsconfig.json'), (f) => ts.sys.readFile(f));
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, path.resolve('.'));
    const compile = (file: string, text?: string, old?: ts.Program) => {
      const host = ts.createCompilerHost({ ...options, noEmit: true });
      if (text !== undefined) {
        const getSourceFile = host.getSourceFile.bind(host);
        const fileExists = host.fileExists.bind(host);
        host.getSourceFile = (name, lang, ...rest) =>
          name === file
            ? ts.createSourceFile(name, text, lang)
            : getSourceFile(name, lang, ...rest);
        host.fileExists = (name) => name === file || fileExists(name);
      }
      const program = ts.createProgram([file], { ...options, noEmit: true }, host, old);
      const errors = ts
        .getPreEmitDiagnostics(program)
        .filter((d) => d.category === ts.DiagnosticCategory.Error)
        .map((d) => `TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
      return { program, errors };
    };
    const own = compile(self);
    expect(own.errors).toEqual([]);
    // The check can fail: a probe (never written to disk) whose @ts-expect-error sits on a line
    // that compiles, and whose type assertion is false.
    const probe = path.join(path.dirname(self), '__documents-probe__.ts');
    const { errors } = compile(
      probe,
      [
        "import type { GroupType } from '@aws-sdk/client-cognito-identity-provider';",
        "import { expectTypeOf } from 'vitest';",
        "import type { GroupRecord } from '../../src/snapshot/format.js';",
        '// @ts-expect-error -- nothing wrong here',
        'expectTypeOf<GroupRecord>().toEqualTypeOf<GroupType & { GroupName: string }>();',
        'expectTypeOf<GroupRecord>().toEqualTypeOf<GroupType & { GroupName: number }>();',
      ].join('\n'),
      own.program,
    );
    expect(errors.map((e) => e.slice(0, 6)).sort()).toEqual(['TS2554', 'TS2578']);
  }, 120_000);
});

describe('documents read back', () => {
  it('dates come back as Dates and bytes as bytes; members this version does not know pass through', () => {
    const group = GroupRecord.parse({
      GroupName: 'admins',
      CreationDate: '2026-01-02T03:04:05.006Z',
      SomethingNewer: { x: 1 },
    });
    expect(group.CreationDate).toBeInstanceOf(Date);
    expect(group.CreationDate?.toISOString()).toBe('2026-01-02T03:04:05.006Z');
    expect(group).toHaveProperty('SomethingNewer', { x: 1 });

    const user = UserRecord.parse({ Username: 'u', UserLastModifiedDate: '2026-01-01T00:00:00Z' });
    expect(user.UserLastModifiedDate).toEqual(new Date('2026-01-01T00:00:00Z'));
    expect(user.Attributes).toEqual([]);

    const pool = PoolDocument.parse({
      userPool: { Id: 'us-east-1_A', CreationDate: '2026-01-01T00:00:00.000Z' },
      uiCustomization: { CSS: '.x{}', LastModifiedDate: '2026-01-01T00:00:00.000Z' },
      riskConfiguration: { LastModifiedDate: '2026-01-01T00:00:00.000Z' },
    });
    expect(pool.userPool.CreationDate).toBeInstanceOf(Date);
    expect(pool.uiCustomization?.LastModifiedDate).toBeInstanceOf(Date);
    expect(pool.riskConfiguration?.LastModifiedDate).toBeInstanceOf(Date);

    const bytes = new Uint8Array([137, 80, 78, 71]);
    const branding: ManagedLoginBrandingRecord = {
      ClientId: 'c1',
      CreationDate: new Date('2026-01-01T00:00:00.000Z'),
      Assets: [{ Category: 'FORM_LOGO', ColorMode: 'LIGHT', Extension: 'PNG', Bytes: bytes }],
    };
    const onDisk = JSON.parse(JSON.stringify(brandingJson(branding))) as unknown;
    expect(onDisk).toMatchObject({ Assets: [{ Bytes: Buffer.from(bytes).toString('base64') }] });
    expect(ManagedLoginBrandingRecord.parse(onDisk)).toEqual(branding);
  });

  it.each([
    ['a date that is not one', { userPool: { Id: 'p', CreationDate: 'yesterday' } }],
    ['schema attributes that are not a list', { userPool: { Id: 'p', SchemaAttributes: 'x' } }],
    ['a policy that is not an object', { userPool: { Id: 'p', Policies: 'strict' } }],
    ['triggers that are a list', { userPool: { Id: 'p', LambdaConfig: ['arn'] } }],
    [
      'username attributes that are not strings',
      { userPool: { Id: 'p', UsernameAttributes: [1] } },
    ],
    ['tags that are not strings', { userPool: { Id: 'p', UserPoolTags: { a: 1 } } }],
    [
      'an MFA setting that is not an object',
      { userPool: { Id: 'p' }, mfaConfig: { SoftwareTokenMfaConfiguration: true } },
    ],
    [
      'log configurations that are not a list',
      { userPool: { Id: 'p' }, logDeliveryConfiguration: { LogConfigurations: {} } },
    ],
    ['a UI customization date', { userPool: { Id: 'p' }, uiCustomization: { CreationDate: 5 } }],
  ])('a pool document with %s is refused', (_what, doc) => {
    expect(PoolDocument.safeParse(doc).success).toBe(false);
  });

  it.each([
    [ClientRecord, { ClientId: 'c', ClientSecrets: [{ ClientSecretCreateDate: 'soon' }] }],
    [ClientRecord, { ClientId: 'c', AllowedOAuthScopes: 'openid' }],
    [ClientRecord, { ClientId: 'c', AnalyticsConfiguration: 'on' }],
    [IdentityProviderRecord, { ProviderName: 'x', ProviderType: 7 }],
    [IdentityProviderRecord, { ProviderName: 'x', ProviderType: 'SAML', AcrMapping: { a: 1 } }],
    [ResourceServerRecord, { Identifier: 'i', Name: 'n', Scopes: [{ ScopeName: 's' }] }],
    [GroupRecord, { GroupName: 'g', LastModifiedDate: 'never' }],
    [
      ManagedLoginBrandingRecord,
      {
        ClientId: 'c',
        Assets: [{ Category: 'FORM_LOGO', ColorMode: 'LIGHT', Extension: 'PNG', Bytes: '***' }],
      },
    ],
    [UserRecord, { Username: 'u', UserCreateDate: 'not a date' }],
    [UserRecord, { Username: 'u', MFAOptions: [{ DeliveryMedium: 3 }] }],
  ] as [z.ZodType, unknown][])('a corrupt record is refused (%#)', (schema, record) => {
    expect(schema.safeParse(record).success).toBe(false);
  });

  it('a corrupt pool document fails the read with SnapshotInvalidError (exit 3)', async () => {
    const storage = new MemoryStorage();
    const w = new SnapshotWriter(storage);
    await w.writeJson(FILES.pool, 'pool', { userPool: { Id: 'p', CreationDate: 'garbage' } }, 1);
    await w.commit(
      manifestDraft({
        snapshotId: 's',
        userPool: { id: 'p', name: 'p' },
        startedAt: '2026-11-29T00:00:00.000Z',
        finishedAt: '2026-11-29T00:00:01.000Z',
      }),
    );
    const reader = await SnapshotReader.open(storage);
    const err = await reader.readJson('pool', PoolDocument).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotInvalidError);
    expect((err as SnapshotInvalidError).exitCode).toBe(3);
    expect((err as SnapshotInvalidError).problems.join('\n')).toMatch(/CreationDate: not a date/);
  });
});
