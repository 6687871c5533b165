import { Field, ID, ObjectType } from 'type-graphql';
import { PageInfo } from './invoice.type';

/** A CODITECT account as billing sees it. Its fields are resolved on demand by `AccountResolver`. */
@ObjectType({ description: 'A CODITECT account and its billing state' })
export class Account {
  @Field(() => ID, { description: 'The application account id (the JWT subject)' })
  id!: string;
}

export function accountOf(id: string): Account {
  const account = new Account();
  account.id = id;
  return account;
}

@ObjectType()
export class AccountConnection {
  @Field(() => [Account])
  nodes!: Account[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
