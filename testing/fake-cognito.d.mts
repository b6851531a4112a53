import type {
  CognitoIdentityProviderClient,
  GroupType,
  IdentityProviderType,
  ResourceServerType,
  UserPoolClientType,
  UserPoolType,
  UserType,
} from '@aws-sdk/client-cognito-identity-provider';

export interface FakePool {
  id: string;
  describe: UserPoolType;
  mfa?: Record<string, unknown>;
  groups: GroupType[];
  clients: UserPoolClientType[];
  identityProviders: IdentityProviderType[];
  resourceServers: ResourceServerType[];
  userCount: number;
  userAt(i: number): UserType | undefined;
  members(group: string): { count: number; at(j: number): string };
}

export function fakeCognitoClient(pool: FakePool): CognitoIdentityProviderClient;
