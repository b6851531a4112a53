import { UsageError } from '../core/errors.js';

/** Pool ids: `<region>_<id>`. No other imports: the CLI validates ids at parse time. */
export const USER_POOL_ID_PATTERN = /^([a-z]{2}(?:-[a-z]+)+-\d+)_[0-9a-zA-Z]+$/;

export function regionOfPoolId(userPoolId: string): string {
  const m = USER_POOL_ID_PATTERN.exec(userPoolId);
  if (!m?.[1]) {
    throw new UsageError(
      'MALFORMED_POOL_ID',
      `malformed user pool id "${userPoolId}": expected <region>_<id>, e.g. us-east-1_AbC123xyz`,
      { userPoolId },
    );
  }
  return m[1];
}
