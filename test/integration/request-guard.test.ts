import {
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  DescribeUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMotoEnv } from '../support/env.js';
import { startMoto, startValidatingProxy, type MotoServer } from '../support/moto.js';

const REGION = 'us-east-1';
let moto: MotoServer;
let cognito: CognitoIdentityProviderClient;

beforeAll(async () => {
  useMotoEnv();
  // This file sends invalid requests on purpose.
  moto = await startMoto({ allowViolations: true });
  cognito = new CognitoIdentityProviderClient({ region: REGION, endpoint: moto.endpoint });
}, 60_000);

afterAll(async () => {
  cognito?.destroy();
  await moto?.stop();
});

describe('the request-validating front before moto', () => {
  it('checks every Cognito request, records violations without values, and still forwards', async () => {
    const before = moto.checked();
    const pool = await cognito.send(new CreateUserPoolCommand({ PoolName: 'guarded' }));
    const id = pool.UserPool!.Id!;
    expect(moto.violations()).toEqual([]);
    // moto accepts a secret with a dash; AWS refuses it ([\w+]+).
    const secret = 'not-a-valid-secret-for-aws-000000';
    const r = await cognito.send(
      new CreateUserPoolClientCommand({ UserPoolId: id, ClientName: 'c', ClientSecret: secret }),
    );
    expect(r.UserPoolClient?.ClientId).toBeTruthy();
    expect(moto.violations()).toEqual([
      {
        operation: 'CreateUserPoolClient',
        path: 'ClientSecret',
        rule: 'pattern [\\w+]+ (ClientSecretType)',
      },
    ]);
    expect(JSON.stringify(moto.violations())).not.toContain(secret);
    expect(moto.checked()).toBe(before + 2);
  });

  it('lets other services and the emulator API through unchecked', async () => {
    const s3 = new S3Client({ region: REGION, endpoint: moto.endpoint, forcePathStyle: true });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'guard-passthrough' }));
      const list = await s3.send(new ListBucketsCommand({}));
      expect(list.Buckets?.map((b) => b.Name)).toContain('guard-passthrough');
    } finally {
      s3.destroy();
    }
    expect((await fetch(`${moto.endpoint}/moto-api/`)).status).toBeLessThan(500);
  });

  it('chains with another front and, with reject, answers as AWS does', async () => {
    const strict = await startValidatingProxy({ upstream: moto.endpoint, reject: true });
    const client = new CognitoIdentityProviderClient({ region: REGION, endpoint: strict.endpoint });
    try {
      await expect(
        client.send(new DescribeUserPoolCommand({ UserPoolId: 'not a pool id' })),
      ).rejects.toMatchObject({
        name: 'InvalidParameterException',
        message: expect.stringMatching(/DescribeUserPool: UserPoolId: pattern/),
      });
      expect(strict.violations()).toHaveLength(1);
      // The request never reached the next front.
      const outer = moto.checked();
      const ok = await client.send(new CreateUserPoolCommand({ PoolName: 'chained' }));
      expect(ok.UserPool?.Id).toBeTruthy();
      expect(moto.checked()).toBe(outer + 1);
    } finally {
      client.destroy();
      await strict.stop();
    }
  });
});
