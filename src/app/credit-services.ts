import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingPubSub } from '../pubsub/pubsub';
import { CreditEvents } from '../services/credits/credit-events';
import { CreditLedger } from '../services/credits/credit-ledger';
import { CreditPackInvoices } from '../services/credits/credit-pack-invoices';
import { CreditSweep } from '../services/credits/credit-sweep';
import { MemberLimits } from '../services/credits/member-limits';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { Clock } from '../services/time/clock';

/** The credits economy (issue 17): the ledger every grant, purchase, burn and hold goes through. */
export interface CreditServices {
  ledger: CreditLedger;
  /** Expiry of lots and holds for accounts nobody is changing (the background work starts and stops it). */
  sweep: CreditSweep;
  /** Members' monthly limits (the ledger's hold enforces them). */
  memberLimits: MemberLimits;
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
  return {
    ledger,
    sweep: new CreditSweep(ledger, logger),
    memberLimits: new MemberLimits(orm, clock),
    packInvoices: new CreditPackInvoices(orm, clock, ledger, events, catalog, logger),
  };
}
