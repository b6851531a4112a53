// Fast users-only seeding straight into moto (raw SDK, no proxy, no pacing): a plain pool and
// `AdminCreateUser` for a range of indexes, so a pool can grow in steps (10k, then 100k).
// Pools with groups, memberships and disabled users come from testing/dist/seed.js.

import {
  AdminCreateUserCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import http from 'node:http';

export function directClient(endpoint, region = 'us-east-1') {
  return new CognitoIdentityProviderClient({
    region,
    endpoint,
    maxAttempts: 5,
    requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: 32 }) },
  });
}

export async function createPlainPool(client, name) {
  const r = await client.send(
    new CreateUserPoolCommand({
      PoolName: name,
      AliasAttributes: ['email'],
      Schema: [{ Name: 'tier', AttributeDataType: 'String', Mutable: true }],
    }),
  );
  return r.UserPool.Id;
}

/** Creates users `from` … `to − 1`, `concurrency` at a time; calls onProgress(done). */
export async function addUsers(
  client,
  userPoolId,
  from,
  to,
  { concurrency = 12, onProgress } = {},
) {
  let next = from;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= to) return;
      await client.send(
        new AdminCreateUserCommand({
          UserPoolId: userPoolId,
          Username: `user-${String(i).padStart(7, '0')}`,
          MessageAction: 'SUPPRESS',
          UserAttributes: [
            { Name: 'email', Value: `user${i}@example.com` },
            { Name: 'email_verified', Value: 'true' },
            { Name: 'given_name', Value: `Given${i % 997}` },
            { Name: 'family_name', Value: `Family${i % 991}` },
            { Name: 'custom:tier', Value: ['gold', 'silver', 'bronze'][i % 3] },
          ],
        }),
      );
      done++;
      if (onProgress && done % 1000 === 0) onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
