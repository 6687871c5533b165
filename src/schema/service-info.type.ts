import { Field, ObjectType } from 'type-graphql';

@ObjectType({ description: 'What this service is and which Stripe API version it speaks' })
export class ServiceInfo {
  @Field(() => String)
  name!: string;

  @Field(() => String)
  version!: string;

  @Field(() => String, { description: 'The pinned Stripe API version every call and webhook uses' })
  stripeApiVersion!: string;
}
