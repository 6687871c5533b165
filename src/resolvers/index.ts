import type { NonEmptyArray } from 'type-graphql';
import { AccountResolver } from './account.resolver';
import { ServiceInfoResolver } from './service-info.resolver';

/** Every resolver of the API, listed once. */
// biome-ignore lint/complexity/noBannedTypes: type-graphql's own signature for resolver classes
export const RESOLVERS: NonEmptyArray<Function> = [ServiceInfoResolver, AccountResolver];
