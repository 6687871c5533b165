import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingPubSub } from '../pubsub/pubsub';
import { CreditEvents } from '../services/credits/credit-events';
import { CreditLedger } from '../services/credits/credit-ledger';
import { CreditSweep } from '../services/credits/credit-sweep';
import { MemberLimits } from '../services/credits/member-limits';
import type { Clock } from '../services/time/clock';

/** The credits economy (issue 17): the ledger every grant, purchase, burn and hold goes through. */
export interface CreditServices {
  ledger: CreditLedger;
  /** Expiry of lots and holds for accounts nobody is changing (the background work starts and stops it). */
  sweep: CreditSweep;
  /** Members' monthly limits (the ledger's hold enforces them). */
  memberLimits: MemberLimits;
}

export function buildCreditServices(
  orm: Orm,
  pubSub: BillingPubSub,
  clock: Clock,
  logger: Logger,
): CreditServices {
  const ledger = new CreditLedger(orm, clock, new CreditEvents(orm, pubSub, clock, logger));
  return { ledger, sweep: new CreditSweep(ledger, logger), memberLimits: new MemberLimits(orm, clock) };
}
