/**
 * Cross-checks of `coupons:` and `promotionCodes:` in plans/plans.yaml: what one entry's schema cannot see (the
 * coupon a code names, the plans a coupon names, the catalog's currencies). Each issue carries the entry's path,
 * so the loader names its line.
 */

import type { Coupon, Plan, PromotionCode } from './plan.types';
import { checkAmountsPerCurrency } from './currency.checks';

type Fail = (path: Array<string | number>, message: string) => void;

/** What the checks read of the file (as the catalog's types name them). */
interface CheckedPromotions {
  currencies: string[];
  plans: Array<Pick<Plan, 'key' | 'productKey'>>;
  coupons: Array<
    Pick<Coupon, 'id' | 'percentOff' | 'amountsOff' | 'duration' | 'durationInMonths' | 'plans' | 'redeemBy'>
  >;
  promotionCodes: Array<Pick<PromotionCode, 'code' | 'coupon' | 'expiresAt' | 'minimumAmounts'>>;
}

export function checkPromotions(file: CheckedPromotions, fail: Fail): void {
  const couponIds = new Map<string, CheckedPromotions['coupons'][number]>();
  file.coupons.forEach((coupon, index) => {
    const at = (...rest: string[]) => ['coupons', index, ...rest];
    if (couponIds.has(coupon.id)) fail(at('id'), `coupon id ${coupon.id} is used twice`);
    couponIds.set(coupon.id, coupon);
    checkCouponTerms(coupon, file.currencies, at, fail);
    checkCouponPlans(coupon, file.plans, at, fail);
  });

  const codes = new Set<string>();
  file.promotionCodes.forEach((promotionCode, index) => {
    const at = (...rest: string[]) => ['promotionCodes', index, ...rest];
    // Stripe matches codes regardless of case, and keeps active codes unique that way (the PromotionCode object).
    const folded = promotionCode.code.toUpperCase();
    if (codes.has(folded)) fail(at('code'), `code ${promotionCode.code} is used twice (regardless of case)`);
    codes.add(folded);
    const coupon = couponIds.get(promotionCode.coupon);
    if (!coupon) fail(at('coupon'), `coupon ${promotionCode.coupon} is not declared under coupons`);
    // https://docs.stripe.com/api/promotion_codes/create: `expires_at` "cannot be after the coupon's redeem_by".
    const redeemBy = coupon?.redeemBy;
    if (redeemBy && promotionCode.expiresAt && promotionCode.expiresAt > redeemBy) {
      fail(
        at('expiresAt'),
        `is after its coupon's redeemBy (${redeemBy.toISOString()}): Stripe refuses that`,
      );
    }
    if (promotionCode.minimumAmounts) {
      checkAmountsPerCurrency(promotionCode.minimumAmounts, file.currencies, at('minimumAmounts'), fail);
    }
  });
}

type At = (...rest: string[]) => Array<string | number>;

function checkCouponTerms(
  coupon: CheckedPromotions['coupons'][number],
  currencies: readonly string[],
  at: At,
  fail: Fail,
): void {
  if ((coupon.percentOff === null) === (coupon.amountsOff === null)) {
    fail(at(), `coupon ${coupon.id} needs exactly one of percentOff or amountsOff`);
  }
  if (coupon.amountsOff) checkAmountsPerCurrency(coupon.amountsOff, currencies, at('amountsOff'), fail);
  // https://docs.stripe.com/api/coupons/create: duration_in_months is "Required only if duration is repeating".
  if (coupon.duration === 'repeating' && coupon.durationInMonths === null) {
    fail(at('durationInMonths'), `coupon ${coupon.id} repeats: say for how many months (durationInMonths)`);
  }
  if (coupon.duration !== 'repeating' && coupon.durationInMonths !== null) {
    fail(
      at('durationInMonths'),
      `durationInMonths is only for duration: repeating (this one is ${coupon.duration})`,
    );
  }
}

/** A plan restriction becomes the coupon's `applies_to.products`: only plans with a Stripe product can be named. */
function checkCouponPlans(
  coupon: CheckedPromotions['coupons'][number],
  plans: CheckedPromotions['plans'],
  at: At,
  fail: Fail,
): void {
  const seen = new Set<string>();
  coupon.plans.forEach((planKey, planIndex) => {
    const plan = plans.find((candidate) => candidate.key === planKey);
    const path = [...at('plans'), planIndex];
    if (!plan) fail(path, `plan ${planKey} is not declared under plans`);
    else if (!plan.productKey)
      fail(path, `plan ${planKey} has no Stripe product, so nothing of it can be discounted`);
    if (seen.has(planKey)) fail(path, `plan ${planKey} is listed twice`);
    seen.add(planKey);
  });
}
