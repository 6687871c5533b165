import type Stripe from 'stripe';
import { type BillingStack, type GraphQLCaller, startBillingStack } from '../support/billing-stack';

/**
 * The revenue-integrity scenarios' world: the service with webhooks from its own Stripe emulator, customers that
 * act only through GraphQL (as a frontend and the AI gateway would), and Stripe's invoices read back through the
 * SDK, line by price, to the cent. Time moves on the emulator's clock, and the service follows it.
 */

export const DAY = 24 * 3600;
export const HOUR = 3600;
/** Stripe keeps a renewal a draft this long before it finalizes and charges it. */
export const FINALIZATION_GRACE = HOUR;

export interface InvoiceLine {
  /** The price's lookup key (`price_starter_monthly`, `price_ai_requests_overage`, …), or `item` for an amount. */
  price: string;
  quantity: number | null;
  amount: number;
  proration: boolean;
  /** When the line's service period starts (ms). */
  periodStart: number;
}

export interface InvoiceView {
  id: string;
  billingReason: string | null;
  status: string | null;
  /** ISO 4217, lower case: the currency every amount of the invoice is in. */
  currency: string;
  total: number;
  amountDue: number;
  amountPaid: number;
  lines: InvoiceLine[];
}

export interface World {
  stack: BillingStack;
  customer(accountId: string): Promise<Customer>;
  /** Moves Stripe's clock (and the service's), then waits for every webhook to be delivered. */
  advance(seconds: number): Promise<void>;
  /** Sends every overage due to Stripe's meters now (what the reporter does every minute). */
  reportOverage(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWorld(env: Record<string, string> = {}): Promise<World> {
  const stack = await startBillingStack(
    // Overage is reported when a scenario says so (and before a cancellation), not by a timer in between.
    { USAGE_REPORT_INTERVAL_SECONDS: '3600', RATE_LIMIT_ENABLED: 'false', ...env },
    { webhooks: true },
  );
  const prices = await stack.stripe.prices.list({ limit: 100, active: true });
  const lookupKeyOf = new Map(prices.data.map((price) => [price.id, price.lookup_key ?? price.id]));
  const service = await stack.as('svc_ai_gateway', ['service']);
  const admin = await stack.as('acct_support', ['admin']);
  return {
    stack,
    customer: async (accountId) =>
      new Customer(stack, accountId, await stack.as(accountId), service, admin, lookupKeyOf),
    advance: async (seconds) => {
      await stack.advanceClock(seconds);
      await stack.flushWebhooks();
    },
    reportOverage: async () => {
      await stack.app.overageReporter?.flush();
    },
    stop: () => stack.stop(),
  };
}

type Answer<T> = Awaited<ReturnType<GraphQLCaller>> & { data?: T | null };

/** A customer of one account, acting through GraphQL only. */
export class Customer {
  private sequence = 0;

  constructor(
    private readonly stack: BillingStack,
    readonly accountId: string,
    /** GraphQL as the signed-in user. */
    readonly gql: GraphQLCaller,
    /** GraphQL as the AI gateway (the `service` role). */
    readonly service: GraphQLCaller,
    /** GraphQL as support (the `admin` role). */
    readonly admin: GraphQLCaller,
    private readonly lookupKeyOf: ReadonlyMap<string, string>,
  ) {}

  async subscribe(
    planKey: string,
    options: { interval?: 'MONTH' | 'YEAR'; card?: string | null; trial?: boolean; currency?: string } = {},
  ): Promise<Answer<{ createSubscription: { id: string; status: string } }>> {
    const card = options.card === undefined ? 'pm_card_visa' : options.card;
    return this.gql(
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id status } }',
      {
        input: {
          planKey,
          interval: options.interval ?? 'MONTH',
          withTrial: options.trial ?? false,
          ...(card ? { paymentMethodId: card } : {}),
          ...(options.currency ? { currency: options.currency } : {}),
        },
      },
    );
  }

  /** Records `quantity` AI requests as the gateway would; the answer's errors say if it was refused. */
  async use(quantity: number, metric = 'ai_requests'): Promise<Answer<{ recordUsage: { usage: Usage } }>> {
    this.sequence += 1;
    return this.service(
      'mutation($input: RecordUsageInput!) { recordUsage(input: $input) { usage { used included overage } } }',
      {
        input: {
          accountId: this.accountId,
          metric,
          quantity,
          idempotencyKey: `${this.accountId}-use-${this.sequence}`,
        },
      },
    );
  }

  async change(
    input: Record<string, unknown>,
    as: 'user' | 'admin' = 'user',
  ): Promise<Answer<{ changeSubscription: SubscriptionView }>> {
    const caller = as === 'admin' ? this.admin : this.gql;
    return caller(
      `mutation($input: ChangeSubscriptionInput!) { changeSubscription(input: $input) { ${SUBSCRIPTION} } }`,
      { input: as === 'admin' ? { ...input, accountId: this.accountId } : input },
    );
  }

  async cancel(
    atPeriodEnd: boolean,
    as: 'user' | 'admin' = 'user',
  ): Promise<Answer<{ cancelSubscription: SubscriptionView }>> {
    const caller = as === 'admin' ? this.admin : this.gql;
    return caller(
      `mutation($input: CancelSubscriptionInput) { cancelSubscription(input: $input) { ${SUBSCRIPTION} } }`,
      { input: as === 'admin' ? { atPeriodEnd, accountId: this.accountId } : { atPeriodEnd } },
    );
  }

  async resume(): Promise<Answer<{ resumeSubscription: SubscriptionView }>> {
    return this.gql(`mutation { resumeSubscription { ${SUBSCRIPTION} } }`);
  }

  /** The live subscription's current billing period (ms): what prorations are worked out over. */
  async period(): Promise<{ start: number; end: number }> {
    const answer = await this.gql<{
      viewer: { subscription: { currentPeriodStart: string; currentPeriodEnd: string } | null };
    }>('{ viewer { subscription { currentPeriodStart currentPeriodEnd } } }');
    const subscription = answer.data?.viewer.subscription;
    if (!subscription)
      throw new Error(`${this.accountId} has no subscription: ${JSON.stringify(answer.errors)}`);
    return {
      start: Date.parse(subscription.currentPeriodStart),
      end: Date.parse(subscription.currentPeriodEnd),
    };
  }

  /** `setSeats` with `quantity`, answering the subscription's fields in `selection`. */
  async setSeats<T>(quantity: number, selection: string): Promise<Answer<{ setSeats: T }>> {
    return this.gql(`mutation($input: SetSeatsInput!) { setSeats(input: $input) { ${selection} } }`, {
      input: { quantity },
    });
  }

  async viewer(): Promise<{ plan: string; subscription: SubscriptionView | null; usage: Usage[] }> {
    const answer = await this.gql<{
      viewer: { plan: { key: string }; subscription: SubscriptionView | null; usage: Usage[] };
    }>(`{ viewer { plan { key } subscription { ${SUBSCRIPTION} } usage { metric used included overage } } }`);
    if (answer.errors) throw new Error(JSON.stringify(answer.errors));
    const viewer = answer.data?.viewer as {
      plan: { key: string };
      subscription: SubscriptionView | null;
      usage: Usage[];
    };
    return { plan: viewer.plan.key, subscription: viewer.subscription, usage: viewer.usage };
  }

  async stripeCustomerId(): Promise<string> {
    const customers = await this.stack.stripe.customers.search({
      query: `metadata['account_id']:'${this.accountId}'`,
    });
    const customer = customers.data[0];
    if (!customer) throw new Error(`no Stripe customer for ${this.accountId}`);
    return customer.id;
  }

  /** Every invoice Stripe made for the customer, oldest first, each line named by its price's lookup key. */
  async invoices(): Promise<InvoiceView[]> {
    const listed = await this.stack.stripe.invoices.list({
      customer: await this.stripeCustomerId(),
      limit: 100,
    });
    return listed.data.reverse().map((invoice) => this.viewOf(invoice));
  }

  /** What Stripe charged the customer, in cents, over all its invoices. */
  async totalCharged(): Promise<number> {
    return (await this.invoices()).reduce((sum, invoice) => sum + invoice.amountPaid, 0);
  }

  private viewOf(invoice: Stripe.Invoice): InvoiceView {
    return {
      id: invoice.id as string,
      billingReason: invoice.billing_reason ?? null,
      status: invoice.status ?? null,
      currency: invoice.currency,
      total: invoice.total,
      amountDue: invoice.amount_due,
      amountPaid: invoice.amount_paid,
      lines: invoice.lines.data.map((line) => {
        const price = line.pricing?.price_details?.price;
        const priceId = typeof price === 'string' ? price : price?.id;
        const parent = line.parent;
        return {
          price: priceId ? (this.lookupKeyOf.get(priceId) ?? priceId) : 'item',
          quantity: line.quantity ?? null,
          amount: line.amount,
          proration:
            parent?.subscription_item_details?.proration ?? parent?.invoice_item_details?.proration ?? false,
          periodStart: line.period.start * 1000,
        };
      }),
    };
  }
}

export interface Usage {
  metric: string;
  used: number;
  included: number | null;
  overage: number;
}

export interface SubscriptionView {
  id: string;
  status: string;
  plan: { key: string };
  interval: string;
  cancelAtPeriodEnd: boolean;
  currentPeriodEnd: string | null;
  scheduledChange: { plan: { key: string }; interval: string } | null;
}

const SUBSCRIPTION =
  'id status plan { key } interval cancelAtPeriodEnd currentPeriodEnd scheduledChange { plan { key } interval }';

/** The lines of an invoice that bill `price` (a lookup key), as [quantity, amount] pairs. */
export function linesOf(invoice: InvoiceView, price: string): Array<[number | null, number]> {
  return invoice.lines.filter((line) => line.price === price).map((line) => [line.quantity, line.amount]);
}

/** The invoice whose billing reason is `reason` (the last one, if several). */
export function lastInvoice(invoices: InvoiceView[], reason: string): InvoiceView {
  const found = invoices.filter((invoice) => invoice.billingReason === reason).at(-1);
  if (!found)
    throw new Error(
      `no ${reason} invoice among ${invoices.map((invoice) => invoice.billingReason).join(', ')}`,
    );
  return found;
}

/** The first error code of a GraphQL answer, or null. */
export function codeOf(answer: { errors?: Array<{ extensions?: Record<string, unknown> }> }): unknown {
  return answer.errors?.[0]?.extensions?.code ?? null;
}
