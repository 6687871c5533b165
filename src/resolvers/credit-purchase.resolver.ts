import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import {
  CreateCreditCheckoutSessionInput,
  CreditCheckoutSession,
  CreditPurchase,
  CreditPurchaseStatus,
  PurchaseCreditsInput,
} from '../schema/credit-purchase.type';
import { PendingActionKind } from '../schema/pending-action.type';
import type { CreditCheckout } from '../services/credits/credit-checkout';
import type { CreditPurchases } from '../services/credits/credit-purchases';
import { balanceOf } from './credit.resolver';
import { stripeRequired } from './stripe-required';

/** Buying credit packs, for the caller's own account: on Stripe's Checkout page, or charged to the saved card. */
@Resolver()
export class CreditPurchaseResolver {
  constructor(
    private readonly checkout: CreditCheckout | null,
    private readonly purchases: CreditPurchases | null,
  ) {}

  @Mutation(() => CreditCheckoutSession, {
    description:
      'A Stripe Checkout page (payment mode) selling one credit pack: redirect the user to its url',
  })
  async createCreditCheckoutSession(
    @Arg('input', () => CreateCreditCheckoutSessionInput) input: CreateCreditCheckoutSessionInput,
    @Ctx() context: RequestContext,
  ): Promise<CreditCheckoutSession> {
    const accountId = context.requireCaller().accountId;
    return stripeRequired(this.checkout).create(context.em, context.profileOf(accountId), input);
  }

  @Mutation(() => CreditPurchase, {
    description:
      'Charges a credit pack to the saved default card now (an invoice paid off-session): PAID with the new balance, or REQUIRES_ACTION with the approval to give. No saved card: BAD_USER_INPUT (reason NO_SAVED_CARD); declined: CARD_DECLINED',
  })
  async purchaseCredits(
    @Arg('input', () => PurchaseCreditsInput) input: PurchaseCreditsInput,
    @Ctx() context: RequestContext,
  ): Promise<CreditPurchase> {
    const accountId = context.requireCaller().accountId;
    const bought = await stripeRequired(this.purchases).purchase(context.em, accountId, input);
    const approval = bought.pendingAction;
    return {
      status: bought.status === 'paid' ? CreditPurchaseStatus.PAID : CreditPurchaseStatus.REQUIRES_ACTION,
      credits: bought.credits,
      amount: bought.amount,
      currency: bought.currency,
      invoiceId: bought.invoiceId,
      pendingAction: approval
        ? {
            kind: PendingActionKind.AUTHENTICATE,
            url: approval.url,
            // The open invoice waits: nothing expires it (the customer may also pay it with another card).
            expiresAt: null,
            invoiceId: approval.invoiceId,
            amountDue: approval.amountDue,
            currency: approval.currency,
          }
        : null,
      balance: balanceOf(bought.balance, accountId),
    };
  }
}
