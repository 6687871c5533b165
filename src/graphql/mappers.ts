import type {
  BillingCustomer,
  Invoice as InvoiceRow,
  PaymentMethod as PaymentMethodRow,
  Subscription as SubscriptionRow,
} from '../entities';
import type { Plan as CatalogPlan } from '../services/plans/plan.types';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { Customer } from '../schema/customer.type';
import { BillingInterval, OverLimitBehavior, SubscriptionStatus } from '../schema/enums';
import type { Invoice } from '../schema/invoice.type';
import type { PaymentMethod } from '../schema/payment-method.type';
import type { Plan } from '../schema/plan.type';
import type { SubscriptionSeats } from '../schema/seats.type';
import type { BillingSubscription } from '../schema/subscription.type';

/** Entities and catalog records → what clients see. Plain and small on purpose. */

export function toPlan(plan: CatalogPlan): Plan {
  return {
    key: plan.key,
    name: plan.name,
    description: plan.description,
    prices: plan.prices.map(toPlanPrice),
    features: Object.entries(plan.features).map(([key, enabled]) => ({ key, enabled })),
    limits: plan.limits.map((limit) => ({
      metric: limit.metric,
      included: limit.included,
      overLimit: limit.overLimit === 'block' ? OverLimitBehavior.BLOCK : OverLimitBehavior.BILL_OVERAGE,
    })),
    trialDays: plan.trialDays,
    salesLed: plan.salesLed,
    seats: plan.seats && {
      included: plan.seats.included,
      maximum: plan.seats.maximum,
      prices: plan.seats.prices.map(toPlanPrice),
    },
  };
}

function toPlanPrice(price: CatalogPlan['prices'][number]): Plan['prices'][number] {
  return {
    interval: price.interval === 'year' ? BillingInterval.YEAR : BillingInterval.MONTH,
    amount: price.amount,
    currency: price.currency,
    lookupKey: price.lookupKey,
  };
}

/** The seats of a subscription to a per-seat plan (`taken` is resolved on its own: it reads the gauge). */
function toSubscriptionSeats(row: SubscriptionRow, plan: CatalogPlan): SubscriptionSeats | null {
  const price = plan.seats?.prices.find((candidate) => candidate.interval === row.interval);
  if (!plan.seats || !price) return null;
  return {
    included: plan.seats.included,
    purchased: plan.seats.included + row.extraSeats,
    atPeriodEnd: row.scheduledExtraSeats === null ? null : plan.seats.included + row.scheduledExtraSeats,
    maximum: plan.seats.maximum,
    pricePerSeat: toPlanPrice(price),
    accountId: row.accountId,
  };
}

export function toSubscription(row: SubscriptionRow, catalog: PlanCatalog): BillingSubscription {
  const scheduledPlan = row.scheduledPlanKey ? catalog.find(row.scheduledPlanKey) : undefined;
  const pendingPlan = row.pendingPlanKey ? catalog.find(row.pendingPlanKey) : undefined;
  const plan = catalog.find(row.planKey) ?? catalog.freePlan();
  return {
    id: row.stripeSubscriptionId,
    status: row.status as SubscriptionStatus,
    plan: toPlan(plan),
    seats: toSubscriptionSeats(row, plan),
    interval: row.interval as BillingInterval,
    currentPeriodStart: row.currentPeriodStart,
    currentPeriodEnd: row.currentPeriodEnd,
    cancelAtPeriodEnd: row.cancelAtPeriodEnd,
    canceledAt: row.canceledAt,
    trialEnd: row.trialEnd,
    scheduledChange:
      scheduledPlan && row.scheduledChangeAt
        ? {
            plan: toPlan(scheduledPlan),
            interval: (row.scheduledInterval ?? row.interval) as BillingInterval,
            effectiveAt: row.scheduledChangeAt,
          }
        : null,
    pendingChange:
      pendingPlan && row.pendingChangeExpiresAt
        ? {
            plan: toPlan(pendingPlan),
            interval: (row.pendingInterval ?? row.interval) as BillingInterval,
            expiresAt: row.pendingChangeExpiresAt,
          }
        : null,
  };
}

export function toCustomer(row: BillingCustomer): Customer | null {
  if (!row.stripeCustomerId || row.deletedAt) return null;
  return { id: row.stripeCustomerId, email: row.email, name: row.name, address: row.address };
}

export function toInvoice(row: InvoiceRow): Invoice {
  return {
    id: row.stripeInvoiceId,
    number: row.number,
    status: row.status,
    amountDue: row.amountDue,
    amountPaid: row.amountPaid,
    amountRemaining: row.amountRemaining,
    subscriptionId: row.stripeSubscriptionId,
    amountRefunded: row.amountRefunded,
    currency: row.currency,
    periodStart: row.periodStart,
    periodEnd: row.periodEnd,
    hostedInvoiceUrl: row.hostedInvoiceUrl,
    invoicePdf: row.invoicePdf,
    createdAt: row.stripeCreatedAt,
  };
}

export function toPaymentMethod(row: PaymentMethodRow): PaymentMethod {
  return {
    id: row.stripePaymentMethodId,
    brand: row.brand,
    last4: row.last4,
    expMonth: row.expMonth,
    expYear: row.expYear,
    isDefault: row.isDefault,
  };
}
