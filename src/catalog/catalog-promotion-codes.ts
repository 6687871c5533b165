import type Stripe from 'stripe';
import type { PromotionCode } from '../services/plans/plan.types';
import { idOf } from '../services/stripe/expandable';
import { syncKey } from './catalog-keys';
import type { SyncReport } from './catalog-report';

/** Promotion code metadata key naming the catalog code it was made for. */
export const PROMOTION_CODE_METADATA = 'coditect_promotion_code';

/** What a promotion code is bound to and limited by: fixed once created in Stripe. */
interface CodeTerms {
  coupon: string;
  expiresAt: number | null;
  maxRedemptions: number | null;
  firstTimeOnly: boolean;
  minimumAmount: number | null;
  minimumAmountCurrency: string | null;
  /** The minimum in each other currency (`restrictions.currency_options`), e.g. `eur:4500`, sorted. */
  otherMinimums: string;
}

/**
 * Makes the promotion code `code` match the file. Stripe updates only a code's `active`, `metadata` and
 * `restrictions.currency_options` (https://docs.stripe.com/api/promotion_codes/update); its coupon, expiry,
 * redemption limit and restrictions are fixed. So a code whose terms changed is switched off and made again with
 * the same text (Stripe keeps codes unique only among active ones, regardless of case: the PromotionCode
 * object's `code`); the old one keeps its redemptions for the reports. `active: false` in the file switches
 * every active code with that text off.
 */
export async function syncPromotionCode(
  stripe: Stripe,
  promotionCode: PromotionCode,
  currencies: readonly string[],
  report: SyncReport,
): Promise<void> {
  const desired = termsOf(promotionCode, currencies);
  const what = `${promotionCode.code} → coupon ${promotionCode.coupon}${promotionCode.active ? '' : ' (inactive)'}`;
  const existing = await codesWithText(stripe, promotionCode.code);
  const keep = promotionCode.active
    ? (existing.find((code) => code.active && sameTerms(code, desired)) ??
      existing.find((code) => sameTerms(code, desired)))
    : undefined;

  const others = existing.filter((code) => code.active && code.id !== keep?.id);
  for (const other of others) {
    await stripe.promotionCodes.update(
      other.id,
      { active: false },
      { idempotencyKey: syncKey(`promotion-code:deactivate:${other.id}`, { active: false }) },
    );
    report.add(promotionCode.active ? 'archived' : 'updated', 'promotion code', other.id, what);
  }
  if (keep?.active) {
    report.add('unchanged', 'promotion code', keep.id, what);
  } else if (keep) {
    // Switched off by hand (or by an earlier `active: false`); the file offers it again with the same terms.
    await stripe.promotionCodes.update(
      keep.id,
      { active: true },
      { idempotencyKey: syncKey(`promotion-code:reactivate:${keep.id}`, { active: true }) },
    );
    report.add('updated', 'promotion code', keep.id, what);
  } else if (promotionCode.active || existing.length === 0) {
    // An inactive code is made too, so a customer typing it is told it is inactive rather than unknown.
    const params = createParams(promotionCode, desired);
    const after = existing.map((code) => code.id).join(',') || 'none';
    const created = await stripe.promotionCodes.create(params, {
      idempotencyKey: syncKey(`promotion-code:create:${promotionCode.code}:after:${after}`, params),
    });
    report.add('created', 'promotion code', created.id, what);
  } else if (others.length === 0) {
    report.add('unchanged', 'promotion code', existing[0]?.id ?? '', what);
  }
}

/** Every code with this text, active or not (Stripe's list matches `code` regardless of case). */
async function codesWithText(stripe: Stripe, code: string): Promise<Stripe.PromotionCode[]> {
  const found: Stripe.PromotionCode[] = [];
  for await (const promotionCode of stripe.promotionCodes.list({ code, limit: 100 })) {
    if (promotionCode.code.toUpperCase() === code.toUpperCase()) found.push(promotionCode);
  }
  return found;
}

function termsOf(promotionCode: PromotionCode, currencies: readonly string[]): CodeTerms {
  const [currency, ...others] = currencies as [string, ...string[]];
  const minimum = promotionCode.minimumAmounts?.[currency] ?? null;
  return {
    coupon: promotionCode.coupon,
    expiresAt: promotionCode.expiresAt ? Math.floor(promotionCode.expiresAt.getTime() / 1000) : null,
    maxRedemptions: promotionCode.maxRedemptions,
    firstTimeOnly: promotionCode.firstTimeOnly,
    minimumAmount: minimum,
    minimumAmountCurrency: minimum === null ? null : currency,
    otherMinimums: minimumsText(
      Object.fromEntries(
        others.flatMap((other) => {
          const amount = promotionCode.minimumAmounts?.[other];
          return amount === undefined ? [] : [[other, { minimum_amount: amount }]];
        }),
      ),
    ),
  };
}

/** Another currency's minimums as text (Stripe may list the base currency among them too: left out). */
function minimumsText(
  options: Record<string, { minimum_amount?: number }> | null | undefined,
  baseCurrency: string | null = null,
): string {
  return Object.entries(options ?? {})
    .filter(([currency]) => currency !== baseCurrency)
    .map(([currency, option]) => `${currency}:${option.minimum_amount}`)
    .sort()
    .join(',');
}

function sameTerms(code: Stripe.PromotionCode, desired: CodeTerms): boolean {
  return (
    idOf(code.promotion.coupon) === desired.coupon &&
    code.customer === null &&
    code.expires_at === desired.expiresAt &&
    code.max_redemptions === desired.maxRedemptions &&
    code.restrictions.first_time_transaction === desired.firstTimeOnly &&
    code.restrictions.minimum_amount === desired.minimumAmount &&
    minimumsText(code.restrictions.currency_options, code.restrictions.minimum_amount_currency) ===
      desired.otherMinimums &&
    (desired.minimumAmount === null ||
      code.restrictions.minimum_amount_currency === desired.minimumAmountCurrency)
  );
}

function createParams(promotionCode: PromotionCode, terms: CodeTerms): Stripe.PromotionCodeCreateParams {
  return {
    code: promotionCode.code,
    promotion: { type: 'coupon', coupon: terms.coupon },
    active: promotionCode.active,
    ...(terms.expiresAt !== null ? { expires_at: terms.expiresAt } : {}),
    ...(terms.maxRedemptions !== null ? { max_redemptions: terms.maxRedemptions } : {}),
    restrictions: {
      first_time_transaction: terms.firstTimeOnly,
      ...(terms.minimumAmount !== null
        ? {
            minimum_amount: terms.minimumAmount,
            minimum_amount_currency: terms.minimumAmountCurrency ?? undefined,
          }
        : {}),
      // https://docs.stripe.com/api/promotion_codes/create: restrictions.currency_options, the minimum per currency.
      ...(terms.otherMinimums
        ? {
            currency_options: Object.fromEntries(
              terms.otherMinimums.split(',').map((entry) => {
                const [currency = '', amount = '0'] = entry.split(':');
                return [currency, { minimum_amount: Number(amount) }];
              }),
            ),
          }
        : {}),
    },
    metadata: { [PROMOTION_CODE_METADATA]: promotionCode.code },
  };
}
