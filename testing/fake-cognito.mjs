// An in-memory Cognito user pool behind a real CognitoIdentityProviderClient whose middleware
// stack answers (no HTTP): for benchmarks and unit tests that need many users without moto. Users are made
// on demand by `userAt(i)`, so the fake itself holds no pool (its memory is not the tool's).
//
//   const gw = new CognitoGateway(fakeCognitoClient(pool), { rate: { unlimited: true } });
//
// pool: { id, describe, mfa?, groups, clients, identityProviders, resourceServers,
//         userCount, userAt(i) → UserType | undefined (undefined: no user at i),
//         members(groupName) → { count, at(j) → username } }

import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';

const PAGE = 60;

function awsError(name, message, status = 400) {
  return Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

const subOf = (u) => u.Attributes?.find((a) => a.Name === 'sub')?.Value ?? '';

export function fakeCognitoClient(pool) {
  const requireClient = (id) => {
    const c = pool.clients.find((x) => x.ClientId === id);
    if (!c) throw awsError('ResourceNotFoundException', `client ${id} not found`);
    return c;
  };
  const handlers = {
    DescribeUserPool: () => ({
      UserPool: { ...pool.describe, Id: pool.id, EstimatedNumberOfUsers: pool.userCount },
    }),
    GetUserPoolMfaConfig: () => ({ MfaConfiguration: 'OFF', ...(pool.mfa ?? {}) }),
    ListTagsForResource: () => ({ Tags: {} }),
    GetUICustomization: () => ({ UICustomization: {} }),
    GetLogDeliveryConfiguration: () => ({}),
    DescribeRiskConfiguration: () => ({ RiskConfiguration: {} }),
    DescribeUserPoolDomain: () => ({ DomainDescription: {} }),
    ListGroups: () => ({ Groups: pool.groups.map((g) => ({ ...g })) }),
    ListUserPoolClients: () => ({
      UserPoolClients: pool.clients.map((c) => ({
        ClientId: c.ClientId,
        ClientName: c.ClientName,
      })),
    }),
    DescribeUserPoolClient: (i) => ({ UserPoolClient: structuredClone(requireClient(i.ClientId)) }),
    ListIdentityProviders: () => ({
      Providers: pool.identityProviders.map((p) => ({
        ProviderName: p.ProviderName,
        ProviderType: p.ProviderType,
      })),
    }),
    DescribeIdentityProvider: (i) => {
      const p = pool.identityProviders.find((x) => x.ProviderName === i.ProviderName);
      if (!p) throw awsError('ResourceNotFoundException', 'no such provider');
      return { IdentityProvider: structuredClone(p) };
    },
    ListResourceServers: () => ({ ResourceServers: structuredClone(pool.resourceServers) }),
    ListUsers: (i) => {
      const prefix = i.Filter ? /^sub \^= "([0-9a-f]*)"$/.exec(i.Filter)?.[1] : '';
      if (prefix === undefined) throw awsError('InvalidParameterException', 'bad filter');
      const users = [];
      let at = Number(i.PaginationToken ?? 0);
      while (at < pool.userCount && users.length < (i.Limit ?? PAGE)) {
        const u = pool.userAt(at++);
        if (u && subOf(u).startsWith(prefix)) users.push(u);
      }
      return { Users: users, ...(at < pool.userCount ? { PaginationToken: String(at) } : {}) };
    },
    ListUsersInGroup: (i) => {
      const m = pool.members(i.GroupName);
      const start = Number(i.NextToken ?? 0);
      const end = Math.min(m.count, start + (i.Limit ?? PAGE));
      const Users = [];
      for (let j = start; j < end; j++) Users.push({ Username: m.at(j) });
      return { Users, ...(end < m.count ? { NextToken: String(end) } : {}) };
    },
  };
  // A real client, answered on its middleware stack (right before signing, after the pacing
  // and retry middleware the gateway registers): no HTTP, and the tool's middleware runs.
  const client = new CognitoIdentityProviderClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  });
  client.middlewareStack.addRelativeTo(
    (_next, context) => async (args) => {
      const op = (context.commandName ?? '').replace(/Command$/, '');
      const h = handlers[op];
      if (!h) throw awsError('UnsupportedOperation', `the fake pool has no ${op}`);
      await Promise.resolve();
      return {
        response: { statusCode: 200, headers: {} },
        output: { $metadata: { httpStatusCode: 200 }, ...h(args.input ?? {}) },
      };
    },
    { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'fakeCognitoPool' },
  );
  return client;
}
