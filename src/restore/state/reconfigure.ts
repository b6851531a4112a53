import type { IdentityProviderRecord } from '../../snapshot/format.js';
import { opt } from '../../core/options.js';
import type { ReconfigureItem } from '../types.js';

export type { ReconfigureItem } from '../types.js';

export interface ReconfigureInput {
  poolId: string;
  region: string;
  /** The new pool's Cognito prefix domain, if it has one. */
  domain: string | undefined;
  /** The new pool's custom domain, if it has one. */
  customDomain: string | undefined;
  /** The old pool's domain (prefix or custom), if it had one. */
  oldDomain: string | undefined;
  identityProviders: readonly IdentityProviderRecord[];
  /** IdPs the restore did not create (no secret): nothing to reconfigure for them yet. */
  skippedIdps: ReadonlySet<string>;
  clients: number;
  clientMapFile: string;
  /** The Lambda functions the pool's triggers name (after --map-arns). */
  triggerArns: readonly string[];
}

const SOCIAL = new Set(['OIDC', 'Google', 'Facebook', 'LoginWithAmazon', 'SignInWithApple']);

export function reconfigureList(r: ReconfigureInput): ReconfigureItem[] {
  const out: ReconfigureItem[] = [];
  const host =
    r.customDomain ?? (r.domain ? `${r.domain}.auth.${r.region}.amazoncognito.com` : undefined);
  const base = host ? `https://${host}` : undefined;
  const noDomain = `the new pool has no domain yet: create one (${opt('domain')} PREFIX, or CreateUserPoolDomain) and use`;
  for (const idp of r.identityProviders) {
    if (r.skippedIdps.has(idp.ProviderName)) continue;
    const type = idp.ProviderType ?? '';
    if (type === 'SAML') {
      const acs = base ? `${base}/saml2/idpresponse` : `https://<domain>/saml2/idpresponse`;
      out.push({
        kind: 'saml-idp',
        subject: idp.ProviderName,
        action: `in the SAML IdP's application for ${idp.ProviderName}, set the SP entity id (audience) and the ACS URL${base ? '' : ` (${noDomain} its host)`}`,
        values: { spEntityId: `urn:amazon:cognito:sp:${r.poolId}`, acsUrl: acs },
      });
    } else if (SOCIAL.has(type)) {
      const redirect = base ? `${base}/oauth2/idpresponse` : `https://<domain>/oauth2/idpresponse`;
      out.push({
        kind: 'oidc-idp',
        subject: idp.ProviderName,
        action: `at ${idp.ProviderName} (${type}), add the redirect (callback) URL${base ? '' : ` (${noDomain} its host)`}`,
        values: { redirectUrl: redirect },
      });
    }
  }
  if (r.clients > 0) {
    out.push({
      kind: 'app-clients',
      subject: 'your apps',
      action: `${r.clients} app client(s) have new client ids (and new secrets where they had one): update every app from the client id map`,
      values: { clientMap: r.clientMapFile },
    });
  }
  out.push({
    kind: 'token-issuer',
    subject: 'your APIs and apps',
    action:
      'tokens now come from the new pool: update the issuer and JWKS URL wherever tokens are verified (API Gateway authorizers, ALB, backends); users sign in again',
    values: {
      userPoolId: r.poolId,
      issuer: `https://cognito-idp.${r.region}.amazonaws.com/${r.poolId}`,
      jwks: `https://cognito-idp.${r.region}.amazonaws.com/${r.poolId}/.well-known/jwks.json`,
    },
  });
  if (r.oldDomain || host) {
    out.push({
      kind: 'domain',
      subject: 'hosted UI / managed login',
      action: host
        ? `the pool's sign-in pages are at ${base ?? ''}${r.oldDomain ? ` (was ${r.oldDomain})` : ''}: update links, app client callback hosts and DNS`
        : `the old pool's domain (${r.oldDomain ?? ''}) was not recreated: create one and update links and DNS`,
      values: { ...(base ? { url: base } : {}), ...(r.oldDomain ? { old: r.oldDomain } : {}) },
    });
  }
  const functions = [...new Set(r.triggerArns.filter((a) => a.includes(':lambda:')))];
  if (functions.length) {
    out.push({
      kind: 'lambda-triggers',
      subject: 'Lambda',
      action: `allow the new pool to invoke its ${functions.length} trigger function(s) (a resource policy for cognito-idp.amazonaws.com with the new pool's ARN as SourceArn)`,
      values: Object.fromEntries(functions.map((f, i) => [`function${i + 1}`, f])),
    });
  }
  return out;
}
