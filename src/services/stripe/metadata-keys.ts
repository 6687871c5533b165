/**
 * Metadata keys we write on Stripe objects and read back later. Here, below every domain folder, because the
 * services that write a key and the ones that read it live in different folders.
 */

/** The subscription metadata key that marks a duplicate we cancelled, naming the subscription the account kept. */
export const DUPLICATE_OF_METADATA = 'duplicate_of';

/**
 * Price metadata that gives a subscription item its role (ADR 0024), written by `npm run stripe:sync` and read by
 * `itemRoleOf`: it survives the price's lookup key moving to a new amount. A metered price's role is `overage`.
 */
export const PLAN_PRICE_METADATA = 'coditect_plan';
export const SEATS_PRICE_METADATA = 'coditect_seats_for';
export const ADDON_PRICE_METADATA = 'coditect_addon';
/** Product and price metadata naming the credit pack (plans.yaml `creditPacks`) a one-time price sells. */
export const CREDIT_PACK_METADATA = 'coditect_credit_pack';

/**
 * Invoice metadata (the attempt number) on the credit packs automatic top-up charges: their failure is mailed by
 * automatic top-up alone (`auto_top_up_failed`), so the invoice webhooks send no payment-failed mail of their own.
 */
export const AUTO_TOP_UP_METADATA = 'coditect_auto_top_up';

/** Whether an invoice was charged by automatic top-up (its metadata says so). */
export function isAutoTopUpInvoice(metadata: Record<string, string> | null | undefined): boolean {
  return Boolean(metadata?.[AUTO_TOP_UP_METADATA]);
}
