import { z } from 'zod';
import { UsageError } from '../../core/errors.js';
import { opt } from '../../core/options.js';
import { readOptionJson } from './option-file.js';

/** `{ "<ProviderName>": { "client_secret": "…" } }` — any ProviderDetails keys, as strings. */
export const IdpSecretsFile = z.record(z.string().min(1), z.record(z.string().min(1), z.string()));
export type IdpSecrets = z.infer<typeof IdpSecretsFile>;

/** Reads and validates an --idp-secrets file (never echoing its contents in errors). */
export async function loadIdpSecrets(file: string): Promise<IdpSecrets> {
  const raw = await readOptionJson(file, 'idpSecrets');
  const r = IdpSecretsFile.safeParse(raw);
  if (!r.success) {
    throw new UsageError(
      'BAD_INPUT',
      `${opt('idpSecrets')} ${file} must be {"<ProviderName>": {"client_secret": "…"}} (at ${r.error.issues[0]?.path.join('.') || 'top level'})`,
      { path: file, option: 'idpSecrets' },
    );
  }
  return r.data;
}
