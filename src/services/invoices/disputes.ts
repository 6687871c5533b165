import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { BillingCustomer, Dispute } from '../../entities';
import type { DisputeMetrics } from '../../observability/metrics';
import type { InvoiceRefunds } from './invoice-refunds';
import type { BillingMails, DisputeNotice } from '../notifications/billing-mails';
import type { StripeClient } from '../stripe/stripe-client';
import { idOf } from '../stripe/expandable';
import { isNoOlderThan } from '../../database/newest-read';

/** A dispute as read from Stripe, with what it is about. */
export interface DisputeRead {
  dispute: Stripe.Dispute;
  stripeCustomerId: string | null;
  stripeInvoiceId: string | null;
}

/**
 * Stripe's documented final statuses of a dispute (https://docs.stripe.com/api/disputes/object#dispute_object-status):
 * `charge.dispute.closed` arrives with one of them.
 */
const CLOSED_STATUSES: ReadonlySet<string> = new Set(['won', 'lost', 'warning_closed', 'prevented']);

/**
 * Chargebacks: each is recorded (`dispute`), the admins are told when it opens and when it closes, and it is
 * counted. Nothing else changes: the account keeps its subscription while people answer the dispute in the
 * Stripe Dashboard (https://docs.stripe.com/disputes/responding); a lost dispute takes the money back, not the
 * plan.
 */
export class Disputes {
  constructor(
    private readonly stripe: StripeClient,
    private readonly refunds: InvoiceRefunds,
    private readonly mails: BillingMails,
    private readonly metrics: DisputeMetrics | null = null,
  ) {}

  /** The dispute as Stripe has it now, its charge's customer, and the invoice the charge paid (outside any transaction). */
  async read(disputeId: string): Promise<DisputeRead> {
    const dispute = await this.stripe.call('disputes.retrieve', (sdk) => sdk.disputes.retrieve(disputeId));
    const chargeId = idOf(dispute.charge) as string;
    const charge = await this.stripe.call('charges.retrieve', (sdk) => sdk.charges.retrieve(chargeId));
    const paymentIntent = idOf(dispute.payment_intent) ?? idOf(charge.payment_intent);
    return {
      dispute,
      stripeCustomerId: idOf(charge.customer),
      stripeInvoiceId: await this.refunds.invoiceOf(paymentIntent),
    };
  }

  /**
   * Stores the dispute (an older read never overwrites a newer one) in the event's transaction, and the first
   * time it is seen open or closed, mails the admins; returns what to count after the commit.
   */
  async record(em: EntityManager, read: DisputeRead, observedAt: Date): Promise<Array<() => void>> {
    const { dispute } = read;
    const customer = read.stripeCustomerId
      ? await em.findOne(BillingCustomer, { stripeCustomerId: read.stripeCustomerId })
      : null;
    const closed = CLOSED_STATUSES.has(dispute.status);
    const fields = {
      accountId: customer?.accountId ?? null,
      stripeChargeId: idOf(dispute.charge) as string,
      stripePaymentIntentId: idOf(dispute.payment_intent),
      stripeInvoiceId: read.stripeInvoiceId,
      amount: dispute.amount,
      currency: dispute.currency,
      reason: dispute.reason,
      status: dispute.status,
      evidenceDueBy: seconds(dispute.evidence_details?.due_by),
      stripeCreatedAt: new Date(dispute.created * 1000),
      stripeUpdatedAt: observedAt,
    };
    const inserted = await em
      .createQueryBuilder(Dispute)
      .insert({
        ...fields,
        id: crypto.randomUUID(),
        stripeDisputeId: dispute.id,
        closedAt: closed ? observedAt : null,
        createdAt: observedAt,
        updatedAt: new Date(),
      })
      .onConflict('stripeDisputeId')
      .ignore()
      .execute('run');
    const opened = inserted.affectedRows > 0;
    const justClosed = opened ? closed : await this.update(em, dispute.id, fields, observedAt);
    const notice = noticeOf(read, fields.accountId);
    const counted: Array<() => void> = [];
    if (opened) {
      await this.mails.disputeOpened(em, notice);
      counted.push(() => this.metrics?.disputeOpened());
    }
    if (justClosed) {
      await this.mails.disputeClosed(em, notice);
      counted.push(() => this.metrics?.disputeClosed(dispute.status));
    }
    return counted;
  }

  /** Updates a known dispute under its row lock; true when this read is the one that saw it close. */
  private async update(
    em: EntityManager,
    stripeDisputeId: string,
    fields: Omit<Dispute, 'id' | 'createdAt' | 'updatedAt' | 'stripeDisputeId' | 'closedAt'>,
    observedAt: Date,
  ): Promise<boolean> {
    const row = await em.findOneOrFail(
      Dispute,
      { stripeDisputeId },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    if (!isNoOlderThan(row, observedAt)) return false;
    Object.assign(row, fields);
    const justClosed = CLOSED_STATUSES.has(fields.status) && row.closedAt === null;
    if (justClosed) row.closedAt = observedAt;
    await em.flush();
    return justClosed;
  }
}

function noticeOf(read: DisputeRead, accountId: string | null): DisputeNotice {
  const { dispute } = read;
  return {
    disputeId: dispute.id,
    chargeId: idOf(dispute.charge) as string,
    accountId,
    invoiceId: read.stripeInvoiceId,
    amount: dispute.amount,
    currency: dispute.currency,
    reason: dispute.reason,
    status: dispute.status,
    evidenceDueBy: seconds(dispute.evidence_details?.due_by),
  };
}

function seconds(value: number | null | undefined): Date | null {
  return typeof value === 'number' ? new Date(value * 1000) : null;
}
