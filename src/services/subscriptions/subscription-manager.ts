import type { EntityManager } from '@mikro-orm/postgresql';
import type { BillingCustomer, Subscription } from '../../entities';
import type { AccountProfile } from '../accounts/customer-manager';
import type { ChangeSubscriptionRequest, InvoicePreviewResult, PlanChanges } from './plan-changes';
import type { SubscriptionCancellation } from './subscription-cancellation';
import type { CreateSubscriptionRequest, SubscriptionCreation } from './subscription-creation';
import type { SubscriptionStore } from './subscription-store';

/** The parts of the lifecycle, each its own service (built by the composition root). */
export interface SubscriptionLifecycle {
  store: SubscriptionStore;
  creation: SubscriptionCreation;
  changes: PlanChanges;
  cancellation: SubscriptionCancellation;
}

/**
 * The subscription lifecycle as the API offers it: create (with a card, or a trial), change plan or interval
 * (`PlanChanges`), preview a change, cancel, resume, end a trial (`SubscriptionCancellation`). One live
 * subscription per account. Every change goes to Stripe first, then into our table, then out to live
 * subscribers; no database transaction is held open across a Stripe call.
 *
 * What each choice costs is `docs/billing-rules.md`; the rules that decide it are in the parts: one trial per
 * account and per card (`SubscriptionCreation`); customers downgrade and switch interval at the period end, an
 * admin may force a downgrade now, only an admin may change without charging the difference (`PlanChanges`); a
 * sales-led subscription changes only through an admin (`PlanRules`); cancelling now reports the period's
 * overage first and bills it on the final invoice (`SubscriptionCancellation`).
 */
export class SubscriptionManager {
  constructor(private readonly lifecycle: SubscriptionLifecycle) {}

  /** The account's live subscription (trialing, active, past due, …), or null. */
  live(em: EntityManager, accountId: string): Promise<Subscription | null> {
    return this.lifecycle.store.live(em, accountId);
  }

  create(
    em: EntityManager,
    profile: AccountProfile,
    request: CreateSubscriptionRequest,
    options: { asAdmin?: boolean } = {},
  ): Promise<Subscription> {
    return this.lifecycle.creation.create(em, profile, request, options);
  }

  /** Shows what a change would cost, without making it. */
  preview(
    em: EntityManager,
    accountId: string,
    request: ChangeSubscriptionRequest,
  ): Promise<InvoicePreviewResult> {
    return this.lifecycle.changes.preview(em, accountId, request);
  }

  change(
    em: EntityManager,
    accountId: string,
    request: ChangeSubscriptionRequest,
    options: { asAdmin?: boolean } = {},
  ): Promise<Subscription> {
    return this.lifecycle.changes.change(em, accountId, request, options);
  }

  cancel(
    em: EntityManager,
    accountId: string,
    when: { atPeriodEnd?: boolean } = {},
    options: { asAdmin?: boolean } = {},
  ): Promise<Subscription> {
    return this.lifecycle.cancellation.cancel(em, accountId, when, options);
  }

  resume(em: EntityManager, accountId: string, options: { asAdmin?: boolean } = {}): Promise<Subscription> {
    return this.lifecycle.cancellation.resume(em, accountId, options);
  }

  endTrial(em: EntityManager, accountId: string): Promise<Subscription> {
    return this.lifecycle.cancellation.endTrial(em, accountId);
  }

  /** Reads the account's subscription from Stripe and stores it (used after checkout and on demand). */
  refresh(em: EntityManager, customer: BillingCustomer, stripeSubscriptionId: string): Promise<Subscription> {
    return this.lifecycle.store.refresh(em, customer, stripeSubscriptionId);
  }
}
