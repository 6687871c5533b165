/**
 * Coupons, promotion codes and the discounts made from them, as one resource module: the routes of
 * `/v1/coupons`, `/v1/promotion_codes` and `DELETE /v1/subscriptions/:id/discount`. Applying discounts to invoices,
 * prorations and previews is called from the billing engine (`amounts.ts`, `invoice-discounts.ts`, `prorations.ts`).
 */
import type { ResourceModule } from '../../core/http';
import type { Emulator } from '../context';
import { couponRoutes } from './coupons';
import { promotionCodeRoutes } from './promotion-codes';
import { subscriptionDiscountRoutes } from './subscription-discounts';

function setup(emulator: Emulator): void {
  // The Coupon object: `applies_to` and `currency_options` are "includable" (returned only when expanded).
  emulator.registerIncludable('coupon', 'applies_to');
  emulator.registerIncludable('coupon', 'currency_options');
}

export const discounts: ResourceModule = {
  routes: [...couponRoutes, ...promotionCodeRoutes, ...subscriptionDiscountRoutes],
  setup,
};
