import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { accountOf, Account } from '../schema/account.type';
import {
  CreatePaymentMethodSetupSessionInput,
  PaymentMethodSetupIntent,
  PaymentMethodSetupSession,
} from '../schema/card.type';
import type { CardChoices } from '../services/cards/card-choices';
import type { CardSetupSessions } from '../services/cards/card-setup-sessions';
import { stripeRequired } from './stripe-required';

/** The caller's cards: added on Stripe's hosted page, chosen and removed here. */
@Resolver(() => PaymentMethodSetupSession)
export class CardResolver {
  constructor(
    private readonly setups: CardSetupSessions | null,
    private readonly choices: CardChoices | null,
  ) {}

  @Mutation(() => PaymentMethodSetupSession, {
    description:
      'A Stripe Checkout page (setup mode) to add a card: the card shows in viewer.paymentMethods once saved (accountUpdated tells the page)',
  })
  async createPaymentMethodSetupSession(
    @Arg('input', () => CreatePaymentMethodSetupSessionInput) input: CreatePaymentMethodSetupSessionInput,
    @Ctx() context: RequestContext,
  ): Promise<PaymentMethodSetupSession> {
    const accountId = context.requireCaller().accountId;
    return stripeRequired(this.setups).create(context.em, context.profileOf(accountId), input);
  }

  @Mutation(() => PaymentMethodSetupIntent, {
    description:
      'For a page using Stripe Elements instead of the hosted page: a SetupIntent (cards, for later payments) to confirm with Stripe.js; the card shows in viewer.paymentMethods once saved (accountUpdated tells the page). The same intent again within 10 minutes while it can be confirmed',
  })
  async createPaymentMethodSetupIntent(@Ctx() context: RequestContext): Promise<PaymentMethodSetupIntent> {
    const accountId = context.requireCaller().accountId;
    return stripeRequired(this.setups).createIntent(context.em, context.profileOf(accountId));
  }

  @Mutation(() => Account, {
    description: "Makes one of the caller's cards the one charged (NOT_FOUND for any other card)",
  })
  async setDefaultPaymentMethod(
    @Arg('id', () => ID) id: string,
    @Ctx() context: RequestContext,
  ): Promise<Account> {
    const accountId = context.requireCaller().accountId;
    await stripeRequired(this.choices).setDefault(context.em, accountId, id);
    return accountOf(accountId);
  }

  @Mutation(() => Account, {
    description:
      "Removes one of the caller's cards; LAST_PAYMENT_METHOD for the only card of a subscription that renews",
  })
  async removePaymentMethod(
    @Arg('id', () => ID) id: string,
    @Ctx() context: RequestContext,
  ): Promise<Account> {
    const accountId = context.requireCaller().accountId;
    await stripeRequired(this.choices).remove(context.em, accountId, id);
    return accountOf(accountId);
  }
}
