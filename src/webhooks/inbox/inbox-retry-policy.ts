/**
 * When a Stripe event in the webhook inbox is tried again, and when trying stops.
 *
 * Stripe itself retries a failed delivery "for up to three days with an exponential back off" in live mode
 * (https://docs.stripe.com/webhooks#automatic-retries). The reconciler's retries of the inbox follow the same
 * shape, so an event we cannot apply is given up on about when Stripe gives up on delivering it: its row becomes
 * `dead`, is no longer retried automatically, shows in `billing_webhook_inbox_events{state="dead"}` (alert
 * BillingWebhookEventsDead) and waits for a person (`webhookEvents(status: DEAD)`, `replayWebhookEvent`).
 */

/** A row still `received` this long after it was stored was left behind by a crash: the reconciler takes it. */
export const STUCK_AFTER_MS = 60_000;

/**
 * Seconds to wait after the n-th failed attempt before the next (the last value repeats): 1 min, 4 min, 16 min,
 * 64 min, about 4 h, then every 12 h. The first nine waits add up to about 54 hours.
 */
export const RETRY_DELAYS_SECONDS: readonly number[] = [60, 240, 960, 3840, 15_360, 43_200];

/** After this many failed attempts (webhook deliveries, reconciler retries and replays together) a row is dead. */
export const MAX_ATTEMPTS = 10;

/** A row that fails this long after it was first stored is dead, however few attempts it had (Stripe's window). */
export const MAX_AGE_MS = 3 * 24 * 60 * 60 * 1000;

/** How long to wait after the `attempts`-th failed attempt (1 for the first failure). */
export function retryDelaySeconds(attempts: number): number {
  const index = Math.min(Math.max(attempts, 1), RETRY_DELAYS_SECONDS.length) - 1;
  return RETRY_DELAYS_SECONDS[index] as number;
}

/** Whether a row that has now failed `attempts` times, first stored at `receivedAt`, is given up on. */
export function isDead(attempts: number, receivedAt: Date, now: Date): boolean {
  return attempts >= MAX_ATTEMPTS || now.getTime() - receivedAt.getTime() >= MAX_AGE_MS;
}

/**
 * How long an event about a customer we cannot link to an account is retried. Past that it is not ours (a
 * customer made by hand in the Stripe Dashboard, say): it is kept as `ignored` with the reason, visible to
 * admins and replayable, instead of failing forever and getting the endpoint disabled by Stripe.
 */
export const UNLINKED_GIVE_UP_MS = 60 * 60 * 1000;
