/**
 * The billing engine as one resource module: subscriptions, items, schedules, invoices, invoice
 * items, intents, test clocks, Checkout, the customer portal and their hosted pages.
 */
import type Stripe from 'stripe';
import type { ResourceModule, Route } from '../core/http';
import { onCustomerDeleted } from '../resources/customers';
import * as checkout from './checkout/checkout';
import * as configRoutes from './config/config-routes';
import { type Emulator, installTimeOverride } from './context';
import * as intents from './payments/intents-routes';
import * as invoices from './invoices/invoices-routes';
import { customerIdOf } from './invoices/invoices';
import * as portal from './portal/portal';
import * as schedules from './schedules/schedules';
import { cancelNow } from './subscriptions/subscription-lifecycle';
import * as subscriptions from './subscriptions/subscriptions-routes';
import { onGlobalClock, runDue } from './time/engine';
import * as testClocks from './time/test-clocks';
import * as checkoutPage from './checkout/checkout-page';
import * as portalPage from './portal/portal-page';
import * as invoicePage from './invoices/invoice-page';
import { COLLECTIONS } from '../core/collections';

const routes: Route[] = [
  ...subscriptions.routes,
  ...schedules.routes,
  ...invoices.routes,
  ...intents.routes,
  ...testClocks.routes,
  ...configRoutes.routes,
  ...checkout.routes,
  ...portal.routes,
  ...checkoutPage.routes,
  ...portalPage.routes,
  ...invoicePage.routes,
];

function setup(emulator: Emulator): void {
  // The override must answer before the test-clock source (first source wins).
  installTimeOverride(emulator);
  emulator.addTimeSource((customerId) => testClocks.clockTimeFor(emulator, customerId));
  emulator.registerIncludable('invoice', 'confirmation_secret');
  emulator.registerIncludable('invoice', 'payments');
  emulator.onTimeAdvance(({ to }) => {
    runDue(emulator, onGlobalClock(emulator), to);
  });
  onCustomerDeleted(emulator, (customer: Stripe.Customer) => {
    for (const subscription of emulator.store.all(COLLECTIONS.subscription)) {
      if (
        customerIdOf(subscription) === customer.id &&
        subscription.status !== 'canceled' &&
        subscription.status !== 'incomplete_expired'
      ) {
        cancelNow(emulator, subscription, { invoiceNow: false, prorate: false, reason: null });
      }
    }
  });
  portal.setup(emulator);
  testClocks.finishInterruptedAdvances(emulator);
  checkout.setupCheckout(emulator);
}

export const billing: ResourceModule = { routes, setup };
