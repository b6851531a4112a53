import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { useMotoEnv } from './env.js';
import type { ImportJobDouble, ImportJobDoubleOptions } from '../../testing/import-job-double.js';
import { type MotoServer, startMoto } from './moto.js';

export const REGION = 'us-east-1';

/**
 * What an integration test file needs on moto: the server, an unpaced gateway (seeding, backup),
 * an independent raw SDK client (reading pools back without the code under test) and a
 * temporary work directory. `stop()` undoes all of it.
 */
export interface MotoFixture {
  moto: MotoServer;
  /** With `withImportJobs`: the import-job double in front of moto (gw talks to it). */
  importJobs?: ImportJobDouble;
  gw: CognitoGateway;
  raw: CognitoIdentityProviderClient;
  work: string;
  stop(): Promise<void>;
}

export async function startMotoFixture(
  tmpPrefix: string,
  opts: {
    /**
     * Start the CSV import-job double (testing/import-job-double.ts) in front of moto: `gw` and
     * `moto.endpoint` then go through it; `raw` still reads moto directly.
     */
    withImportJobs?: boolean | Omit<ImportJobDoubleOptions, 'upstream'>;
  } = {},
): Promise<MotoFixture> {
  useMotoEnv();
  const moto = await startMoto(opts.withImportJobs ? { importJobs: opts.withImportJobs } : {});
  const gw = CognitoGateway.create(
    { region: REGION, endpointUrl: moto.endpoint },
    { rate: { unlimited: true } },
  );
  // Reads moto directly past the import-job double (when there is one), else through the guard.
  const raw = new CognitoIdentityProviderClient({
    region: REGION,
    endpoint: moto.importJobs ? moto.motoEndpoint : moto.endpoint,
  });
  const work = await mkdtemp(path.join(tmpdir(), tmpPrefix));
  return {
    moto,
    ...(moto.importJobs ? { importJobs: moto.importJobs } : {}),
    gw,
    raw,
    work,
    async stop() {
      gw.destroy();
      raw.destroy();
      await rm(work, { recursive: true, force: true });
      // Last: throws when any request of the file violated Cognito's API model.
      await moto.stop();
    },
  };
}
