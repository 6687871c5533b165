/**
 * The account's tax settings as the emulated Stripe Tax reads them (Stripe: Dashboard → Tax settings, or the Tax
 * Settings API https://docs.stripe.com/tax/settings-api: `head_office.address` and `defaults.tax_behavior`).
 * Emulator-only endpoint: `GET/POST /_emulator/tax/settings` with `origin_country` (the seller's country, default
 * IE) and `default_tax_behavior` (`exclusive` | `inclusive`, default exclusive: used for prices whose
 * `tax_behavior` is `unspecified` and for lines without a price). Kept in `store.meta`, reset by `/_emulator/reset`.
 */
import type { Emulator } from '../../core/emulator';
import { invalidRequest } from '../../core/errors';
import type { Route } from '../../core/http';
import { setup as setupCustomerTax } from './customer-tax';

export interface TaxSettings {
  originCountry: string;
  defaultTaxBehavior: 'exclusive' | 'inclusive';
}

const KEY = 'taxSettings';

export const DEFAULT_TAX_SETTINGS: TaxSettings = { originCountry: 'IE', defaultTaxBehavior: 'exclusive' };

export function taxSettings(emulator: Emulator): TaxSettings {
  const stored = emulator.store.meta[KEY] as Partial<TaxSettings> | undefined;
  return { ...DEFAULT_TAX_SETTINGS, ...(stored ?? {}) };
}

function setTaxSettings(emulator: Emulator, patch: Partial<TaxSettings>): TaxSettings {
  const next = { ...taxSettings(emulator), ...patch };
  emulator.store.meta[KEY] = next;
  emulator.store.onChange();
  return next;
}

export const routes: Route[] = [
  { method: 'GET', path: '/_emulator/tax/settings', handler: ({ emulator }) => taxSettings(emulator) },
  {
    method: 'POST',
    path: '/_emulator/tax/settings',
    handler: ({ emulator, input }) => {
      const patch: Partial<TaxSettings> = input.bool('reset') ? { ...DEFAULT_TAX_SETTINGS } : {};
      const origin = input.str('origin_country');
      if (origin !== undefined) {
        if (!/^[A-Za-z]{2}$/.test(origin))
          throw invalidRequest('origin_country must be a two-letter country code', 'origin_country');
        patch.originCountry = origin.toUpperCase();
      }
      const behavior = input.oneOf('default_tax_behavior', ['exclusive', 'inclusive'] as const);
      if (behavior) patch.defaultTaxBehavior = behavior;
      return setTaxSettings(emulator, patch);
    },
  },
];

/** This module's setup: the customer's computed `tax` field. */
export function setup(emulator: Emulator): void {
  setupCustomerTax(emulator);
}
