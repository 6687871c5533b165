import type { UsageMetrics } from '../observability/metric-types';
import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingPubSub } from '../pubsub/pubsub';
import { CreditEvents } from '../services/credits/credit-events';
import { CreditLedger } from '../services/credits/credit-ledger';
import { CreditPackInvoices } from '../services/credits/credit-pack-invoices';
import { CreditSweep } from '../services/credits/credit-sweep';
import { IncludedCredits, type PlanPeriodSource } from '../services/credits/included-credits';
import { LowBalanceAlerts } from '../services/credits/low-balance-alerts';
import { MemberLimits } from '../services/credits/member-limits';
import { SpendAlerts } from '../services/credits/spend-alerts';
import { SpendLimits } from '../services/credits/spend-limits';
import { Notifier } from '../services/notifications/notifier';
import { TokenReservations } from '../services/credits/token-reservations';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import { CREDITS_OVERAGE } from '../services/plans/plan.types';
import type { Clock } from '../services/time/clock';

/** The credits economy (issue 17): the ledger every grant, purchase, burn and hold goes through. */
export interface CreditServices {
  ledger: CreditLedger;
  /** Told after every committed change of an account's credits (automatic top-up listens). */
  events: CreditEvents;
  /** Expiry of lots and holds for accounts nobody is changing (the background work starts and stops it). */
  sweep: CreditSweep;
  /** Members' monthly limits (the ledger's hold enforces them). */
  memberLimits: MemberLimits;
  /** Packs bought as Stripe invoices: granted when paid, removed when refunded (ADR 0026). */
  packInvoices: CreditPackInvoices;
  /** Each usage period's included credits (and rollover), opened once, lazily. */
  included: IncludedCredits;
  /** Model calls priced by the rate card, held, committed or released in the ledger. */
  tokenReservations: TokenReservations;
  /** The low-balance mail: told after every committed change of credits, as automatic top-up. */
  lowBalanceAlerts: LowBalanceAlerts;
  /** What an account may owe beyond its plan per period (overage and automatic top-ups). */
  spendLimits: SpendLimits;
}

/** What the credits are built on; `metrics` is told each credit group commit's size (ADR 0028), if given. */
export interface CreditInfrastructure {
  orm: Orm;
  pubSub: BillingPubSub;
  logger: Logger;
  metrics?: Pick<UsageMetrics, 'grouped'>;
}

export function buildCreditServices(
  { orm, pubSub, logger, metrics }: CreditInfrastructure,
  { clock, catalog }: { clock: Clock; catalog: PlanCatalog },
  plans: PlanPeriodSource = NO_PLAN_PERIODS,
): CreditServices {
  const events = new CreditEvents(pubSub, logger);
  const alerts = new SpendAlerts(new Notifier(logger));
  const ledger = new CreditLedger(orm, clock, events, alerts, (size) => metrics?.grouped('credit', size));
  const overagePrice = catalog.meteredPrice(CREDITS_OVERAGE);
  const included = new IncludedCredits(ledger, plans, clock, overagePrice);
  const lowBalanceAlerts = new LowBalanceAlerts(
    orm,
    new Notifier(logger),
    clock,
    logger,
    async (accountId) => (await ledger.balanceOf(accountId)).available,
  );
  events.onBalanceChanged((accountId, available, lowBalance) =>
    lowBalanceAlerts.afterBalanceChange(accountId, available, lowBalance),
  );
  const spendLimits = new SpendLimits(
    orm,
    clock,
    included,
    overagePrice,
    catalog.baseCurrency,
    events,
    alerts,
  );
  return {
    ledger,
    events,
    sweep: new CreditSweep(ledger, logger),
    memberLimits: new MemberLimits(orm, clock),
    packInvoices: new CreditPackInvoices(orm, clock, ledger, events, catalog, logger, spendLimits),
    included,
    tokenReservations: new TokenReservations(ledger, catalog.rateCard, included, clock),
    lowBalanceAlerts,
    spendLimits,
  };
}

/**
 * For processes that build the credits only to reconcile purchases (scripts/stripe-reconcile.ts): no usage gate
 * runs there, so no period can be opened and no model call reserved; asking for one is a programming error.
 */
const NO_PLAN_PERIODS: PlanPeriodSource = {
  allowances: () =>
    Promise.reject(new Error('This process has no usage gate: included credits cannot be opened')),
};
