import type {
  AttributeType,
  GroupType,
  IdentityProviderType,
  ResourceServerType,
  SchemaAttributeType,
  UserPoolClientType,
  UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  canonical,
  COMPARED_GROUP_KEYS,
  COMPARED_IDP_KEYS,
  CREATE_CLIENT_KEYS,
  IDP_DETAILS_NOT_COMPARED,
} from '../../cognito/fields.js';
import {
  type ClientRecord,
  type GroupRecord,
  type IdentityProviderRecord,
  REDACTED,
  type ResourceServerRecord,
  type UserRecord,
} from '../../snapshot/format.js';
import { isWritableAttribute } from '../users/admin-create.js';

/**
 * What differs between a snapshot's user or resource and the live one, field by field, on the
 * fields the comparison layer compares (src/cognito/fields.ts, shared by both): the restore side
 * of `diff`, for the handful of things a selection names.
 */

const VERIFIED: Record<string, string> = {
  email: 'email_verified',
  phone_number: 'phone_number_verified',
};

/** What reverting one existing user's attributes takes. */
export interface AttributeRevert {
  /** One AdminUpdateUserAttributes call's attributes (with *_verified alongside email/phone). */
  set: AttributeType[];
  /** Attributes the user has now and did not have then (AdminDeleteUserAttributes). */
  remove: string[];
  /** Differing attributes no API call may write (immutable, required): reported only. */
  unwritable: string[];
  /**
   * Email / phone number changes Cognito would answer with a verification message (the pool
   * verifies it automatically and the snapshot's value was not verified): refused, reported.
   */
  refused: string[];
  /** Names of every attribute that differs (sub and Cognito-owned ones never). */
  differing: string[];
}

function attrMap(list: readonly AttributeType[] | undefined, legacy?: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of list ?? []) {
    if (!a.Name || a.Value === undefined || !isWritableAttribute(a.Name)) continue;
    if (legacy && a.Name === legacy) continue;
    m.set(a.Name, a.Value);
  }
  return m;
}

/**
 * The attribute revert of one user. Never `sub` (nor identities, cognito:*). An email or phone
 * number is written together with its `*_verified` value from the snapshot in the same call:
 * `true` there makes Cognito skip the verification message (AdminUpdateUserAttributes,
 * "To update the value of an attribute that requires verification in the same API request,
 * include the email_verified or phone_number_verified attribute, with a value of true"). When
 * the snapshot's value was unverified and the pool auto-verifies that attribute, Cognito would
 * send a code: that change is refused instead.
 */
export function attributeRevert(
  snap: UserRecord,
  live: UserType,
  schema: ReadonlyMap<string, SchemaAttributeType>,
  autoVerified: ReadonlySet<string>,
  legacySubAttribute?: string,
): AttributeRevert {
  const legacy = legacySubAttribute ? `custom:${legacySubAttribute}` : undefined;
  const s = attrMap(snap.Attributes, legacy);
  const l = attrMap(live.Attributes, legacy);
  const out: AttributeRevert = { set: [], remove: [], unwritable: [], refused: [], differing: [] };
  const names = [...new Set([...s.keys(), ...l.keys()])].sort();
  const setNames = new Set<string>();
  for (const name of names) {
    const sv = s.get(name);
    const lv = l.get(name);
    if (sv === lv) continue;
    out.differing.push(name);
    const def = schema.get(name.startsWith('dev:') ? name.slice(4) : name);
    if (def && def.Mutable === false) {
      out.unwritable.push(name);
      continue;
    }
    if (sv === undefined) {
      if (def?.Required) out.unwritable.push(name);
      else out.remove.push(name);
      continue;
    }
    setNames.add(name);
  }
  for (const [attr, flag] of Object.entries(VERIFIED)) {
    if (!setNames.has(attr)) continue;
    const verified = s.get(flag) === 'true';
    if (!verified && autoVerified.has(attr)) {
      setNames.delete(attr);
      out.refused.push(attr);
      continue;
    }
    // Sent with the address, whatever it was: the snapshot's state lands with it.
    setNames.add(flag);
  }
  for (const name of [...setNames].sort()) {
    const v = s.get(name) ?? (name.endsWith('_verified') ? 'false' : undefined);
    if (v !== undefined) out.set.push({ Name: name, Value: v });
  }
  // A *_verified flag sent with its address is not removed; one removed alongside a refused
  // address stays as it is.
  const sent = new Set(out.set.map((a) => a.Name));
  out.remove = out.remove.filter(
    (n) => !sent.has(n) && !out.refused.some((r) => VERIFIED[r] === n),
  );
  return out;
}

// ---- resources ------------------------------------------------------------------------------

export function groupFields(snap: GroupRecord, live: GroupType): string[] {
  return COMPARED_GROUP_KEYS.filter(
    (k) =>
      canonical((snap as unknown as Record<string, unknown>)[k]) !==
      canonical((live as unknown as Record<string, unknown>)[k]),
  );
}

export function resourceServerFields(
  snap: ResourceServerRecord,
  live: ResourceServerType,
): string[] {
  const out: string[] = [];
  if ((snap.Name ?? '') !== (live.Name ?? '')) out.push('Name');
  const scopes = (v: ResourceServerType['Scopes']): string =>
    canonical([...(v ?? [])].sort((a, b) => (a.ScopeName ?? '').localeCompare(b.ScopeName ?? '')));
  if (scopes(snap.Scopes) !== scopes(live.Scopes)) out.push('Scopes');
  return out;
}

/** IdP fields that differ; ProviderDetails key by key (secrets compared only when given). */
export function identityProviderFields(
  snap: IdentityProviderRecord,
  live: IdentityProviderType,
  secrets: Record<string, string> | undefined,
): string[] {
  const out: string[] = COMPARED_IDP_KEYS.filter(
    (k) =>
      canonical((snap as unknown as Record<string, unknown>)[k], k) !==
      canonical((live as unknown as Record<string, unknown>)[k], k),
  );
  const sd = snap.ProviderDetails ?? {};
  const ld = live.ProviderDetails ?? {};
  for (const k of [...new Set([...Object.keys(sd), ...Object.keys(ld)])].sort()) {
    if (IDP_DETAILS_NOT_COMPARED.has(k)) continue;
    let sv = sd[k];
    if (sv === REDACTED) sv = secrets?.[k];
    if (sv === undefined && sd[k] === REDACTED) continue; // not known: not compared
    if (sv !== ld[k]) out.push(`ProviderDetails.${k}`);
  }
  return out;
}

/** Client settings UpdateUserPoolClient writes (all of them: it resets what it omits). */
export const CLIENT_UPDATE_KEYS = CREATE_CLIENT_KEYS.filter((k) => k !== 'ClientName');

export function clientFields(snap: ClientRecord, live: UserPoolClientType): string[] {
  return CLIENT_UPDATE_KEYS.filter(
    (k) =>
      canonical((snap as unknown as Record<string, unknown>)[k], k) !==
      canonical((live as unknown as Record<string, unknown>)[k], k),
  );
}
