import { Client } from 'pg';
import Stripe from 'stripe';
import { waitUntil } from './wait';

/**
 * Helpers for the webhook-guarantee suites: the emulator's webhook controls, signed deliveries, and a field-by-field
 * comparison of our database with the emulator's state (over plain SQL, so it works for a child-process service).
 */

export interface WebhookMode {
  order?: 'in_order' | 'reverse' | 'shuffle';
  window?: number;
  window_ms?: number;
  twice?: boolean;
  concurrent?: boolean;
  retry_schedule_ms?: number[];
  timeout_ms?: number;
  reset?: boolean;
}

export async function emulatorPost(emulatorUrl: string, path: string, body: object = {}): Promise<unknown> {
  const response = await fetch(`${emulatorUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`emulator ${path} answered ${response.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : null;
}

export function setWebhookMode(emulatorUrl: string, mode: WebhookMode): Promise<unknown> {
  return emulatorPost(emulatorUrl, '/_emulator/webhooks/mode', mode);
}

/** Waits until every delivery (retries included) succeeded or gave up; fails after `timeoutMs`. */
export async function flushWebhooks(emulatorUrl: string, timeoutMs = 30_000): Promise<void> {
  await emulatorPost(emulatorUrl, '/_emulator/webhooks/flush', { timeout_ms: timeoutMs });
}

/** The emulator clock (unix seconds). */
export async function emulatorNow(emulatorUrl: string): Promise<number> {
  const clock = (await (await fetch(`${emulatorUrl}/_emulator/clock`)).json()) as { now: number };
  return clock.now;
}

/**
 * Waits until the emulator's clock enters a second after the current one and returns that second. Stripe stamps
 * events by the second, so a test that filters "its" events by `created >=` starts in a second of its own, after
 * the previous test's events.
 */
export async function aSecondOfOurOwn(emulatorUrl: string): Promise<number> {
  const startedAt = (await emulatorNow(emulatorUrl)) + 1;
  await waitUntil(
    async () => (await emulatorNow(emulatorUrl)) >= startedAt,
    'the emulator clock ticks',
    3000,
  );
  return startedAt;
}

export interface DeliveryAttempt {
  event: string;
  endpoint: string;
  attempt: number;
  copy: number;
  status: 'succeeded' | 'failed';
  response_code: number | null;
  next_retry_at: number | null;
}

export async function deliveries(emulatorUrl: string): Promise<DeliveryAttempt[]> {
  const body = (await (await fetch(`${emulatorUrl}/_emulator/webhooks/deliveries`)).json()) as
    | DeliveryAttempt[]
    | { data: DeliveryAttempt[] };
  return Array.isArray(body) ? body : body.data;
}

/** The events answered 2xx at least once among `attempts`. */
export function answeredEvents(attempts: readonly DeliveryAttempt[]): Set<string> {
  return new Set(
    attempts.filter((attempt) => attempt.status === 'succeeded').map((attempt) => attempt.event),
  );
}

/** A body and `Stripe-Signature` header exactly as Stripe would send them (signed now, or at `timestamp`). */
export function signEvent(
  event: object,
  secret: string,
  timestamp?: number,
): { body: string; signature: string } {
  const body = JSON.stringify(event);
  return { body, signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp }) };
}

/** A Stripe event as the pinned API version shapes it, about `object`, made up rather than emitted by Stripe. */
export function fakeEvent(
  type: string,
  object: object,
  id = `evt_test_${Math.random().toString(36).slice(2)}`,
): Stripe.Event {
  return {
    id,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  } as unknown as Stripe.Event;
}

export async function postWebhook(
  serviceUrl: string,
  signed: { body: string; signature: string },
): Promise<{ status: number; outcome: string | null }> {
  const response = await fetch(`${serviceUrl}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signed.signature },
    body: signed.body,
  });
  const json = (await response.json().catch(() => ({}))) as { outcome?: string };
  return { status: response.status, outcome: json.outcome ?? null };
}

/** Every event the emulator emitted at or after `since` (unix s), all pages. */
export async function eventsSince(stripe: Stripe, since: number): Promise<Stripe.Event[]> {
  const events: Stripe.Event[] = [];
  for await (const event of stripe.events.list({ created: { gte: since }, limit: 100 })) events.push(event);
  return events;
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
export async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index], index);
    }
  });
  await Promise.all(workers);
}

/**
 * A burst of webhooks: what Stripe emits for new customers (one per account, the account in the metadata, a
 * card that pays) each subscribing to starter monthly and then upgrading to professional, invoiced at once;
 * `concurrency` customers at a time.
 */
export async function subscribeThenUpgrade(
  stripe: Stripe,
  accountIds: readonly string[],
  concurrency: number,
): Promise<void> {
  const [starter, professional] = await Promise.all(
    ['price_starter_monthly', 'price_professional_monthly'].map(
      async (key) => (await stripe.prices.list({ lookup_keys: [key] })).data[0],
    ),
  );
  if (!starter || !professional) throw new Error('the catalog has no starter/professional monthly prices');
  await inParallel(accountIds, concurrency, async (accountId) => {
    const customer = await stripe.customers.create({
      email: `${accountId}@example.com`,
      metadata: { account_id: accountId },
      payment_method: 'pm_card_visa',
      invoice_settings: { default_payment_method: 'pm_card_visa' },
    });
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: starter.id }],
      metadata: { account_id: accountId },
    });
    await stripe.subscriptions.update(subscription.id, {
      items: [{ id: subscription.items.data[0].id, price: professional.id }],
      proration_behavior: 'always_invoice',
    });
  });
}

const seconds = (value: Date | null): number | null => (value ? Math.round(value.getTime() / 1000) : null);

export interface Comparison {
  problems: string[];
  /** How many of each the emulator has (and were compared). */
  compared: { customers: number; subscriptions: number; invoices: number };
}

/**
 * Every difference between the emulator's customers, subscriptions and (non-draft) invoices and our rows, one
 * line each (`problems: []` when the database equals Stripe). Drafts are left out on purpose: the service stores an invoice
 * from `invoice.finalized` on (no handler for `invoice.created`), and the emulator finalizes at once.
 */
export async function differencesFromStripe(stripe: Stripe, databaseUrl: string): Promise<Comparison> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const problems: string[] = [];
  let customerCount = 0;
  let subscriptionCount = 0;
  let invoiceCount = 0;
  try {
    const customers = new Map(
      (
        await db.query<{
          stripe_customer_id: string;
          email: string | null;
          name: string | null;
          deleted_at: Date | null;
        }>(
          'select stripe_customer_id, email, name, deleted_at from billing_customer where stripe_customer_id is not null',
        )
      ).rows.map((row) => [row.stripe_customer_id, row]),
    );
    for await (const customer of stripe.customers.list({ limit: 100 })) {
      customerCount++;
      const row = customers.get(customer.id);
      if (!row) {
        problems.push(`customer ${customer.id}: not in our database`);
        continue;
      }
      compare(problems, `customer ${customer.id}`, {
        email: [row.email, customer.email ?? null],
        name: [row.name, customer.name ?? null],
        deleted: [row.deleted_at !== null, false],
      });
    }
    if (customers.size !== customerCount)
      problems.push(`customers: ${customers.size} rows for ${customerCount} Stripe customers`);

    const subscriptions = new Map(
      (
        await db.query<{
          stripe_subscription_id: string;
          status: string;
          price_id: string | null;
          current_period_start: Date | null;
          current_period_end: Date | null;
          cancel_at_period_end: boolean;
          canceled_at: Date | null;
        }>(
          'select stripe_subscription_id, status, price_id, current_period_start, current_period_end, cancel_at_period_end, canceled_at from subscription',
        )
      ).rows.map((row) => [row.stripe_subscription_id, row]),
    );
    for await (const subscription of stripe.subscriptions.list({ status: 'all', limit: 100 })) {
      subscriptionCount++;
      const row = subscriptions.get(subscription.id);
      if (!row) {
        problems.push(`subscription ${subscription.id}: not in our database`);
        continue;
      }
      // The plan's (licensed) item: metered overage items sit beside it and name no plan.
      const item =
        subscription.items.data.find((candidate) => candidate.price.recurring?.usage_type !== 'metered') ??
        subscription.items.data[0];
      compare(problems, `subscription ${subscription.id}`, {
        status: [row.status, subscription.status],
        price: [row.price_id, item?.price.id ?? null],
        periodStart: [seconds(row.current_period_start), item?.current_period_start ?? null],
        periodEnd: [seconds(row.current_period_end), item?.current_period_end ?? null],
        cancelAtPeriodEnd: [
          row.cancel_at_period_end,
          subscription.cancel_at_period_end || subscription.cancel_at !== null,
        ],
        canceledAt: [seconds(row.canceled_at), subscription.canceled_at ?? null],
      });
    }
    if (subscriptions.size !== subscriptionCount)
      problems.push(`subscriptions: ${subscriptions.size} rows for ${subscriptionCount} in Stripe`);

    const invoices = new Map(
      (
        await db.query<{
          stripe_invoice_id: string;
          status: string;
          amount_due: string;
          amount_paid: string;
          amount_remaining: string;
          currency: string;
          number: string | null;
          stripe_subscription_id: string | null;
        }>(
          'select stripe_invoice_id, status, amount_due, amount_paid, amount_remaining, currency, number, stripe_subscription_id from invoice',
        )
      ).rows.map((row) => [row.stripe_invoice_id, row]),
    );
    for await (const invoice of stripe.invoices.list({ limit: 100 })) {
      if (invoice.status === 'draft') continue;
      invoiceCount++;
      const row = invoices.get(invoice.id as string);
      if (!row) {
        problems.push(`invoice ${invoice.id} (${invoice.status}): not in our database`);
        continue;
      }
      const parent = invoice.parent?.subscription_details?.subscription;
      compare(problems, `invoice ${invoice.id}`, {
        status: [row.status, invoice.status],
        amountDue: [Number(row.amount_due), invoice.amount_due],
        amountPaid: [Number(row.amount_paid), invoice.amount_paid],
        amountRemaining: [Number(row.amount_remaining), invoice.amount_remaining],
        currency: [row.currency, invoice.currency],
        number: [row.number, invoice.number ?? null],
        subscription: [
          row.stripe_subscription_id,
          typeof parent === 'string' ? parent : (parent?.id ?? null),
        ],
      });
    }
    if (invoices.size !== invoiceCount)
      problems.push(`invoices: ${invoices.size} rows for ${invoiceCount} finalized invoices in Stripe`);
  } finally {
    await db.end();
  }
  return {
    problems,
    compared: { customers: customerCount, subscriptions: subscriptionCount, invoices: invoiceCount },
  };
}

function compare(problems: string[], what: string, fields: Record<string, [unknown, unknown]>): void {
  for (const [field, [ours, stripes]] of Object.entries(fields)) {
    if (ours !== stripes)
      problems.push(`${what}: ${field} is ${String(ours)} here, ${String(stripes)} in Stripe`);
  }
}

export interface InboxRow {
  stripe_event_id: string;
  type: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

/**
 * Waits until the service (any process, over its database) has processed the event: its inbox row left
 * `received` and `processing` (ADR 0020: the endpoint answers once the event is stored). Answers the row; fails
 * after `timeoutMs`.
 */
export async function processedRow(
  databaseUrl: string,
  eventId: string,
  timeoutMs = 15_000,
): Promise<InboxRow> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    let row: InboxRow | undefined;
    await waitUntil(
      async () => {
        [row] = (
          await db.query<InboxRow>(
            'select stripe_event_id, type, status, attempts, last_error from webhook_event where stripe_event_id = $1',
            [eventId],
          )
        ).rows;
        return row !== undefined && row.status !== 'received' && row.status !== 'processing';
      },
      `webhook event ${eventId} is processed`,
      timeoutMs,
    );
    return row as InboxRow;
  } finally {
    await db.end();
  }
}

export async function inbox(databaseUrl: string): Promise<InboxRow[]> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return (
      await db.query<InboxRow>(
        'select stripe_event_id, type, status, attempts, last_error from webhook_event',
      )
    ).rows;
  } finally {
    await db.end();
  }
}

/**
 * Checks the inbox against what Stripe emitted: each event stored once, processed (or ignored when we have no
 * handler), nothing failed or left behind, nothing stored that Stripe did not send. Returns the problems.
 */
export function inboxProblems(rows: readonly InboxRow[], emitted: readonly Stripe.Event[]): string[] {
  const problems: string[] = [];
  const byId = new Map<string, InboxRow[]>();
  for (const row of rows) byId.set(row.stripe_event_id, [...(byId.get(row.stripe_event_id) ?? []), row]);
  const emittedIds = new Set(emitted.map((event) => event.id));
  for (const event of emitted) {
    const stored = byId.get(event.id) ?? [];
    if (stored.length !== 1) problems.push(`${event.id} (${event.type}): stored ${stored.length} times`);
    else if (stored[0].status !== 'processed' && stored[0].status !== 'ignored')
      problems.push(`${event.id} (${event.type}): ${stored[0].status} ${stored[0].last_error ?? ''}`);
  }
  for (const row of rows) {
    if (!emittedIds.has(row.stripe_event_id)) problems.push(`${row.stripe_event_id}: stored but not emitted`);
    if (row.status === 'failed') problems.push(`${row.stripe_event_id}: failed (${row.last_error})`);
  }
  return problems;
}
