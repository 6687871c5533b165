import { IsInt, IsOptional, Max, MaxLength, Min } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'The seats of a subscription to a plan priced per seat' })
export class SubscriptionSeats {
  @Field(() => Int, { description: 'Seats the plan’s price includes' })
  included!: number;

  @Field(() => Int, { description: 'Seats paid for now, included ones counted: the `seats` limit' })
  purchased!: number;

  @Field(() => Int, {
    nullable: true,
    description: 'Seats from the period end on when some were removed (setSeats below purchased), else null',
  })
  atPeriodEnd!: number | null;

  @Field(() => Int)
  maximum!: number;

  /** The plan and interval whose seat price `pricePerSeat` shows; not fields. */
  planKey!: string;
  interval!: 'month' | 'year';

  /** Whose seats (for `taken` and the currency of `pricePerSeat`); not a field. */
  accountId!: string;
}

@InputType()
export class SetSeatsInput {
  @Field(() => Int, {
    description:
      'The seats wanted in all, included ones counted (at most the plan’s maximum, at least those taken)',
  })
  @IsInt()
  @Min(1)
  @Max(100_000)
  quantity!: number;

  @Field(() => ID, { nullable: true, description: 'Admin only: set this account’s seats' })
  @IsOptional()
  @MaxLength(255)
  accountId?: string | null;
}
