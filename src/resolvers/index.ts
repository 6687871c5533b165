import type { NonEmptyArray } from 'type-graphql';
import { AccountResolver } from './account.resolver';
import { ServiceInfoResolver } from './service-info.resolver';

/** Every resolver of the API, listed once. */
export const RESOLVERS: NonEmptyArray<Function> = [ServiceInfoResolver, AccountResolver];
