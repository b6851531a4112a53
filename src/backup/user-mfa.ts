import { AdminGetUserCommand, type UserType } from '@aws-sdk/client-cognito-identity-provider';
import { forEachConcurrent } from '../core/concurrency.js';
import { CognitoError } from '../core/errors.js';
import type { CognitoGateway } from '../cognito/gateway.js';
import type { UserMfaSummary } from './types.js';

/**
 * `backup --user-mfa`: ListUsers does not return a user's MFA settings, so each user listed is
 * read once more with AdminGetUser (UserRead quota, 120 RPS by default, paced by the gateway).
 * AdminGetUser counts the user as a monthly active user (MAU) — AWS bills it, ListUsers it does
 * not — which is why this is opt-in and the result says how many users were read.
 *
 * Streaming: a page of ListUsers is read here right before it is written, and the settings are
 * dropped as each record is written, so memory holds at most the pages in flight.
 */
export interface UserMfaSettings {
  list: string[];
  preferred?: string;
}

/** AdminGetUser calls in flight per ListUsers page (the rate controller paces the category). */
const PER_PAGE = 8;

export class UserMfaReader {
  /** Username → settings, for the pages being written now. */
  readonly settings = new Map<string, UserMfaSettings>();
  private read = 0;
  private vanished = 0;
  private readonly factors = new Map<string, number>();

  constructor(
    private readonly gw: CognitoGateway,
    private readonly poolId: string,
    private readonly signal: AbortSignal,
  ) {}

  async readPage(page: readonly UserType[]): Promise<void> {
    await forEachConcurrent(
      page,
      PER_PAGE,
      async (u) => {
        const username = u.Username;
        if (!username) return;
        // Federated users have no MFA of their own in the pool: no billed read for them.
        if (u.UserStatus === 'EXTERNAL_PROVIDER') return;
        try {
          const got = await this.gw.send(
            new AdminGetUserCommand({ UserPoolId: this.poolId, Username: username }),
          );
          this.read++;
          const list = got.UserMFASettingList ?? [];
          for (const f of list) this.factors.set(f, (this.factors.get(f) ?? 0) + 1);
          this.settings.set(username, {
            list,
            ...(got.PreferredMfaSetting ? { preferred: got.PreferredMfaSetting } : {}),
          });
        } catch (e) {
          // Deleted between ListUsers and AdminGetUser: kept without MFA settings.
          if (e instanceof CognitoError && e.awsCode === 'UserNotFoundException') {
            this.vanished++;
            return;
          }
          throw e;
        }
      },
      this.signal,
    );
  }

  summary(): UserMfaSummary {
    return {
      usersRead: this.read,
      billedAsMau: this.read,
      factors: Object.fromEntries([...this.factors].sort()),
      vanished: this.vanished,
    };
  }
}
