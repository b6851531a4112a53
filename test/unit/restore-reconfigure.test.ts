import { describe, expect, it } from 'vitest';
import { reconfigureList } from '../../src/restore/state/reconfigure.js';
import type { IdentityProviderRecord } from '../../src/snapshot/format.js';

const IDPS = [
  { ProviderName: 'Okta', ProviderType: 'SAML', ProviderDetails: {} },
  { ProviderName: 'Google', ProviderType: 'Google', ProviderDetails: {} },
  { ProviderName: 'Corp', ProviderType: 'OIDC', ProviderDetails: {} },
  { ProviderName: 'Apple', ProviderType: 'SignInWithApple', ProviderDetails: {} },
] as unknown as IdentityProviderRecord[];

const base = {
  poolId: 'eu-west-1_New123',
  region: 'eu-west-1',
  customDomain: undefined,
  oldDomain: 'old-prefix',
  identityProviders: IDPS,
  skippedIdps: new Set(['Apple']),
  clients: 2,
  clientMapFile: '/state/client-map.json',
  triggerArns: [
    'arn:aws:lambda:eu-west-1:222222222222:function:pre',
    'arn:aws:lambda:eu-west-1:222222222222:function:pre',
  ],
};

describe('reconfigure list', () => {
  it('gives each SAML IdP the new SP entity id and ACS URL and each OIDC/social IdP the redirect URL on the new domain', () => {
    const items = reconfigureList({ ...base, domain: 'new-prefix' });
    const saml = items.find((i) => i.subject === 'Okta');
    expect(saml?.kind).toBe('saml-idp');
    expect(saml?.values).toEqual({
      spEntityId: 'urn:amazon:cognito:sp:eu-west-1_New123',
      acsUrl: 'https://new-prefix.auth.eu-west-1.amazoncognito.com/saml2/idpresponse',
    });
    for (const name of ['Google', 'Corp']) {
      expect(items.find((i) => i.subject === name)?.values).toEqual({
        redirectUrl: 'https://new-prefix.auth.eu-west-1.amazoncognito.com/oauth2/idpresponse',
      });
    }
    // A skipped IdP was not created: nothing to point at the new pool yet.
    expect(items.some((i) => i.subject === 'Apple')).toBe(false);
    expect(items.find((i) => i.kind === 'app-clients')?.values.clientMap).toBe(
      '/state/client-map.json',
    );
    expect(items.find((i) => i.kind === 'token-issuer')?.values.issuer).toBe(
      'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_New123',
    );
    expect(items.find((i) => i.kind === 'domain')?.values).toEqual({
      url: 'https://new-prefix.auth.eu-west-1.amazoncognito.com',
      old: 'old-prefix',
    });
    expect(Object.values(items.find((i) => i.kind === 'lambda-triggers')?.values ?? {})).toEqual([
      'arn:aws:lambda:eu-west-1:222222222222:function:pre',
    ]);
  });

  it('says when the new pool has no domain, and uses a custom domain when there is one', () => {
    const none = reconfigureList({ ...base, domain: undefined });
    expect(none.find((i) => i.subject === 'Okta')?.action).toContain('no domain yet');
    expect(none.find((i) => i.kind === 'domain')?.action).toContain('was not recreated');
    const custom = reconfigureList({
      ...base,
      domain: undefined,
      customDomain: 'auth.example.com',
    });
    expect(custom.find((i) => i.subject === 'Okta')?.values.acsUrl).toBe(
      'https://auth.example.com/saml2/idpresponse',
    );
  });
});
