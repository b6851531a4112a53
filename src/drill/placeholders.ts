import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { type IdentityProviderRecord, REDACTED } from '../snapshot/index.js';

/**
 * Identity provider secrets for the scratch pool. A snapshot holds no IdP secret unless taken
 * with --include-secrets, and never Sign in with Apple's private_key; the drill cannot test a
 * sign-in through an IdP anyway (it would need the IdP's redirect URL set to the scratch pool).
 * So every secret the snapshot lacks gets a random placeholder — for Apple a freshly generated
 * P-256 key, which is what its private_key is — and the provider itself (type, attribute
 * mapping, scopes, identifiers) is restored and compared. Secrets the snapshot has are used as
 * they are. The drill's warnings say which providers got placeholders.
 */
export function placeholderSecrets(idps: readonly IdentityProviderRecord[]): {
  secrets: Record<string, Record<string, string>>;
  providers: string[];
} {
  const secrets: Record<string, Record<string, string>> = {};
  for (const idp of idps) {
    const s: Record<string, string> = {};
    for (const [k, v] of Object.entries(idp.ProviderDetails ?? {}))
      if (v === REDACTED) s[k] = `drill-placeholder-${randomBytes(12).toString('hex')}`;
    if (idp.ProviderType === 'SignInWithApple' && !idp.ProviderDetails?.private_key)
      s.private_key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
    if (Object.keys(s).length) secrets[idp.ProviderName] = s;
  }
  return { secrets, providers: Object.keys(secrets) };
}
