import Stripe from 'stripe';
import { type RunningEmulator, startEmulator } from 'stripe-emulator';

export const TEST_STRIPE_KEY = 'sk_test_coditect_billing_tests';

export interface TestEmulator {
  emulator: RunningEmulator;
  url: string;
  /** The official SDK pointed at the emulator: how tests look at "Stripe's" state. */
  stripe: Stripe;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A fresh in-process Stripe emulator on a random port, and the service settings that point at it. */
export async function startTestEmulator(): Promise<TestEmulator> {
  const emulator = await startEmulator({ port: 0 });
  const stripe = new Stripe(TEST_STRIPE_KEY, { host: '127.0.0.1', port: emulator.port, protocol: 'http' });
  return {
    emulator,
    url: emulator.url,
    stripe,
    env: {
      STRIPE_SECRET_KEY: TEST_STRIPE_KEY,
      STRIPE_API_BASE: emulator.url,
      STRIPE_MAX_REQUESTS_PER_SECOND: '1000',
      // The service reads "now" from the emulator (ADR 0013): moving Stripe's clock moves the service's.
      BILLING_CLOCK: 'emulator',
    },
    close: () => emulator.close(),
  };
}
