/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** An add-on to buy, or the new number of units of one the subscription has */
export type AddAddonInput = {
  key: string;
  /** Units (1 by default); more than now charges the rest of the period, fewer take effect at the period end (nothing refunded) */
  quantity?: number | null | undefined;
};

export type AddTaxIdInput = {
  type: TaxIdType;
  /** The number with its country prefix for VAT (DE123456789); Stripe checks it */
  value: string;
};

/** When a plan change takes effect */
export type ApplyAt =
  | 'IMMEDIATELY'
  | 'PERIOD_END';

export type BillingInterval =
  | 'MONTH'
  | 'YEAR';

export type ChangeSubscriptionInput = {
  /** Admin only: change this account’s subscription */
  accountId?: string | null | undefined;
  /** Defaults to IMMEDIATELY for an upgrade, PERIOD_END for a downgrade or a switch of interval. Customers may not downgrade IMMEDIATELY (admins may); nobody switches interval IMMEDIATELY */
  applyAt?: ApplyAt | null | undefined;
  /** Defaults to the current interval */
  interval?: BillingInterval | null | undefined;
  planKey: string;
  /** Defaults to ALWAYS_INVOICE for an upgrade, CREATE_PRORATIONS otherwise; NONE is for admins only */
  prorationBehavior?: ProrationBehavior | null | undefined;
};

export type CreateCheckoutSessionInput = {
  cancelUrl: string;
  /** The currency to pay in (usd, eur). Only the account's first choice counts: once it pays in one, another is refused (CURRENCY_MISMATCH). Default: the one kept, else the billing country's (euro area: eur), else the base */
  currency?: string | null | undefined;
  interval?: BillingInterval;
  planKey: string;
  /** A promotion code, checked before the session is made (PROMOTION_CODE_NOT_APPLICABLE with extensions.reason when it does not apply). Without one, Stripe's page has a box where the customer may type one */
  promotionCode?: string | null | undefined;
  /** Seats wanted in all, included ones counted, for a plan priced per seat (a team buying 7 at once); the seats beyond the included ones are charged with the plan. Default: the included seats */
  seats?: number | null | undefined;
  /** Where Stripe sends the user after paying; session_id is appended */
  successUrl: string;
  /** Start with the plan's trial */
  withTrial?: boolean | null | undefined;
};

export type CreateCreditCheckoutSessionInput = {
  cancelUrl: string;
  /** A pack of `creditPacks`, e.g. credits_10k */
  packKey: string;
  /** Where Stripe sends the user after paying (an allowed origin) */
  successUrl: string;
};

export type CreatePaymentMethodSetupSessionInput = {
  /** Where Stripe sends the user who gives up (allowed origins only) */
  cancelUrl: string;
  /** Where Stripe sends the user once the card is saved (allowed origins only) */
  successUrl: string;
};

export type CreatePortalSessionInput = {
  returnUrl?: string | null | undefined;
};

/** What changed the credits: a grant, purchase, included or rollover adds; the rest take */
export type CreditEntryKind =
  | 'ADJUSTMENT'
  | 'BURN'
  | 'EXPIRY'
  | 'GRANT'
  | 'INCLUDED'
  | 'PURCHASE'
  | 'REFUND'
  | 'ROLLOVER';

export type OverLimitBehavior =
  | 'BILL_OVERAGE'
  | 'BLOCK';

/** What the customer must do: AUTHENTICATE, approve a payment on their bank's 3-D Secure page */
export type PendingActionKind =
  | 'AUTHENTICATE';

/** How a change mid-period is charged: prorations on the next invoice, invoiced now, or not at all */
export type ProrationBehavior =
  | 'ALWAYS_INVOICE'
  | 'CREATE_PRORATIONS'
  | 'NONE';

export type SetAutoTopUpInput = {
  /** Whole credits, 1 to 1,000,000,000 */
  belowCredits: number;
  enabled: boolean;
  packKey: string;
};

export type SetSpendLimitInput = {
  /** Admins only: another account than the caller’s */
  accountId?: string | null | undefined;
  /** The most the account may owe beyond its plan per usage period, in minor units (cents) of its currency, 0 to 1,000,000,000; null removes the limit */
  monthlyCents?: number | null | undefined;
};

/** Stripe's subscription status */
export type SubscriptionStatus =
  | 'ACTIVE'
  | 'CANCELED'
  | 'INCOMPLETE'
  | 'INCOMPLETE_EXPIRED'
  | 'PAST_DUE'
  | 'PAUSED'
  | 'TRIALING'
  | 'UNPAID';

/** Stripe's tax ID types this API takes */
export type TaxIdType =
  | 'au_abn'
  | 'ca_bn'
  | 'ch_vat'
  | 'eu_vat'
  | 'gb_vat'
  | 'no_vat'
  | 'us_ein';

export type AccountFieldsFragment = { id: string, currency: string, plan: { key: string, name: string }, customer: { email: string | null } | null, subscription: { id: string, status: SubscriptionStatus, interval: BillingInterval, currentPeriodEnd: string | null, cancelAtPeriodEnd: boolean, trialEnd: string | null, plan: { key: string, name: string }, scheduledChange: { interval: BillingInterval, effectiveAt: string, plan: { name: string } } | null, seats: { included: number, purchased: number, atPeriodEnd: number | null, maximum: number, taken: number, pricePerSeat: { amount: number, currency: string, interval: BillingInterval } } | null, pendingChange: { expiresAt: string, plan: { name: string } } | null } | null, paymentMethods: Array<{ id: string, brand: string | null, last4: string | null, expMonth: number | null, expYear: number | null, isDefault: boolean }>, pendingAction: { kind: PendingActionKind, url: string, expiresAt: string | null, amountDue: number, currency: string } | null, entitlements: Array<{ feature: string, enabled: boolean, limit: number | null }>, addons: Array<{ key: string, name: string, quantity: number, unitAmount: number, currency: string, interval: BillingInterval, endsAt: string | null, quantityAtPeriodEnd: number | null }>, usage: Array<{ metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodEnd: string }>, invoices: { nodes: Array<{ id: string, number: string | null, status: string, amountDue: number, amountPaid: number, currency: string, hostedInvoiceUrl: string | null, invoicePdf: string | null, createdAt: string }> } };

export type UsageFieldsFragment = { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodEnd: string };

export type BillingPageQueryVariables = Exact<{ [key: string]: never; }>;


export type BillingPageQuery = { viewer: { id: string, currency: string, plan: { key: string, name: string }, customer: { email: string | null } | null, subscription: { id: string, status: SubscriptionStatus, interval: BillingInterval, currentPeriodEnd: string | null, cancelAtPeriodEnd: boolean, trialEnd: string | null, plan: { key: string, name: string }, scheduledChange: { interval: BillingInterval, effectiveAt: string, plan: { name: string } } | null, seats: { included: number, purchased: number, atPeriodEnd: number | null, maximum: number, taken: number, pricePerSeat: { amount: number, currency: string, interval: BillingInterval } } | null, pendingChange: { expiresAt: string, plan: { name: string } } | null } | null, paymentMethods: Array<{ id: string, brand: string | null, last4: string | null, expMonth: number | null, expYear: number | null, isDefault: boolean }>, pendingAction: { kind: PendingActionKind, url: string, expiresAt: string | null, amountDue: number, currency: string } | null, entitlements: Array<{ feature: string, enabled: boolean, limit: number | null }>, addons: Array<{ key: string, name: string, quantity: number, unitAmount: number, currency: string, interval: BillingInterval, endsAt: string | null, quantityAtPeriodEnd: number | null }>, usage: Array<{ metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodEnd: string }>, invoices: { nodes: Array<{ id: string, number: string | null, status: string, amountDue: number, amountPaid: number, currency: string, hostedInvoiceUrl: string | null, invoicePdf: string | null, createdAt: string }> } }, plans: Array<{ key: string, name: string, description: string, salesLed: boolean, trialDays: number, prices: Array<{ interval: BillingInterval, amount: number, currency: string }>, limits: Array<{ metric: string, overLimit: OverLimitBehavior }>, seats: { included: number, prices: Array<{ interval: BillingInterval, amount: number, currency: string }> } | null }>, addons: Array<{ key: string, name: string, description: string, plans: Array<string>, maxQuantity: number, prices: Array<{ interval: BillingInterval, amount: number, currency: string }> }> };

export type PreviewQueryVariables = Exact<{
  input: ChangeSubscriptionInput;
}>;


export type PreviewQuery = { previewSubscriptionChange: { amountDue: number, currency: string, tax: number, nextPaymentAt: string | null, chargedNow: boolean, reverseCharge: boolean, reverseChargeNote: string | null, lines: Array<{ description: string, amount: number }>, taxLines: Array<{ amount: number, currency: string, ratePercent: string, jurisdiction: string | null, name: string }> } };

export type ChangeMutationVariables = Exact<{
  input: ChangeSubscriptionInput;
}>;


export type ChangeMutation = { changeSubscription: { id: string } };

export type CancelAtPeriodEndMutationVariables = Exact<{ [key: string]: never; }>;


export type CancelAtPeriodEndMutation = { cancelSubscription: { id: string } };

export type ResumeMutationVariables = Exact<{ [key: string]: never; }>;


export type ResumeMutation = { resumeSubscription: { id: string } };

export type CheckoutMutationVariables = Exact<{
  input: CreateCheckoutSessionInput;
}>;


export type CheckoutMutation = { createCheckoutSession: { url: string | null } };

export type ApplyPromotionCodeMutationVariables = Exact<{
  code: string;
}>;


export type ApplyPromotionCodeMutation = { applyPromotionCode: { id: string, discount: { code: string | null, percentOff: number | null, amountOff: number | null, currency: string | null, duration: string, endsAt: string | null } | null } };

export type AddAddonMutationVariables = Exact<{
  input: AddAddonInput;
}>;


export type AddAddonMutation = { addAddon: { id: string } };

export type RemoveAddonMutationVariables = Exact<{
  key: string;
}>;


export type RemoveAddonMutation = { removeAddon: { id: string } };

export type PortalMutationVariables = Exact<{
  input?: CreatePortalSessionInput | null | undefined;
}>;


export type PortalMutation = { createPortalSession: { url: string } };

export type SessionQueryVariables = Exact<{
  id: string;
}>;


export type SessionQuery = { checkoutSession: { status: string, subscription: { status: SubscriptionStatus, plan: { name: string } } | null } | null };

export type AccountUpdatedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type AccountUpdatedSubscription = { accountUpdated: { id: string, currency: string, plan: { key: string, name: string }, customer: { email: string | null } | null, subscription: { id: string, status: SubscriptionStatus, interval: BillingInterval, currentPeriodEnd: string | null, cancelAtPeriodEnd: boolean, trialEnd: string | null, plan: { key: string, name: string }, scheduledChange: { interval: BillingInterval, effectiveAt: string, plan: { name: string } } | null, seats: { included: number, purchased: number, atPeriodEnd: number | null, maximum: number, taken: number, pricePerSeat: { amount: number, currency: string, interval: BillingInterval } } | null, pendingChange: { expiresAt: string, plan: { name: string } } | null } | null, paymentMethods: Array<{ id: string, brand: string | null, last4: string | null, expMonth: number | null, expYear: number | null, isDefault: boolean }>, pendingAction: { kind: PendingActionKind, url: string, expiresAt: string | null, amountDue: number, currency: string } | null, entitlements: Array<{ feature: string, enabled: boolean, limit: number | null }>, addons: Array<{ key: string, name: string, quantity: number, unitAmount: number, currency: string, interval: BillingInterval, endsAt: string | null, quantityAtPeriodEnd: number | null }>, usage: Array<{ metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodEnd: string }>, invoices: { nodes: Array<{ id: string, number: string | null, status: string, amountDue: number, amountPaid: number, currency: string, hostedInvoiceUrl: string | null, invoicePdf: string | null, createdAt: string }> } } };

export type UsageUpdatedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type UsageUpdatedSubscription = { usageUpdated: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodEnd: string } };

export type AddCardMutationVariables = Exact<{
  input: CreatePaymentMethodSetupSessionInput;
}>;


export type AddCardMutation = { createPaymentMethodSetupSession: { url: string } };

export type MakeDefaultCardMutationVariables = Exact<{
  id: string;
}>;


export type MakeDefaultCardMutation = { setDefaultPaymentMethod: { id: string } };

export type RemoveCardMutationVariables = Exact<{
  id: string;
}>;


export type RemoveCardMutation = { removePaymentMethod: { id: string } };

export type LineFieldsFragment = { description: string, quantity: number | null, unitAmountDecimal: string | null, amount: number, periodStart: string, periodEnd: string, proration: boolean };

export type TaxFieldsFragment = { reverseCharge: boolean, reverseChargeNote: string | null, taxLines: Array<{ amount: number, currency: string, ratePercent: string, jurisdiction: string | null, name: string }> };

export type TaxLineFieldsFragment = { amount: number, currency: string, ratePercent: string, jurisdiction: string | null, name: string };

export type NextBillQueryVariables = Exact<{ [key: string]: never; }>;


export type NextBillQuery = { viewer: { upcomingInvoice: { date: string | null, subtotal: number, tax: number, total: number, amountDue: number, currency: string, reverseCharge: boolean, reverseChargeNote: string | null, lines: Array<{ description: string, quantity: number | null, unitAmountDecimal: string | null, amount: number, periodStart: string, periodEnd: string, proration: boolean }>, taxLines: Array<{ amount: number, currency: string, ratePercent: string, jurisdiction: string | null, name: string }> } | null } };

export type TaxIdsQueryVariables = Exact<{ [key: string]: never; }>;


export type TaxIdsQuery = { viewer: { customer: { taxIds: Array<{ id: string, type: string, value: string, verification: string | null }> } | null } };

export type AddTaxIdMutationVariables = Exact<{
  input: AddTaxIdInput;
}>;


export type AddTaxIdMutation = { addTaxId: { id: string } };

export type RemoveTaxIdMutationVariables = Exact<{
  id: string;
}>;


export type RemoveTaxIdMutation = { removeTaxId: boolean };

export type InvoiceDetailsQueryVariables = Exact<{
  id: string;
}>;


export type InvoiceDetailsQuery = { viewer: { invoice: { subtotal: number, discount: number, tax: number, total: number, reverseCharge: boolean, reverseChargeNote: string | null, amountPaid: number, amountRemaining: number, creditedAfterPayment: number, currency: string, invoice: { id: string, number: string | null }, taxLines: Array<{ amount: number, currency: string, ratePercent: string, jurisdiction: string | null, name: string }>, lines: Array<{ description: string, quantity: number | null, unitAmountDecimal: string | null, amount: number, periodStart: string, periodEnd: string, proration: boolean }> } | null } };

export type SetSeatsMutationVariables = Exact<{
  quantity: number;
}>;


export type SetSeatsMutation = { setSeats: { id: string } };

export type BalanceFieldsFragment = { credits: number, held: number, available: number, expiringSoon: { credits: number, at: string } | null, spend: { monthlyCents: number | null, currency: string, spentCents: number, remainingCents: number | null, overageBilled: boolean } };

export type SpendLimitFieldsFragment = { monthlyCents: number | null, currency: string, spentCents: number, remainingCents: number | null, overageBilled: boolean };

export type CreditsQueryVariables = Exact<{ [key: string]: never; }>;


export type CreditsQuery = { viewer: { balance: { credits: number, held: number, available: number, expiringSoon: { credits: number, at: string } | null, spend: { monthlyCents: number | null, currency: string, spentCents: number, remainingCents: number | null, overageBilled: boolean } }, autoTopUp: { enabled: boolean, belowCredits: number, packKey: string, lastFailure: string | null } | null, memberUsage: { nodes: Array<{ memberId: string, monthlyCredits: number | null, used: number, remaining: number | null }> }, creditLedger: { nodes: Array<{ id: string, kind: CreditEntryKind, credits: number, reason: string, createdAt: string }> } }, creditPacks: Array<{ key: string, name: string, credits: number, price: { amount: number, currency: string } }> };

export type BalanceUpdatedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type BalanceUpdatedSubscription = { balanceUpdated: { credits: number, held: number, available: number, expiringSoon: { credits: number, at: string } | null, spend: { monthlyCents: number | null, currency: string, spentCents: number, remainingCents: number | null, overageBilled: boolean } } };

export type CreditCheckoutMutationVariables = Exact<{
  input: CreateCreditCheckoutSessionInput;
}>;


export type CreditCheckoutMutation = { createCreditCheckoutSession: { sessionId: string, url: string | null } };

export type AutoTopUpFieldsFragment = { enabled: boolean, belowCredits: number, packKey: string, lastFailure: string | null };

export type SetAutoTopUpMutationVariables = Exact<{
  input: SetAutoTopUpInput;
}>;


export type SetAutoTopUpMutation = { setAutoTopUp: { enabled: boolean, belowCredits: number, packKey: string, lastFailure: string | null } };

export type SetSpendLimitMutationVariables = Exact<{
  input: SetSpendLimitInput;
}>;


export type SetSpendLimitMutation = { setSpendLimit: { monthlyCents: number | null, currency: string, spentCents: number, remainingCents: number | null, overageBilled: boolean } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const UsageFieldsFragmentDoc = new TypedDocumentString(`
    fragment UsageFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodEnd
}
    `, {"fragmentName":"UsageFields"}) as unknown as TypedDocumentString<UsageFieldsFragment, unknown>;
export const AccountFieldsFragmentDoc = new TypedDocumentString(`
    fragment AccountFields on Account {
  id
  currency
  plan {
    key
    name
  }
  customer {
    email
  }
  subscription {
    id
    status
    interval
    plan {
      key
      name
    }
    currentPeriodEnd
    cancelAtPeriodEnd
    trialEnd
    scheduledChange {
      plan {
        name
      }
      interval
      effectiveAt
    }
    seats {
      included
      purchased
      atPeriodEnd
      maximum
      taken
      pricePerSeat {
        amount
        currency
        interval
      }
    }
    pendingChange {
      plan {
        name
      }
      expiresAt
    }
  }
  paymentMethods {
    id
    brand
    last4
    expMonth
    expYear
    isDefault
  }
  pendingAction {
    kind
    url
    expiresAt
    amountDue
    currency
  }
  entitlements {
    feature
    enabled
    limit
  }
  addons {
    key
    name
    quantity
    unitAmount
    currency
    interval
    endsAt
    quantityAtPeriodEnd
  }
  usage {
    ...UsageFields
  }
  invoices(first: 10) {
    nodes {
      id
      number
      status
      amountDue
      amountPaid
      currency
      hostedInvoiceUrl
      invoicePdf
      createdAt
    }
  }
}
    fragment UsageFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodEnd
}`, {"fragmentName":"AccountFields"}) as unknown as TypedDocumentString<AccountFieldsFragment, unknown>;
export const LineFieldsFragmentDoc = new TypedDocumentString(`
    fragment LineFields on InvoiceLine {
  description
  quantity
  unitAmountDecimal
  amount
  periodStart
  periodEnd
  proration
}
    `, {"fragmentName":"LineFields"}) as unknown as TypedDocumentString<LineFieldsFragment, unknown>;
export const TaxLineFieldsFragmentDoc = new TypedDocumentString(`
    fragment TaxLineFields on TaxLine {
  amount
  currency
  ratePercent
  jurisdiction
  name
}
    `, {"fragmentName":"TaxLineFields"}) as unknown as TypedDocumentString<TaxLineFieldsFragment, unknown>;
export const TaxFieldsFragmentDoc = new TypedDocumentString(`
    fragment TaxFields on InvoicePreview {
  taxLines {
    ...TaxLineFields
  }
  reverseCharge
  reverseChargeNote
}
    fragment TaxLineFields on TaxLine {
  amount
  currency
  ratePercent
  jurisdiction
  name
}`, {"fragmentName":"TaxFields"}) as unknown as TypedDocumentString<TaxFieldsFragment, unknown>;
export const SpendLimitFieldsFragmentDoc = new TypedDocumentString(`
    fragment SpendLimitFields on SpendLimit {
  monthlyCents
  currency
  spentCents
  remainingCents
  overageBilled
}
    `, {"fragmentName":"SpendLimitFields"}) as unknown as TypedDocumentString<SpendLimitFieldsFragment, unknown>;
export const BalanceFieldsFragmentDoc = new TypedDocumentString(`
    fragment BalanceFields on CreditBalance {
  credits
  held
  available
  expiringSoon {
    credits
    at
  }
  spend {
    ...SpendLimitFields
  }
}
    fragment SpendLimitFields on SpendLimit {
  monthlyCents
  currency
  spentCents
  remainingCents
  overageBilled
}`, {"fragmentName":"BalanceFields"}) as unknown as TypedDocumentString<BalanceFieldsFragment, unknown>;
export const AutoTopUpFieldsFragmentDoc = new TypedDocumentString(`
    fragment AutoTopUpFields on AutoTopUp {
  enabled
  belowCredits
  packKey
  lastFailure
}
    `, {"fragmentName":"AutoTopUpFields"}) as unknown as TypedDocumentString<AutoTopUpFieldsFragment, unknown>;
export const BillingPageDocument = new TypedDocumentString(`
    query BillingPage {
  viewer {
    ...AccountFields
  }
  plans {
    key
    name
    description
    salesLed
    trialDays
    prices {
      interval
      amount
      currency
    }
    limits {
      metric
      overLimit
    }
    seats {
      included
      prices {
        interval
        amount
        currency
      }
    }
  }
  addons {
    key
    name
    description
    plans
    maxQuantity
    prices {
      interval
      amount
      currency
    }
  }
}
    fragment AccountFields on Account {
  id
  currency
  plan {
    key
    name
  }
  customer {
    email
  }
  subscription {
    id
    status
    interval
    plan {
      key
      name
    }
    currentPeriodEnd
    cancelAtPeriodEnd
    trialEnd
    scheduledChange {
      plan {
        name
      }
      interval
      effectiveAt
    }
    seats {
      included
      purchased
      atPeriodEnd
      maximum
      taken
      pricePerSeat {
        amount
        currency
        interval
      }
    }
    pendingChange {
      plan {
        name
      }
      expiresAt
    }
  }
  paymentMethods {
    id
    brand
    last4
    expMonth
    expYear
    isDefault
  }
  pendingAction {
    kind
    url
    expiresAt
    amountDue
    currency
  }
  entitlements {
    feature
    enabled
    limit
  }
  addons {
    key
    name
    quantity
    unitAmount
    currency
    interval
    endsAt
    quantityAtPeriodEnd
  }
  usage {
    ...UsageFields
  }
  invoices(first: 10) {
    nodes {
      id
      number
      status
      amountDue
      amountPaid
      currency
      hostedInvoiceUrl
      invoicePdf
      createdAt
    }
  }
}
fragment UsageFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodEnd
}`) as unknown as TypedDocumentString<BillingPageQuery, BillingPageQueryVariables>;
export const PreviewDocument = new TypedDocumentString(`
    query Preview($input: ChangeSubscriptionInput!) {
  previewSubscriptionChange(input: $input) {
    amountDue
    currency
    tax
    nextPaymentAt
    chargedNow
    lines {
      description
      amount
    }
    ...TaxFields
  }
}
    fragment TaxFields on InvoicePreview {
  taxLines {
    ...TaxLineFields
  }
  reverseCharge
  reverseChargeNote
}
fragment TaxLineFields on TaxLine {
  amount
  currency
  ratePercent
  jurisdiction
  name
}`) as unknown as TypedDocumentString<PreviewQuery, PreviewQueryVariables>;
export const ChangeDocument = new TypedDocumentString(`
    mutation Change($input: ChangeSubscriptionInput!) {
  changeSubscription(input: $input) {
    id
  }
}
    `) as unknown as TypedDocumentString<ChangeMutation, ChangeMutationVariables>;
export const CancelAtPeriodEndDocument = new TypedDocumentString(`
    mutation CancelAtPeriodEnd {
  cancelSubscription(input: {atPeriodEnd: true}) {
    id
  }
}
    `) as unknown as TypedDocumentString<CancelAtPeriodEndMutation, CancelAtPeriodEndMutationVariables>;
export const ResumeDocument = new TypedDocumentString(`
    mutation Resume {
  resumeSubscription {
    id
  }
}
    `) as unknown as TypedDocumentString<ResumeMutation, ResumeMutationVariables>;
export const CheckoutDocument = new TypedDocumentString(`
    mutation Checkout($input: CreateCheckoutSessionInput!) {
  createCheckoutSession(input: $input) {
    url
  }
}
    `) as unknown as TypedDocumentString<CheckoutMutation, CheckoutMutationVariables>;
export const ApplyPromotionCodeDocument = new TypedDocumentString(`
    mutation ApplyPromotionCode($code: String!) {
  applyPromotionCode(input: {code: $code}) {
    id
    discount {
      code
      percentOff
      amountOff
      currency
      duration
      endsAt
    }
  }
}
    `) as unknown as TypedDocumentString<ApplyPromotionCodeMutation, ApplyPromotionCodeMutationVariables>;
export const AddAddonDocument = new TypedDocumentString(`
    mutation AddAddon($input: AddAddonInput!) {
  addAddon(input: $input) {
    id
  }
}
    `) as unknown as TypedDocumentString<AddAddonMutation, AddAddonMutationVariables>;
export const RemoveAddonDocument = new TypedDocumentString(`
    mutation RemoveAddon($key: String!) {
  removeAddon(key: $key) {
    id
  }
}
    `) as unknown as TypedDocumentString<RemoveAddonMutation, RemoveAddonMutationVariables>;
export const PortalDocument = new TypedDocumentString(`
    mutation Portal($input: CreatePortalSessionInput) {
  createPortalSession(input: $input) {
    url
  }
}
    `) as unknown as TypedDocumentString<PortalMutation, PortalMutationVariables>;
export const SessionDocument = new TypedDocumentString(`
    query Session($id: ID!) {
  checkoutSession(id: $id) {
    status
    subscription {
      status
      plan {
        name
      }
    }
  }
}
    `) as unknown as TypedDocumentString<SessionQuery, SessionQueryVariables>;
export const AccountUpdatedDocument = new TypedDocumentString(`
    subscription AccountUpdated {
  accountUpdated {
    ...AccountFields
  }
}
    fragment AccountFields on Account {
  id
  currency
  plan {
    key
    name
  }
  customer {
    email
  }
  subscription {
    id
    status
    interval
    plan {
      key
      name
    }
    currentPeriodEnd
    cancelAtPeriodEnd
    trialEnd
    scheduledChange {
      plan {
        name
      }
      interval
      effectiveAt
    }
    seats {
      included
      purchased
      atPeriodEnd
      maximum
      taken
      pricePerSeat {
        amount
        currency
        interval
      }
    }
    pendingChange {
      plan {
        name
      }
      expiresAt
    }
  }
  paymentMethods {
    id
    brand
    last4
    expMonth
    expYear
    isDefault
  }
  pendingAction {
    kind
    url
    expiresAt
    amountDue
    currency
  }
  entitlements {
    feature
    enabled
    limit
  }
  addons {
    key
    name
    quantity
    unitAmount
    currency
    interval
    endsAt
    quantityAtPeriodEnd
  }
  usage {
    ...UsageFields
  }
  invoices(first: 10) {
    nodes {
      id
      number
      status
      amountDue
      amountPaid
      currency
      hostedInvoiceUrl
      invoicePdf
      createdAt
    }
  }
}
fragment UsageFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodEnd
}`) as unknown as TypedDocumentString<AccountUpdatedSubscription, AccountUpdatedSubscriptionVariables>;
export const UsageUpdatedDocument = new TypedDocumentString(`
    subscription UsageUpdated {
  usageUpdated {
    ...UsageFields
  }
}
    fragment UsageFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodEnd
}`) as unknown as TypedDocumentString<UsageUpdatedSubscription, UsageUpdatedSubscriptionVariables>;
export const AddCardDocument = new TypedDocumentString(`
    mutation AddCard($input: CreatePaymentMethodSetupSessionInput!) {
  createPaymentMethodSetupSession(input: $input) {
    url
  }
}
    `) as unknown as TypedDocumentString<AddCardMutation, AddCardMutationVariables>;
export const MakeDefaultCardDocument = new TypedDocumentString(`
    mutation MakeDefaultCard($id: ID!) {
  setDefaultPaymentMethod(id: $id) {
    id
  }
}
    `) as unknown as TypedDocumentString<MakeDefaultCardMutation, MakeDefaultCardMutationVariables>;
export const RemoveCardDocument = new TypedDocumentString(`
    mutation RemoveCard($id: ID!) {
  removePaymentMethod(id: $id) {
    id
  }
}
    `) as unknown as TypedDocumentString<RemoveCardMutation, RemoveCardMutationVariables>;
export const NextBillDocument = new TypedDocumentString(`
    query NextBill {
  viewer {
    upcomingInvoice {
      date
      subtotal
      tax
      total
      amountDue
      currency
      lines {
        ...LineFields
      }
      taxLines {
        ...TaxLineFields
      }
      reverseCharge
      reverseChargeNote
    }
  }
}
    fragment LineFields on InvoiceLine {
  description
  quantity
  unitAmountDecimal
  amount
  periodStart
  periodEnd
  proration
}
fragment TaxLineFields on TaxLine {
  amount
  currency
  ratePercent
  jurisdiction
  name
}`) as unknown as TypedDocumentString<NextBillQuery, NextBillQueryVariables>;
export const TaxIdsDocument = new TypedDocumentString(`
    query TaxIds {
  viewer {
    customer {
      taxIds {
        id
        type
        value
        verification
      }
    }
  }
}
    `) as unknown as TypedDocumentString<TaxIdsQuery, TaxIdsQueryVariables>;
export const AddTaxIdDocument = new TypedDocumentString(`
    mutation AddTaxId($input: AddTaxIdInput!) {
  addTaxId(input: $input) {
    id
  }
}
    `) as unknown as TypedDocumentString<AddTaxIdMutation, AddTaxIdMutationVariables>;
export const RemoveTaxIdDocument = new TypedDocumentString(`
    mutation RemoveTaxId($id: ID!) {
  removeTaxId(id: $id)
}
    `) as unknown as TypedDocumentString<RemoveTaxIdMutation, RemoveTaxIdMutationVariables>;
export const InvoiceDetailsDocument = new TypedDocumentString(`
    query InvoiceDetails($id: ID!) {
  viewer {
    invoice(id: $id) {
      invoice {
        id
        number
      }
      subtotal
      discount
      tax
      total
      taxLines {
        ...TaxLineFields
      }
      reverseCharge
      reverseChargeNote
      amountPaid
      amountRemaining
      creditedAfterPayment
      currency
      lines {
        ...LineFields
      }
    }
  }
}
    fragment LineFields on InvoiceLine {
  description
  quantity
  unitAmountDecimal
  amount
  periodStart
  periodEnd
  proration
}
fragment TaxLineFields on TaxLine {
  amount
  currency
  ratePercent
  jurisdiction
  name
}`) as unknown as TypedDocumentString<InvoiceDetailsQuery, InvoiceDetailsQueryVariables>;
export const SetSeatsDocument = new TypedDocumentString(`
    mutation SetSeats($quantity: Int!) {
  setSeats(input: {quantity: $quantity}) {
    id
  }
}
    `) as unknown as TypedDocumentString<SetSeatsMutation, SetSeatsMutationVariables>;
export const CreditsDocument = new TypedDocumentString(`
    query Credits {
  viewer {
    balance {
      ...BalanceFields
    }
    autoTopUp {
      ...AutoTopUpFields
    }
    memberUsage(first: 20) {
      nodes {
        memberId
        monthlyCredits
        used
        remaining
      }
    }
    creditLedger(first: 5) {
      nodes {
        id
        kind
        credits
        reason
        createdAt
      }
    }
  }
  creditPacks {
    key
    name
    credits
    price {
      amount
      currency
    }
  }
}
    fragment BalanceFields on CreditBalance {
  credits
  held
  available
  expiringSoon {
    credits
    at
  }
  spend {
    ...SpendLimitFields
  }
}
fragment SpendLimitFields on SpendLimit {
  monthlyCents
  currency
  spentCents
  remainingCents
  overageBilled
}
fragment AutoTopUpFields on AutoTopUp {
  enabled
  belowCredits
  packKey
  lastFailure
}`) as unknown as TypedDocumentString<CreditsQuery, CreditsQueryVariables>;
export const BalanceUpdatedDocument = new TypedDocumentString(`
    subscription BalanceUpdated {
  balanceUpdated {
    ...BalanceFields
  }
}
    fragment BalanceFields on CreditBalance {
  credits
  held
  available
  expiringSoon {
    credits
    at
  }
  spend {
    ...SpendLimitFields
  }
}
fragment SpendLimitFields on SpendLimit {
  monthlyCents
  currency
  spentCents
  remainingCents
  overageBilled
}`) as unknown as TypedDocumentString<BalanceUpdatedSubscription, BalanceUpdatedSubscriptionVariables>;
export const CreditCheckoutDocument = new TypedDocumentString(`
    mutation CreditCheckout($input: CreateCreditCheckoutSessionInput!) {
  createCreditCheckoutSession(input: $input) {
    sessionId
    url
  }
}
    `) as unknown as TypedDocumentString<CreditCheckoutMutation, CreditCheckoutMutationVariables>;
export const SetAutoTopUpDocument = new TypedDocumentString(`
    mutation SetAutoTopUp($input: SetAutoTopUpInput!) {
  setAutoTopUp(input: $input) {
    ...AutoTopUpFields
  }
}
    fragment AutoTopUpFields on AutoTopUp {
  enabled
  belowCredits
  packKey
  lastFailure
}`) as unknown as TypedDocumentString<SetAutoTopUpMutation, SetAutoTopUpMutationVariables>;
export const SetSpendLimitDocument = new TypedDocumentString(`
    mutation SetSpendLimit($input: SetSpendLimitInput!) {
  setSpendLimit(input: $input) {
    ...SpendLimitFields
  }
}
    fragment SpendLimitFields on SpendLimit {
  monthlyCents
  currency
  spentCents
  remainingCents
  overageBilled
}`) as unknown as TypedDocumentString<SetSpendLimitMutation, SetSpendLimitMutationVariables>;