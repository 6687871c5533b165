import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingPubSub } from '../pubsub/pubsub';
import { CreditEvents } from '../services/credits/credit-events';
import { CreditLedger } from '../services/credits/credit-ledger';
import { CreditSweep } from '../services/credits/credit-sweep';
import { IncludedCredits, type PlanPeriodSource } from '../services/credits/included-credits';
import { MemberLimits } from '../services/credits/member-limits';
import { TokenReservations } from '../services/credits/token-reservations';
import type { RateCard } from '../services/plans/rate-card';
import type { Clock } from '../services/time/clock';

/** The credits economy (issue 17): the ledger every grant, purchase, burn and hold goes through. */
export interface CreditServices {
  ledger: CreditLedger;
  /** Expiry of lots and holds for accounts nobody is changing (the background work starts and stops it). */
  sweep: CreditSweep;
  /** Members' monthly limits (the ledger's hold enforces them). */
  memberLimits: MemberLimits;
  /** Each usage period's included credits (and rollover), opened once, lazily. */
  included: IncludedCredits;
  /** Model calls priced by the rate card, held, committed or released in the ledger. */
  tokenReservations: TokenReservations;
}

export function buildCreditServices(
  orm: Orm,
  pubSub: BillingPubSub,
  clock: Clock,
  logger: Logger,
  plans: PlanPeriodSource,
  rateCard: RateCard,
): CreditServices {
  const ledger = new CreditLedger(orm, clock, new CreditEvents(orm, pubSub, clock, logger));
  const included = new IncludedCredits(ledger, plans, clock);
  return {
    ledger,
    sweep: new CreditSweep(ledger, logger),
    memberLimits: new MemberLimits(orm, clock),
    included,
    tokenReservations: new TokenReservations(ledger, rateCard, included, clock),
  };
}
