import type Stripe from 'stripe';
import type { Orm } from '../../database/database';
import type { Logger } from '../../logging/logger';
import type { PlanCatalog } from '../plans/plan-catalog';
import { idOf } from '../stripe/expandable';
import type { Clock } from '../time/clock';
import { inLockedAccount } from './credit-account';
import type { CreditEvents } from './credit-events';
import type { CreditLedger } from './credit-ledger';
import type { CreditSource, GrantResult } from './credit-ledger.types';
import { type PackInvoice, packInvoiceOf } from './credit-pack-sale';
import { type PackRefundResult, removeRefundedShare } from './credit-pack-refunds';
import { topUpAttemptOf, voidUnpaidTopUp } from './waiting-top-ups';
import type { StripeClient } from '../stripe/stripe-client';

const DAY_MS = 24 * 3600 * 1000;

/**
 * Credits bought as Stripe invoices (ADR 0026): a pack's paid invoice grants its credits, once, whichever way it was
 * paid (Checkout, the saved card, the hosted invoice page after 3-D Secure) and whoever sees it first (the webhook,
 * the purchase's own read, the reconciler); a refund of it removes what is left of them (docs/credits.md, "Buying
 * credits"). The source of a pack's lot is its invoice: `stripe_invoice` + `in_…`.
 */
export class CreditPackInvoices {
  constructor(
    private readonly orm: Orm,
    private readonly clock: Clock,
    private readonly ledger: CreditLedger,
    private readonly events: CreditEvents,
    private readonly catalog: PlanCatalog,
    private readonly logger: Logger,
    /** The spend limit's part: a top-up's invoice voided unpaid gives its amount back (spend-limits.ts). */
    private readonly topUps: {
      giveBackTopUp(accountId: string, attempt: number): Promise<void>;
    } | null = null,
  ) {}

  /**
   * Grants a paid pack invoice's credits to `accountId` (the owner of the invoice's customer). Anything else (not a
   * pack, not paid yet, or a pack invoice naming another account) grants nothing and answers null.
   */
  async grantPaid(invoice: Stripe.Invoice, accountId: string): Promise<GrantResult | null> {
    const sold = this.soldTo(invoice, accountId);
    if (!sold || invoice.status !== 'paid') return null;
    const pack = this.catalog.findCreditPack(sold.packKey);
    const paidAt = invoice.status_transitions?.paid_at ?? invoice.created;
    const expiresAt = pack?.expiresAfterDays
      ? new Date(paidAt * 1000 + pack.expiresAfterDays * DAY_MS)
      : null;
    // A pack that expires, paid so long ago that it already has (a reconciler catching up): nothing to grant.
    if (expiresAt && expiresAt.getTime() <= this.clock.now().getTime()) return null;
    return this.ledger.grant({
      accountId,
      kind: 'purchase',
      credits: sold.credits,
      expiresAt,
      reason: `Bought ${pack?.name ?? sold.packKey}`,
      source: invoiceSource(invoice),
      actor: 'stripe',
    });
  }

  /**
   * A refund of a pack invoice's payment (`amountRefunded`, all refunds so far, of `invoice.amount_paid`): a full
   * refund removes every unspent credit of the pack; a partial one floor(credits × refunded / paid), less what earlier
   * refunds removed, never more than is left. What was spent stays spent. Idempotent: replays remove nothing more.
   */
  async refunded(
    invoice: Stripe.Invoice,
    accountId: string,
    amountRefunded: number,
  ): Promise<PackRefundResult | null> {
    const sold = this.soldTo(invoice, accountId);
    if (!sold || amountRefunded <= 0 || invoice.amount_paid <= 0) return null;
    const source = invoiceSource(invoice);
    const target =
      amountRefunded >= invoice.amount_paid
        ? sold.credits
        : Math.floor((sold.credits * amountRefunded) / invoice.amount_paid);
    const { value, figures, autoTopUp } = await inLockedAccount(
      this.orm,
      accountId,
      this.clock.now(),
      (account) => removeRefundedShare(account, source, target, amountRefunded, invoice.currency),
    );
    if (figures) await this.events.balanceChanged(accountId, figures, autoTopUp);
    return value;
  }

  /**
   * The webhook's way in: `grantPaid` for the account the invoice's Stripe customer belongs to, outside the event's
   * transaction (the ledger commits on its own; a retry finds the grant). A customer not linked to an account yet
   * grants nothing here: the event's own effect waits for it (RetryLater) and comes back.
   */
  async grantPaidInvoice(invoice: Stripe.Invoice): Promise<GrantResult | null> {
    if (!packInvoiceOf(invoice.metadata)) return null;
    const accountId = await this.ownerOf(invoice);
    return accountId ? this.grantPaid(invoice, accountId) : null;
  }

  /**
   * The webhooks' way in (`charge.refunded`, `credit_note.created`): `refunded` for the invoice's account, as
   * `grantPaidInvoice`, with what was given back in all, to the card or to the balance (row 85): asked only of a
   * pack's invoice, since reading it costs Stripe calls.
   */
  async refundedInvoice(
    invoice: Stripe.Invoice,
    givenBack: () => Promise<number>,
  ): Promise<PackRefundResult | null> {
    if (!packInvoiceOf(invoice.metadata)) return null;
    const accountId = await this.ownerOf(invoice);
    return accountId ? this.refunded(invoice, accountId, await givenBack()) : null;
  }

  /**
   * The webhooks' way in for `invoice.voided` and `invoice.marked_uncollectible` (billing-rules row 111): an
   * automatic top-up's invoice closed unpaid gives its amount back to the spend limit, once per attempt (the
   * purchase's own void of a declined pack, or `setAutoTopUp` off, gave it back already: nothing more). One marked
   * uncollectible is voided at Stripe first: it could otherwise still be paid late, its credits granted beyond
   * the spend it no longer counts in. Answers the invoice as it is now.
   */
  async closedUnpaid(invoice: Stripe.Invoice, stripe: StripeClient): Promise<Stripe.Invoice> {
    const attempt = topUpAttemptOf(invoice);
    if (attempt === null || !this.topUps || !packInvoiceOf(invoice.metadata)) return invoice;
    const accountId = await this.ownerOf(invoice);
    if (!accountId || !this.soldTo(invoice, accountId)) return invoice;
    const now =
      invoice.status === 'uncollectible' ? await voidUnpaidTopUp(stripe, invoice.id as string) : invoice;
    if (now.status === 'void') await this.topUps.giveBackTopUp(accountId, attempt);
    return now;
  }

  private async ownerOf(invoice: Stripe.Invoice): Promise<string | null> {
    const [row] = await this.orm.em
      .getConnection()
      .execute<Array<{ account_id: string }>>(
        'select account_id from billing_customer where stripe_customer_id = ? and deleted_at is null',
        [idOf(invoice.customer)],
      );
    return row?.account_id ?? null;
  }

  private soldTo(invoice: Stripe.Invoice, accountId: string): PackInvoice | null {
    const sold = packInvoiceOf(invoice.metadata);
    if (sold && sold.accountId !== accountId) {
      // Only this service writes the metadata; another account's name on it is a bug to look at, never a grant.
      this.logger.error(
        { invoiceId: invoice.id, accountId, named: sold.accountId },
        'a credit pack invoice names another account than its customer’s: nothing granted',
      );
      return null;
    }
    return sold;
  }
}

export function invoiceSource(invoice: Pick<Stripe.Invoice, 'id'>): CreditSource {
  return { type: 'stripe_invoice', id: invoice.id as string };
}
