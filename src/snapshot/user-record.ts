/**
 * Rules about one user record of a snapshot, shared by everything that reads users: restore's
 * preflight and AdminCreateUser path, and the import CSV encoder (import-csv.ts). One place
 * each, so the encoder and AdminCreateUser can never disagree on a user's login or on which
 * attributes are Cognito's own.
 */

/** The shape both a snapshot's UserRecord and the SDK's UserType have. */
export interface UserLike {
  Username?: string | undefined;
  Attributes?: ReadonlyArray<{ Name?: string | undefined; Value?: string | undefined }>;
  UserStatus?: string | undefined;
}

/**
 * Attributes Cognito owns (`sub`, `identities`, `cognito:*`): never sent to AdminCreateUser and
 * never columns of an import file (GetCSVHeader has no `sub` column; identity links are
 * replayed separately).
 */
export function isCognitoOwnedAttribute(name: string): boolean {
  return name === 'sub' || name === 'identities' || name.startsWith('cognito:');
}

/**
 * The attributes a pool requires of every user: its schema's Required ones, Cognito's own apart
 * (a user never supplies `sub` or `identities`). One rule for restore's preflight, the selective
 * restore and the import CSV encoder.
 */
export function requiredAttributes(
  schema: ReadonlyArray<{ Name?: string | undefined; Required?: boolean | undefined }> | undefined,
): string[] {
  return (schema ?? []).flatMap((a) =>
    a.Required && a.Name && !isCognitoOwnedAttribute(a.Name) ? [a.Name] : [],
  );
}

export function attributeOf(u: UserLike, name: string): string | undefined {
  return u.Attributes?.find((a) => a.Name === name)?.Value;
}

/** A federated profile (created by an IdP sign-in, never by an administrator). */
export function isExternalProvider(u: UserLike): boolean {
  return u.UserStatus === 'EXTERNAL_PROVIDER';
}

/**
 * The Username to send to AdminCreateUser (and the import file's cognito:username). Pools that
 * sign in by email or phone generate the username themselves and take the email (or phone
 * number) in its place; undefined when the user has neither.
 */
export function loginOf(u: UserLike, usernameAttributes: readonly string[]): string | undefined {
  if (usernameAttributes.length === 0) return u.Username;
  if (usernameAttributes.includes('email')) {
    const email = attributeOf(u, 'email');
    if (email) return email;
  }
  if (usernameAttributes.includes('phone_number')) {
    const phone = attributeOf(u, 'phone_number');
    if (phone) return phone;
  }
  return undefined;
}
