import type Stripe from 'stripe';

/**
 * Every collection the store holds, in one list. A public collection is named for the Stripe `object` it keeps
 * (`customer`, `billing.meter`: what `expand` and the dashboard look up); a private one, the emulator's own
 * bookkeeping, starts with `_` and is never served. The names are written into `--data` files: never rename one.
 */
export const COLLECTIONS = {
  // Core resources
  customer: 'customer',
  deleted: '_deleted',
  product: 'product',
  price: 'price',
  paymentMethod: 'payment_method',
  card: 'card',
  /** How a test card behaves when charged (declines, disputes), by payment method id. */
  paymentMethodBehavior: '_pm_behavior',
  meter: 'billing.meter',
  meterEvent: '_meter_event',
  meterEventIdentifier: '_meter_event_identifier',
  testClock: 'test_helpers.test_clock',
  event: 'event',
  webhookEndpoint: 'webhook_endpoint',
  webhookSecret: '_webhook_secret',
  webhookDelivery: '_webhook_delivery',
  // Billing
  subscription: 'subscription',
  subscriptionItem: 'subscription_item',
  schedule: 'subscription_schedule',
  invoice: 'invoice',
  invoiceItem: 'invoiceitem',
  invoicePayment: 'invoice_payment',
  paymentIntent: 'payment_intent',
  setupIntent: 'setup_intent',
  charge: 'charge',
  refund: 'refund',
  dispute: 'dispute',
  creditNote: 'credit_note',
  customerBalanceTransaction: 'customer_balance_transaction',
  checkoutSession: 'checkout.session',
  portalConfiguration: 'billing_portal.configuration',
  portalSession: 'billing_portal.session',
  /** The billing engine's state per subscription. */
  subscriptionState: '_billing_sub_state',
  /** Invoice numbering per customer. */
  numbering: '_billing_numbering',
  /** Which invoice a payment intent pays. */
  paymentIntentLink: '_billing_pi_link',
  /** When each metered subscription item started counting usage. */
  meteredItemSince: '_metered_item_since',
  /** What a Checkout Session was created with beyond Stripe's fields. */
  checkoutExtras: '_billing_checkout_extras',
  /** Cards whose 3-D Secure challenge the customer just passed on a hosted page: the payment it was for asks no more. */
  authenticationApproval: '_authentication_approval',
  /** A hosted Checkout page waiting for the customer's answer to the card's 3-D Secure challenge, by session id. */
  checkoutAuthentication: '_checkout_authentication',
  /** Portal plan switches that wait for the period end. */
  portalSwitchSchedule: '_portal_switch_schedule',
  // Discounts
  coupon: 'coupon',
  promotionCode: 'promotion_code',
  discount: 'discount',
  /** Deleted coupons, kept because the discounts made from them go on (see `billing/discounts/coupons.ts`). */
  deletedCoupon: '_deleted_coupon',
} as const;

export type CollectionName = (typeof COLLECTIONS)[keyof typeof COLLECTIONS];

/** Anything the store keeps: Stripe objects and the emulator's private records alike. */
export interface Storable {
  id: string;
}

/**
 * What each collection holds, so a read is typed by its collection and not by each caller. Stripe's own objects
 * are listed here; a module that owns a private record adds its collection next to the record's type
 * (`declare module '…/core/collections'`), so the core never imports the modules built on it.
 */
export interface CollectionRecords {
  customer: Stripe.Customer;
  product: Stripe.Product;
  price: Stripe.Price;
  payment_method: Stripe.PaymentMethod;
  card: Stripe.Card;
  'billing.meter': Stripe.Billing.Meter;
  'test_helpers.test_clock': Stripe.TestHelpers.TestClock;
  webhook_endpoint: Stripe.WebhookEndpoint;
  subscription: Stripe.Subscription;
  subscription_item: Stripe.SubscriptionItem;
  subscription_schedule: Stripe.SubscriptionSchedule;
  invoice: Stripe.Invoice;
  invoiceitem: Stripe.InvoiceItem;
  invoice_payment: Stripe.InvoicePayment;
  payment_intent: Stripe.PaymentIntent;
  setup_intent: Stripe.SetupIntent;
  charge: Stripe.Charge;
  refund: Stripe.Refund;
  dispute: Stripe.Dispute;
  credit_note: Stripe.CreditNote;
  customer_balance_transaction: Stripe.CustomerBalanceTransaction;
  'checkout.session': Stripe.Checkout.Session;
  'billing_portal.configuration': Stripe.BillingPortal.Configuration;
  'billing_portal.session': Stripe.BillingPortal.Session;
  _portal_switch_schedule: Storable;
  coupon: Stripe.Coupon;
  promotion_code: Stripe.PromotionCode;
  discount: Stripe.Discount;
  _deleted_coupon: Stripe.Coupon;
}

/** A record of a collection whose name is known only at run time (expand, the dashboard). */
export type AnyRecord = Storable & Record<string, unknown>;

/** The record type of a collection. */
export type RecordOf<K extends string> = K extends keyof CollectionRecords ? CollectionRecords[K] : AnyRecord;
