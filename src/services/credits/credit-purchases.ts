import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { BillingCustomer } from '../../entities';
import { BillingError, ErrorCode } from '../../errors';
import type { CustomerCurrency } from '../accounts/customer-currency';
import type { CustomerManager } from '../accounts/customer-manager';
import type { InvoiceSync } from '../invoices/invoice-sync';
import type { PlanCatalog } from '../plans/plan-catalog';
import { idOf } from '../stripe/expandable';
import { AUTO_TOP_UP_METADATA } from '../stripe/metadata-keys';
import type { PriceDirectory } from '../stripe/price-directory';
import type { StripeClient } from '../stripe/stripe-client';
import { REQUIRES_ACTION } from '../stripe/stripe-errors';
import type { TaxPolicy } from '../tax/tax-policy';
import type { Clock } from '../time/clock';
import type { CreditLedger } from './credit-ledger';
import type { CreditBalanceView } from './credit-ledger.types';
import type { PackCharge } from './auto-top-up';
import type { CreditPackInvoices } from './credit-pack-invoices';
import { type PackSale, packSaleOf } from './credit-pack-sale';
import { topUpAttemptOf, voidUnpaidTopUp } from './waiting-top-ups';
import { listAll } from '../stripe/all-pages';

export interface CreditPurchaseRequest {
  packKey: string;
  /** The same key again (within Stripe's 24 hours) is the same purchase: one invoice, one charge. */
  idempotencyKey?: string | null;
  /** Set by automatic top-up: marks the invoice, whose failure is then mailed by automatic top-up alone. */
  autoTopUpAttempt?: number;
}

/** The bank's approval a purchase waits for: the pack's open invoice, approved on Stripe's hosted page. */
export interface PurchaseApproval {
  url: string;
  invoiceId: string;
  amountDue: number;
  currency: string;
}

export interface CreditPurchaseView {
  status: 'paid' | 'requires_action';
  credits: number;
  /** The invoice's total (tax included), in minor units of `currency`. */
  amount: number;
  currency: string;
  invoiceId: string;
  pendingAction: PurchaseApproval | null;
  /** The account's credits after the purchase (the pack included once paid). */
  balance: CreditBalanceView;
}

/**
 * A credit pack charged now to the account's saved default card, as a Stripe invoice (ADR 0026): a draft with the
 * pack's one item only, finalized and paid off-session. Paid, its credits are granted at once through the same path
 * as `invoice.paid` (so the answer shows them, and the webhook adds nothing). When the bank asks to approve (3-D
 * Secure) the invoice stays open and is the account's `pendingAction`: approved on the hosted invoice page, its
 * `invoice.paid` grants. A decline voids the invoice (nothing is owed) and answers CARD_DECLINED. Every Stripe call
 * carries a key derived from the caller's idempotency key: a retry or a concurrent twin replays the first answers.
 */
export class CreditPurchases {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly catalog: PlanCatalog,
    private readonly prices: PriceDirectory,
    private readonly currencies: CustomerCurrency,
    private readonly tax: TaxPolicy,
    private readonly invoices: InvoiceSync,
    private readonly packInvoices: CreditPackInvoices,
    private readonly ledger: CreditLedger,
    private readonly clock: Clock,
  ) {}

  async purchase(
    em: EntityManager,
    accountId: string,
    request: CreditPurchaseRequest,
  ): Promise<CreditPurchaseView> {
    const customer = await this.customers.find(em, accountId);
    if (!customer?.stripeCustomerId || customer.deletedAt) throw noSavedCard();
    const card = await this.savedCard(customer.stripeCustomerId);
    const sale = withAutoTopUp(
      await packSaleOf(
        em,
        { catalog: this.catalog, currencies: this.currencies, prices: this.prices },
        customer,
        request.packKey,
      ),
      request.autoTopUpAttempt,
    );
    const name = `credits.purchase:${accountId}:${request.idempotencyKey?.trim() || crypto.randomUUID()}`;
    const invoiceId = await this.finalizedInvoice(name, customer.stripeCustomerId, card, sale).catch(
      (error: unknown) => {
        throw keyUsedForAnotherPurchase(error) ?? error;
      },
    );
    let paid: Stripe.Invoice;
    try {
      const params: Stripe.InvoicePayParams = { off_session: true };
      paid = await this.stripe.call(
        'invoices.pay',
        (sdk, options) => sdk.invoices.pay(invoiceId, params, options),
        { name: `${name}:pay`, params: { invoiceId, ...params } },
      );
    } catch (error) {
      if (asksForApproval(error)) return this.awaitingApproval(em, customer, invoiceId, sale);
      await this.stripe.call(
        'invoices.voidInvoice',
        (sdk, options) => sdk.invoices.voidInvoice(invoiceId, {}, options),
        { name: `${name}:void`, params: { invoiceId } },
      );
      throw error;
    }
    await this.packInvoices.grantPaid(paid, accountId);
    await this.invoices.apply(em.fork(), customer, paid, this.clock.now());
    return this.view(paid, sale, null, accountId);
  }

  /**
   * An automatic top-up's invoice still waiting for the customer's bank approval (open: its payment asked for 3-D
   * Secure; `auto_advance` is off, so only the approval pays it), as its charge answered; null when there is none.
   */
  async waitingAutoTopUp(em: EntityManager, accountId: string): Promise<PackCharge | null> {
    const [waiting] = await this.waitingAutoTopUps(em, accountId);
    if (!waiting) return null;
    return {
      status: 'requires_action',
      amount: waiting.amount_remaining,
      currency: waiting.currency,
      pendingAction: waiting.hosted_invoice_url ? { url: waiting.hosted_invoice_url } : null,
    };
  }

  /**
   * Voids the automatic top-ups' invoices still waiting for the bank's approval (the customer turned automatic
   * top-up off: billing-rules row 111); answers the attempts voided, whose amounts leave the spend. One the customer
   * approved meanwhile stays paid, and is not among them.
   */
  async voidWaitingAutoTopUps(em: EntityManager, accountId: string): Promise<number[]> {
    const voided: number[] = [];
    for (const waiting of await this.waitingAutoTopUps(em, accountId)) {
      const attempt = topUpAttemptOf(waiting);
      const now = await voidUnpaidTopUp(this.stripe, waiting.id as string);
      if (attempt !== null && now.status === 'void') voided.push(attempt);
    }
    return voided;
  }

  private async waitingAutoTopUps(em: EntityManager, accountId: string): Promise<Stripe.Invoice[]> {
    const customer = await this.customers.find(em, accountId);
    if (!customer?.stripeCustomerId) return [];
    // Every page: a customer with more than 100 open invoices (unpaid renewals, packs) would otherwise keep a
    // waiting top-up out of sight, charged against the spend limit after it was turned off.
    const open = await listAll((startingAfter) =>
      this.stripe.call('invoices.list', (sdk) =>
        sdk.invoices.list({
          customer: customer.stripeCustomerId as string,
          status: 'open',
          limit: 100,
          starting_after: startingAfter,
        }),
      ),
    );
    return open.items.filter((invoice) => invoice.metadata?.[AUTO_TOP_UP_METADATA] !== undefined);
  }

  /** The draft with the pack's one item (pending items of the customer stay out of it), finalized. */
  private async finalizedInvoice(
    name: string,
    stripeCustomerId: string,
    card: string,
    sale: PackSale,
  ): Promise<string> {
    const invoiceParams: Stripe.InvoiceCreateParams = {
      customer: stripeCustomerId,
      currency: sale.currency,
      collection_method: 'charge_automatically',
      auto_advance: false,
      pending_invoice_items_behavior: 'exclude',
      default_payment_method: card,
      description: sale.pack.name,
      metadata: sale.metadata,
      ...this.tax.automaticTax(),
    };
    // The caller's key alone names the invoice (not its parameters, as ADR 0008's keys otherwise do): the same key
    // with another pack, or after the default card changed, is then refused by Stripe (idempotency_error,
    // https://docs.stripe.com/api/idempotent_requests) instead of making a second invoice and a second charge.
    const draft = await this.stripe.call(
      'invoices.create',
      (sdk, options) => sdk.invoices.create(invoiceParams, options),
      { name: `${name}:invoice`, params: {} },
    );
    const invoiceId = draft.id as string;
    // `pricing[price]` (the API version pinned by the SDK: InvoiceItemCreateParams.pricing); `currency` picks the
    // price's option in the account's currency.
    const itemParams: Stripe.InvoiceItemCreateParams = {
      customer: stripeCustomerId,
      invoice: invoiceId,
      currency: sale.currency,
      pricing: { price: sale.priceId },
      metadata: sale.metadata,
    };
    await this.stripe.call(
      'invoiceItems.create',
      (sdk, options) => sdk.invoiceItems.create(itemParams, options),
      { name: `${name}:item`, params: itemParams },
    );
    const finalizeParams: Stripe.InvoiceFinalizeInvoiceParams = { auto_advance: false };
    await this.stripe.call(
      'invoices.finalizeInvoice',
      (sdk, options) => sdk.invoices.finalizeInvoice(invoiceId, finalizeParams, options),
      { name: `${name}:finalize`, params: { invoiceId, ...finalizeParams } },
    );
    return invoiceId;
  }

  /** The open invoice is stored as waiting for the customer's approval: the account's `pendingAction` until paid. */
  private async awaitingApproval(
    em: EntityManager,
    customer: BillingCustomer,
    invoiceId: string,
    sale: PackSale,
  ): Promise<CreditPurchaseView> {
    const invoice = await this.stripe.call('invoices.retrieve', (sdk) => sdk.invoices.retrieve(invoiceId));
    const now = this.clock.now();
    await em.fork().transactional(async (tx) => {
      await this.invoices.apply(tx, customer, invoice, now);
      await this.invoices.markActionRequired(tx, invoiceId, now);
    });
    const approval: PurchaseApproval = {
      url: invoice.hosted_invoice_url as string,
      invoiceId,
      amountDue: invoice.amount_remaining,
      currency: invoice.currency,
    };
    return this.view(invoice, sale, approval, customer.accountId);
  }

  private async view(
    invoice: Stripe.Invoice,
    sale: PackSale,
    approval: PurchaseApproval | null,
    accountId: string,
  ): Promise<CreditPurchaseView> {
    return {
      status: approval ? 'requires_action' : 'paid',
      credits: sale.pack.credits,
      amount: invoice.total,
      currency: invoice.currency,
      invoiceId: invoice.id as string,
      pendingAction: approval,
      balance: await this.ledger.balanceOf(accountId),
    };
  }

  /** The card Stripe charges the customer's invoices with; none is NO_SAVED_CARD. */
  private async savedCard(stripeCustomerId: string): Promise<string> {
    const customer = await this.stripe.call('customers.retrieve', (sdk) =>
      sdk.customers.retrieve(stripeCustomerId),
    );
    const card = customer.deleted ? null : idOf(customer.invoice_settings?.default_payment_method);
    if (!card) throw noSavedCard();
    return card;
  }
}

/** Stripe declines an off-session payment the bank wants approved (`authentication_required`). */
function asksForApproval(error: unknown): boolean {
  if (!(error instanceof BillingError)) return false;
  const { code, stripeCode, declineCode } = error.extensions as Record<string, unknown>;
  return (
    code === ErrorCode.AUTHENTICATION_REQUIRED ||
    stripeCode === 'authentication_required' ||
    declineCode === 'authentication_required' ||
    stripeCode === REQUIRES_ACTION
  );
}

/**
 * Stripe refused the purchase's key because an earlier request used it with other parameters (a 400
 * `idempotency_error`; a 409 `idempotency_key_in_use` is a twin still running, which the SDK retries): the caller
 * reused its idempotency key for another purchase. Null for any other failure.
 */
function keyUsedForAnotherPurchase(error: unknown): BillingError | null {
  if (!(error instanceof BillingError)) return null;
  const { stripeType, stripeCode } = error.extensions as Record<string, unknown>;
  if (stripeType !== 'idempotency_error' || stripeCode === 'idempotency_key_in_use') return null;
  return new BillingError(
    ErrorCode.CONFLICT,
    'This idempotencyKey was used for another purchase (another pack, or another card): use a new key for a new purchase',
    { reason: 'IDEMPOTENCY_KEY_REUSED', field: 'idempotencyKey' },
  );
}

function noSavedCard(): BillingError {
  return new BillingError(
    ErrorCode.BAD_USER_INPUT,
    'The account has no saved card to charge: add one with createPaymentMethodSetupSession, or buy the pack with createCreditCheckoutSession',
    { reason: 'NO_SAVED_CARD', field: 'packKey' },
  );
}

/** An automatic top-up's sale: its invoice carries the attempt (`invoice.payment_failed` then sends no mail of its own). */
function withAutoTopUp(sale: PackSale, attempt: number | undefined): PackSale {
  if (attempt === undefined) return sale;
  return { ...sale, metadata: { ...sale.metadata, [AUTO_TOP_UP_METADATA]: String(attempt) } };
}
