import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingPubSub } from '../pubsub/pubsub';
import { CreditEvents } from '../services/credits/credit-events';
import { CreditLedger } from '../services/credits/credit-ledger';
import { CreditPackInvoices } from '../services/credits/credit-pack-invoices';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { Clock } from '../services/time/clock';

/** The credits economy (issue 17): the ledger every grant, purchase, burn and hold goes through. */
export interface CreditServices {
  ledger: CreditLedger;
  /** Packs bought as Stripe invoices: granted when paid, removed when refunded (ADR 0026). */
  packInvoices: CreditPackInvoices;
}

export function buildCreditServices(
  orm: Orm,
  pubSub: BillingPubSub,
  clock: Clock,
  logger: Logger,
  catalog: PlanCatalog,
): CreditServices {
  const events = new CreditEvents(orm, pubSub, clock, logger);
  const ledger = new CreditLedger(orm, clock, events);
  return { ledger, packInvoices: new CreditPackInvoices(orm, clock, ledger, events, catalog, logger) };
}
