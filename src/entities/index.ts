import { BillingCustomer } from './billing-customer.entity';
import { CheckoutSessionRecord } from './checkout-session-record.entity';
import { CreditAutoTopUp } from './credit-auto-top-up.entity';
import { CreditLowBalanceAlert } from './credit-low-balance-alert.entity';
import { CreditBalance } from './credit-balance.entity';
import { CreditHold } from './credit-hold.entity';
import { CreditLedgerEntry } from './credit-ledger-entry.entity';
import { CreditLot } from './credit-lot.entity';
import { CreditMemberLimit } from './credit-member-limit.entity';
import { CreditMemberPeriod } from './credit-member-period.entity';
import { CreditSpend } from './credit-spend.entity';
import { CreditTopUpClaim } from './credit-top-up-claim.entity';
import { Dispute } from './dispute.entity';
import { DuplicateSubscription } from './duplicate-subscription.entity';
import { Entitlement } from './entitlement.entity';
import { EntitlementOverride } from './entitlement-override.entity';
import { Invoice } from './invoice.entity';
import { Notification } from './notification.entity';
import { PaymentMethod } from './payment-method.entity';
import { Subscription } from './subscription.entity';
import { SyncCursor } from './sync-cursor.entity';
import { UsageCounter } from './usage-counter.entity';
import { TrialFingerprint } from './trial-fingerprint.entity';
import { UsageRecord } from './usage-record.entity';
import { UsageRecordKey } from './usage-record-key.entity';
import { UsageReservation } from './usage-reservation.entity';
import { WebhookEvent } from './webhook-event.entity';

/** Every entity, listed once: the ORM is configured from this list, not by scanning folders. */
export const ENTITIES = [
  BillingCustomer,
  Subscription,
  Invoice,
  PaymentMethod,
  UsageRecord,
  UsageRecordKey,
  UsageCounter,
  UsageReservation,
  TrialFingerprint,
  WebhookEvent,
  Entitlement,
  EntitlementOverride,
  SyncCursor,
  Notification,
  CheckoutSessionRecord,
  DuplicateSubscription,
  Dispute,
  CreditLot,
  CreditLedgerEntry,
  CreditBalance,
  CreditHold,
  CreditAutoTopUp,
  CreditLowBalanceAlert,
  CreditMemberLimit,
  CreditMemberPeriod,
  CreditSpend,
  CreditTopUpClaim,
];

export {
  BillingCustomer,
  CheckoutSessionRecord,
  CreditAutoTopUp,
  CreditBalance,
  CreditHold,
  CreditLedgerEntry,
  CreditLot,
  CreditLowBalanceAlert,
  CreditMemberLimit,
  CreditMemberPeriod,
  CreditSpend,
  CreditTopUpClaim,
  Dispute,
  DuplicateSubscription,
  Entitlement,
  EntitlementOverride,
  Invoice,
  Notification,
  PaymentMethod,
  Subscription,
  SyncCursor,
  TrialFingerprint,
  UsageCounter,
  UsageRecord,
  UsageRecordKey,
  UsageReservation,
  WebhookEvent,
};
export type { UsageReservationStatus } from './usage-reservation.entity';
export type { PostalAddress } from './billing-customer.entity';
export type { OverLimitRule } from './usage-counter.entity';
export type { NotificationKind, NotificationStatus } from './notification.entity';
export type { BillingInterval, SubscriptionAddon, SubscriptionStatus } from './subscription.entity';
export { LIVE_STATUSES } from './subscription.entity';
export type { WebhookEventStatus } from './webhook-event.entity';
export type { CreditLotKind } from './credit-lot.entity';
export type { CreditEntryKind } from './credit-ledger-entry.entity';
export type { CreditHoldState } from './credit-hold.entity';
