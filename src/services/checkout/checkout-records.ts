import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { type BillingInterval, CheckoutSessionRecord } from '../../entities';

/** What this service asked Stripe Checkout for: the account, and the plan it was for. */
export interface StartedCheckout {
  stripeSessionId: string;
  accountId: string;
  planKey: string;
  interval: BillingInterval;
  withTrial: boolean;
}

/** Whose a completed Checkout Session is: an account of ours, or nobody's, with the reason. */
export type CheckoutOwner = { accountId: string } | { ignored: string };

/**
 * The Checkout Sessions this service created, and the rule of who a completed session belongs to. Stripe's
 * `client_reference_id` is not proof: anyone can open a Payment Link with `?client_reference_id=<an account>`
 * (https://docs.stripe.com/payment-links/url-parameters), and a session made in the Dashboard carries whatever
 * its author typed. So a session links to an account only when we created it for that account.
 */
export class CheckoutRecords {
  /** Remembers a session we created (idempotent: a replayed create returns the same session id). */
  async record(em: EntityManager, started: StartedCheckout): Promise<void> {
    const now = new Date();
    await em
      .createQueryBuilder(CheckoutSessionRecord)
      .insert({ ...started, id: crypto.randomUUID(), createdAt: now, updatedAt: now })
      .onConflict('stripeSessionId')
      .ignore()
      .execute('run');
  }

  find(em: EntityManager, stripeSessionId: string): Promise<CheckoutSessionRecord | null> {
    return em.findOne(CheckoutSessionRecord, { stripeSessionId });
  }

  /**
   * The account a completed session may be linked to: the one we created it for, and only if the session still
   * names that account (a session whose reference was changed since is not trusted either).
   */
  async ownerOf(em: EntityManager, session: Stripe.Checkout.Session): Promise<CheckoutOwner> {
    const record = await this.find(em, session.id);
    if (!record) return { ignored: `checkout session ${session.id} was not created by this service` };
    const named = session.client_reference_id ?? session.metadata?.account_id ?? null;
    if (named !== record.accountId) {
      return {
        ignored: `checkout session ${session.id} names account ${named ?? '(none)'}, but was created for ${record.accountId}`,
      };
    }
    return { accountId: record.accountId };
  }
}
