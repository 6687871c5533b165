/**
 * The billing engine as one resource module: subscriptions, items, schedules, invoices, invoice
 * items, intents, test clocks, Checkout, the customer portal and their hosted pages.
 */
import type Stripe from 'stripe';
import type { ResourceModule, Route } from '../core/http';
import { onCustomerDeleted } from '../resources/customers';
import * as checkout from './checkout';
import * as configRoutes from './config-routes';
import { type Emulator, installTimeOverride } from './ctx';
import * as intents from './intents-routes';
import * as invoices from './invoices-routes';
import { customerIdOf } from './invoices';
import * as portal from './portal';
import * as schedules from './schedules';
import { cancelNow } from './subscriptions';
import * as subscriptions from './subscriptions-routes';
import { onGlobalClock, runDue } from './time/engine';
import * as testClocks from './time/test-clocks';
import * as checkoutPage from '../pages/checkout';
import * as portalPage from '../pages/portal';
import * as invoicePage from '../pages/invoice';
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
    for (const subscription of emulator.store.all<Stripe.Subscription>(COLLECTIONS.subscription)) {
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
