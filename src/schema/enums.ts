import { registerEnumType } from 'type-graphql';

/** Stripe's subscription statuses, upper-cased as GraphQL enums are. */
export enum SubscriptionStatus {
  INCOMPLETE = 'incomplete',
  INCOMPLETE_EXPIRED = 'incomplete_expired',
  TRIALING = 'trialing',
  ACTIVE = 'active',
  PAST_DUE = 'past_due',
  UNPAID = 'unpaid',
  CANCELED = 'canceled',
  PAUSED = 'paused',
}
registerEnumType(SubscriptionStatus, {
  name: 'SubscriptionStatus',
  description: "Stripe's subscription status",
});

export enum BillingInterval {
  MONTH = 'month',
  YEAR = 'year',
}
registerEnumType(BillingInterval, { name: 'BillingInterval' });

export enum ProrationBehavior {
  CREATE_PRORATIONS = 'create_prorations',
  ALWAYS_INVOICE = 'always_invoice',
  NONE = 'none',
}
registerEnumType(ProrationBehavior, {
  name: 'ProrationBehavior',
  description:
    'How a change mid-period is charged: prorations on the next invoice, invoiced now, or not at all',
});

export enum ApplyAt {
  IMMEDIATELY = 'immediately',
  PERIOD_END = 'period_end',
}
registerEnumType(ApplyAt, { name: 'ApplyAt', description: 'When a plan change takes effect' });

export enum OverLimitBehavior {
  BLOCK = 'block',
  BILL_OVERAGE = 'bill_overage',
}
registerEnumType(OverLimitBehavior, { name: 'OverLimitBehavior' });
