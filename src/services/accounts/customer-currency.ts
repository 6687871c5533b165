import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingCustomer } from '../../entities';
import { BadUserInputError, CurrencyMismatchError } from '../../errors';
import type { PlanCatalog } from '../plans/plan-catalog';

/**
 * The countries whose currency is the euro (the euro area, with Bulgaria from 1 January 2026:
 * https://european-union.europa.eu/institutions-law-budget/euro/countries-using-euro_en). Their customers pay in
 * EUR when the catalog sells in it and they did not choose another currency.
 */
const EURO_AREA: ReadonlySet<string> = new Set(
  'AT BE BG CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK'.split(' '),
);

/**
 * Which currency an account pays in (ADR 0024, docs/billing-rules.md rows 53–55): chosen once, by the customer's
 * input, else by its billing country, else the catalog's base currency, and kept on the account from its first
 * Checkout or subscription on. Stripe refuses a second currency on one customer while a subscription is live
 * (https://support.stripe.com/questions/set-or-change-currency-for-an-invoice-or-customer-in-stripe-billing); the
 * service refuses any other currency first, always, so a customer never sees its prices change currency.
 */
export class CustomerCurrency {
  constructor(private readonly catalog: PlanCatalog) {}

  /** What the account pays in, or would if it subscribed now without choosing: never writes. */
  of(customer: Pick<BillingCustomer, 'currency' | 'address'> | null): string {
    return customer?.currency ?? this.byCountry(customer?.address?.country ?? null);
  }

  /**
   * The currency of a new Checkout or subscription: the one kept, the one asked for (refused when another is
   * kept: `CURRENCY_MISMATCH`; unknown to the catalog: `BAD_USER_INPUT`), else the billing country's.
   */
  choose(
    customer: Pick<BillingCustomer, 'currency' | 'address'>,
    requested: string | null | undefined,
  ): string {
    const asked = requested?.trim().toLowerCase() || null;
    if (asked !== null && !this.catalog.sellsIn(asked)) {
      throw new BadUserInputError(
        `Prices are in ${this.catalog.currencies.map((code) => code.toUpperCase()).join(' or ')}, not ${asked.toUpperCase()}`,
        'currency',
      );
    }
    if (customer.currency && asked && asked !== customer.currency) {
      throw new CurrencyMismatchError(customer.currency, asked);
    }
    return customer.currency ?? asked ?? this.of(customer);
  }

  /**
   * Keeps the choice on the account: written only where none is kept yet, so two racing first choices leave one,
   * and the loser is refused as a second currency.
   */
  async keep(em: EntityManager, customer: BillingCustomer, currency: string): Promise<void> {
    if (customer.currency === currency) return;
    await em
      .createQueryBuilder(BillingCustomer)
      .update({ currency, updatedAt: new Date() })
      .where({ id: customer.id, currency: null })
      .execute();
    const kept = await em.findOneOrFail(BillingCustomer, { id: customer.id }, { refresh: true });
    if (kept.currency !== currency) throw new CurrencyMismatchError(kept.currency ?? currency, currency);
  }

  private byCountry(country: string | null): string {
    if (country && EURO_AREA.has(country.toUpperCase()) && this.catalog.sellsIn('eur')) return 'eur';
    return this.catalog.baseCurrency;
  }
}
