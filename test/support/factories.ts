import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingCustomer, Invoice, PaymentMethod, Subscription } from '../../src/entities';

/** Plain fixture factories: rows as the sync would write them, without going through Stripe. */

let sequence = 0;
const next = () => ++sequence;

export function createCustomer(em: EntityManager, overrides: Partial<BillingCustomer> = {}): BillingCustomer {
  const n = next();
  return em.create(BillingCustomer, {
    accountId: `acct_fixture_${n}`,
    stripeCustomerId: `cus_fixture_${n}`,
    email: `fixture${n}@example.com`,
    ...overrides,
  });
}

export function createSubscription(
  em: EntityManager,
  customer: BillingCustomer,
  overrides: Partial<Subscription> = {},
): Subscription {
  const now = Date.now();
  return em.create(Subscription, {
    stripeSubscriptionId: `sub_fixture_${next()}`,
    customer,
    accountId: customer.accountId,
    status: 'active',
    planKey: 'starter',
    interval: 'month',
    currentPeriodStart: new Date(now - 5 * 86_400_000),
    currentPeriodEnd: new Date(now + 25 * 86_400_000),
    stripeUpdatedAt: new Date(now),
    ...overrides,
  });
}

export function createInvoice(
  em: EntityManager,
  customer: BillingCustomer,
  overrides: Partial<Invoice> = {},
): Invoice {
  const n = next();
  return em.create(Invoice, {
    stripeInvoiceId: `in_fixture_${n}`,
    customer,
    accountId: customer.accountId,
    status: 'paid',
    amountDue: 1900,
    amountPaid: 1900,
    amountRemaining: 0,
    currency: 'usd',
    stripeCreatedAt: new Date(Date.now() - n * 1000),
    stripeUpdatedAt: new Date(),
    ...overrides,
  });
}

export function createPaymentMethod(
  em: EntityManager,
  customer: BillingCustomer,
  overrides: Partial<PaymentMethod> = {},
): PaymentMethod {
  return em.create(PaymentMethod, {
    stripePaymentMethodId: `pm_fixture_${next()}`,
    customer,
    accountId: customer.accountId,
    brand: 'visa',
    last4: '4242',
    expMonth: 12,
    expYear: 2030,
    stripeUpdatedAt: new Date(),
    ...overrides,
  });
}
