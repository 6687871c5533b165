import type { BillingStack } from './billing-stack';

/**
 * The account's Stripe customer, made as every flow makes it (`customers.ensure`, email `<account>@example.com`),
 * with `card` (a test payment method such as `pm_card_visa`) attached as its default for invoices, or none when
 * null. Answers the Stripe customer's id.
 */
export async function customerWithCard(
  stack: BillingStack,
  accountId: string,
  card: string | null,
): Promise<string> {
  const stripeServices = stack.app.services.stripe;
  if (!stripeServices) throw new Error('the stack has Stripe');
  const customer = await stripeServices.customers.ensure(stack.app.orm.em.fork(), {
    accountId,
    email: `${accountId}@example.com`,
  });
  const stripeCustomerId = customer.stripeCustomerId as string;
  if (card) {
    const attached = await stack.stripe.paymentMethods.attach(card, { customer: stripeCustomerId });
    await stack.stripe.customers.update(stripeCustomerId, {
      invoice_settings: { default_payment_method: attached.id },
    });
  }
  return stripeCustomerId;
}
