import * as control from './core/control';
import type { ResourceModule } from './core/http';
import * as dashboard from './pages/dashboard';
import * as customers from './resources/customers';
import * as events from './resources/events';
import * as meterEvents from './resources/meter-events';
import * as meters from './resources/meters';
import * as paymentMethods from './resources/payment-methods';
import * as prices from './resources/prices';
import * as products from './resources/products';
import * as webhookEndpoints from './resources/webhook-endpoints';
import { billing } from './billing/index';
import { chargeResources } from './billing/payments/charge-resources';
import * as authentication from './billing/payments/authentication-routes';
import * as creditResources from './billing/payments/credit-resources';
import { discounts } from './billing/discounts/index';
import * as taxRates from './resources/tax-rates';
import * as taxIds from './resources/tax-ids';
import * as taxSettings from './billing/tax/tax-settings';

/**
 * Every module the emulator serves, in setup order. To add a resource: write a file exporting
 * `routes` (and optionally `setup`), import it above, and append it to this list.
 * Append only; don't reorder (several people add lines here).
 */
export const modules: ResourceModule[] = [
  control,
  dashboard,
  customers,
  products,
  prices,
  paymentMethods,
  meters,
  meterEvents,
  events,
  webhookEndpoints,
  // billing engine modules go below this line
  billing,
  chargeResources,
  authentication,
  creditResources,
  discounts,
  taxRates,
  taxIds,
  taxSettings,
];
