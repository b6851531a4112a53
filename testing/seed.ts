import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminResetUserPasswordCommand,
  AdminSetUserPasswordCommand,
  type AttributeType,
  type CognitoIdentityProviderClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
  CreateGroupCommand,
  CreateIdentityProviderCommand,
  CreateResourceServerCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import type { Command } from '@smithy/types';

/**
 * What seedPool sends through: the SDK client, or anything with its `send` (the product's
 * CognitoGateway). Structural, so testing/ imports nothing of src.
 */
export interface CognitoSender {
  send<I extends ServiceInputTypes, O extends ServiceOutputTypes>(
    command: Command<
      ServiceInputTypes,
      I,
      ServiceOutputTypes,
      O,
      CognitoIdentityProviderClientResolvedConfig
    >,
    // The product's gateway refuses calls that message a user unless told (SignUp here).
    opts?: { messagesUsers?: boolean },
  ): Promise<O>;
}

/** Runs fn over 0..n-1 with at most `workers` at a time; the first failure stops the rest. */
async function eachConcurrent(
  n: number,
  workers: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, n) }, worker));
}

/**
 * Seeds a realistic user pool on an emulator (moto) for the demo, tests and benchmarks:
 * custom string/number/boolean attributes, unicode names, phone-only users, disabled users,
 * UNCONFIRMED / CONFIRMED / RESET_REQUIRED / FORCE_CHANGE_PASSWORD users, groups with
 * descriptions, precedence and role ARNs, users in no group and in many, a large group,
 * app clients, an identity provider and a resource server.
 *
 * Never point this at a real account: it creates users.
 */
export interface SeedOptions {
  poolName?: string;
  users: number;
  groups: number;
  /** Sign in by email (Cognito generates usernames). Default: plain usernames with email alias. */
  usernameAttributes?: ('email' | 'phone_number')[];
  /** Seed statuses needing extra calls (CONFIRMED, UNCONFIRMED, RESET_REQUIRED). Default true. */
  statuses?: boolean;
  /** Memberships per user: 'varied' (none to many, one large group) or 'none'. */
  memberships?: 'varied' | 'none';
  concurrency?: number;
}

export interface SeedResult {
  userPoolId: string;
  clientIds: string[];
  users: number;
  groups: number;
  memberships: number;
  disabled: number;
}

const GIVEN = [
  'José',
  'Zoë',
  'Åsa',
  'Mohammed',
  '山田',
  'Ольга',
  'Chloé',
  'Łukasz',
  'Søren',
  'Ana',
  'Niamh',
  'Thảo',
];
const FAMILY = [
  'Núñez',
  'Müller',
  'O’Brien',
  'Dubois',
  '太郎',
  'Иванова',
  'Smith',
  'Kowalski',
  'Jørgensen',
  'da Silva',
];

export const SEED_PASSWORD = 'Seed-Passw0rd!x';

/** Deterministic per-index facts, so tests can reason about the seeded pool. */
export function seedUserPlan(i: number, groups: number, memberships: 'varied' | 'none' = 'varied') {
  const phoneOnly = i % 10 === 3;
  const disabled = i % 13 === 5;
  const status: 'FORCE_CHANGE_PASSWORD' | 'CONFIRMED' | 'UNCONFIRMED' | 'RESET_REQUIRED' =
    i % 7 === 1
      ? 'CONFIRMED'
      : i % 11 === 2 && !phoneOnly
        ? 'UNCONFIRMED'
        : i % 19 === 4 && i % 6 !== 0
          ? 'RESET_REQUIRED'
          : 'FORCE_CHANGE_PASSWORD';
  const inGroups: number[] = [];
  if (memberships === 'varied' && groups > 0 && i % 5 !== 0) {
    inGroups.push(i % groups);
    if (groups > 1 && i % 3 === 0) inGroups.push(0); // group 0 is large (> 60 members)
    if (i % 17 === 1)
      for (let k = 1; k <= Math.min(10, groups - 1); k++) inGroups.push((i + k * 7) % groups);
  }
  return { phoneOnly, disabled, status, groups: [...new Set(inGroups)] };
}

export async function seedPool(gw: CognitoSender, opts: SeedOptions): Promise<SeedResult> {
  const usernameAttributes = opts.usernameAttributes;
  const { UserPool: pool } = await gw.send(
    new CreateUserPoolCommand({
      PoolName: opts.poolName ?? 'cognito-vault-demo',
      ...(usernameAttributes
        ? { UsernameAttributes: usernameAttributes }
        : { AliasAttributes: ['email'] }),
      AutoVerifiedAttributes: ['email'],
      UsernameConfiguration: { CaseSensitive: false },
      Policies: {
        PasswordPolicy: {
          MinimumLength: 10,
          RequireNumbers: true,
          RequireSymbols: true,
          RequireUppercase: true,
          RequireLowercase: true,
        },
      },
      Schema: [
        {
          Name: 'tier',
          AttributeDataType: 'String',
          Mutable: true,
          StringAttributeConstraints: { MinLength: '0', MaxLength: '32' },
        },
        {
          Name: 'score',
          AttributeDataType: 'Number',
          Mutable: true,
          NumberAttributeConstraints: { MinValue: '0', MaxValue: '100000' },
        },
        { Name: 'beta', AttributeDataType: 'Boolean', Mutable: true },
      ],
      UserPoolTags: { app: 'demo', owner: 'cognito-vault' },
      DeletionProtection: 'INACTIVE',
    }),
  );
  const poolId = pool?.Id ?? '';

  const { UserPoolClient: web } = await gw.send(
    new CreateUserPoolClientCommand({
      UserPoolId: poolId,
      ClientName: 'web',
      ExplicitAuthFlows: [
        'ALLOW_USER_SRP_AUTH',
        'ALLOW_REFRESH_TOKEN_AUTH',
        'ALLOW_USER_PASSWORD_AUTH',
      ],
      SupportedIdentityProviders: ['COGNITO'],
      CallbackURLs: ['https://app.example.com/callback'],
      ReadAttributes: ['email', 'name', 'custom:tier'],
    }),
  );
  await gw.send(
    new CreateResourceServerCommand({
      UserPoolId: poolId,
      Identifier: 'https://api.example.com',
      Name: 'orders-api',
      Scopes: [
        { ScopeName: 'orders.read', ScopeDescription: 'read orders' },
        { ScopeName: 'orders.write', ScopeDescription: 'write orders' },
      ],
    }),
  );
  await gw.send(
    new CreateIdentityProviderCommand({
      UserPoolId: poolId,
      ProviderName: 'Google',
      ProviderType: 'Google',
      ProviderDetails: {
        client_id: 'demo-client.apps.googleusercontent.com',
        client_secret: 'demo-google-secret',
        authorize_scopes: 'openid email profile',
      },
      AttributeMapping: { email: 'email', name: 'name' },
    }),
  );
  const { UserPoolClient: machine } = await gw.send(
    new CreateUserPoolClientCommand({
      UserPoolId: poolId,
      ClientName: 'machine',
      GenerateSecret: true,
      AllowedOAuthFlows: ['client_credentials'],
      AllowedOAuthScopes: ['https://api.example.com/orders.read'],
      AllowedOAuthFlowsUserPoolClient: true,
    }),
  );
  const clientIds = [web?.ClientId ?? '', machine?.ClientId ?? ''];

  const groupNames: string[] = [];
  for (let g = 0; g < opts.groups; g++) {
    const name = g === 0 ? 'everyone' : `team-${String(g).padStart(3, '0')}`;
    groupNames.push(name);
    await gw.send(
      new CreateGroupCommand({
        UserPoolId: poolId,
        GroupName: name,
        Description: `Group ${g} — ünïcode ok`,
        Precedence: g,
        ...(g % 4 === 1 ? { RoleArn: `arn:aws:iam::123456789012:role/team-${g}` } : {}),
      }),
    );
  }

  let memberships = 0;
  let disabled = 0;
  const loginOf = (i: number, phoneOnly: boolean): string => {
    if (usernameAttributes?.includes('email') && !phoneOnly) return `user${i}@example.com`;
    if (usernameAttributes?.includes('phone_number') && phoneOnly) return phoneOf(i);
    return `user-${String(i).padStart(6, '0')}`;
  };
  const phoneOf = (i: number): string => `+1555${String(1000000 + i).slice(-7)}`;
  const withStatuses = opts.statuses ?? true;
  const webId = web?.ClientId ?? '';

  await eachConcurrent(opts.users, opts.concurrency ?? 8, async (i) => {
    // Email-username pools can only hold users with an email unless phone is also allowed.
    const plan = seedUserPlan(i, opts.groups, opts.memberships ?? 'varied');
    const phoneOnly =
      plan.phoneOnly && (!usernameAttributes || usernameAttributes.includes('phone_number'));
    const attrs: AttributeType[] = [
      { Name: 'name', Value: `${GIVEN[i % GIVEN.length]} ${FAMILY[i % FAMILY.length]}` },
      { Name: 'given_name', Value: GIVEN[i % GIVEN.length] ?? '' },
      { Name: 'custom:tier', Value: ['gold', 'silver', 'bronze, plus'][i % 3] ?? '' },
      { Name: 'custom:score', Value: String((i * 37) % 1000) },
    ];
    if (i % 2 === 0) attrs.push({ Name: 'custom:beta', Value: i % 4 === 0 ? 'true' : 'false' });
    if (phoneOnly) {
      attrs.push(
        { Name: 'phone_number', Value: phoneOf(i) },
        { Name: 'phone_number_verified', Value: 'true' },
      );
    } else {
      attrs.push(
        { Name: 'email', Value: `user${i}@example.com` },
        { Name: 'email_verified', Value: i % 6 === 0 ? 'false' : 'true' },
      );
      if (i % 9 === 0) attrs.push({ Name: 'phone_number', Value: phoneOf(i) });
    }
    const login = loginOf(i, phoneOnly);
    let username: string;
    if (withStatuses && plan.status === 'UNCONFIRMED' && webId) {
      // The emulator sends nothing; against Cognito SignUp would message the user, which
      // the paced client refuses unless the call says so (only the seeder does).
      const r = await gw.send(
        new SignUpCommand({
          ClientId: webId,
          Username: login,
          Password: SEED_PASSWORD,
          UserAttributes: attrs.filter((a) => !a.Name?.endsWith('_verified')),
        }),
        { messagesUsers: true },
      );
      username = r.UserSub && usernameAttributes ? r.UserSub : login;
    } else {
      const { User: u } = await gw.send(
        new AdminCreateUserCommand({
          UserPoolId: poolId,
          Username: login,
          UserAttributes: attrs,
        }),
      );
      username = u?.Username ?? login;
      if (withStatuses && (plan.status === 'CONFIRMED' || plan.status === 'RESET_REQUIRED')) {
        await gw.send(
          new AdminSetUserPasswordCommand({
            UserPoolId: poolId,
            Username: username,
            Password: SEED_PASSWORD,
            Permanent: true,
          }),
        );
        if (plan.status === 'RESET_REQUIRED') {
          await gw.send(
            new AdminResetUserPasswordCommand({ UserPoolId: poolId, Username: username }),
            { messagesUsers: true },
          );
        }
      }
    }
    if (plan.disabled) {
      await gw.send(new AdminDisableUserCommand({ UserPoolId: poolId, Username: username }));
      disabled++;
    }
    for (const g of plan.groups) {
      await gw.send(
        new AdminAddUserToGroupCommand({
          UserPoolId: poolId,
          Username: username,
          GroupName: groupNames[g] ?? '',
        }),
      );
      memberships++;
    }
  });

  return {
    userPoolId: poolId,
    clientIds,
    users: opts.users,
    groups: opts.groups,
    memberships,
    disabled,
  };
}
