/**
 * Everything the page says to the billing service, and nothing else: GraphQL over HTTP for queries and
 * mutations, graphql-ws for the live updates. Only what schema.graphql publishes is used.
 */
import { type Client, createClient } from 'graphql-ws';

export interface PlanView {
  key: string;
  name: string;
  description: string;
  salesLed: boolean;
  trialDays: number;
  prices: Array<{ interval: Interval; amount: number; currency: string }>;
  /** Per metric: refused past the allowance (BLOCK) or billed as overage (BILL_OVERAGE). */
  limits: Array<{ metric: string; overLimit: 'BLOCK' | 'BILL_OVERAGE' }>;
}

export type Interval = 'MONTH' | 'YEAR';

export interface AccountView {
  id: string;
  plan: { key: string; name: string };
  customer: { email: string | null } | null;
  subscription: {
    id: string;
    status: string;
    interval: Interval;
    plan: { key: string; name: string };
    currentPeriodEnd: string | null;
    cancelAtPeriodEnd: boolean;
    trialEnd: string | null;
    scheduledChange: { plan: { name: string }; interval: Interval; effectiveAt: string } | null;
  } | null;
  paymentMethods: Array<{ brand: string | null; last4: string | null; isDefault: boolean }>;
  entitlements: Array<{ feature: string; enabled: boolean; limit: number | null }>;
  usage: UsageView[];
  invoices: {
    nodes: Array<{
      id: string;
      number: string | null;
      status: string;
      amountDue: number;
      amountPaid: number;
      currency: string;
      hostedInvoiceUrl: string | null;
      invoicePdf: string | null;
      createdAt: string;
    }>;
  };
}

export interface UsageView {
  metric: string;
  used: number;
  included: number | null;
  remaining: number | null;
  overage: number;
  periodEnd: string;
}

export interface PreviewView {
  amountDue: number;
  currency: string;
  nextPaymentAt: string | null;
  chargedNow: boolean;
  lines: Array<{ description: string; amount: number }>;
}

/** One fragment for the first load and for every `accountUpdated`, so both render the same way. */
const ACCOUNT_FIELDS = `
  fragment AccountFields on Account {
    id
    plan { key name }
    customer { email }
    subscription {
      id status interval plan { key name } currentPeriodEnd cancelAtPeriodEnd trialEnd
      scheduledChange { plan { name } interval effectiveAt }
    }
    paymentMethods { brand last4 isDefault }
    entitlements { feature enabled limit }
    usage { metric used included remaining overage periodEnd }
    invoices(first: 10) {
      nodes { id number status amountDue amountPaid currency hostedInvoiceUrl invoicePdf createdAt }
    }
  }`;

/** A GraphQL error as the service sends it: `extensions.code` is stable, the message is for people. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export class BillingApi {
  private socket: Client | null = null;
  private firstConnection: Promise<void> | null = null;
  private reconnectListeners: Array<() => void> = [];

  /** `graphqlUrl` may be relative (`/graphql`): the page then talks to the origin that served it. */
  constructor(
    private readonly graphqlUrl: string,
    private readonly token: string,
  ) {}

  private async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await fetch(this.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as {
      data?: T;
      errors?: Array<{ message: string; extensions?: { code?: string } }>;
    };
    const error = body.errors?.[0];
    if (error) throw new ApiError(error.message, error.extensions?.code);
    if (!body.data) throw new ApiError(`The billing service answered ${response.status}`, undefined);
    return body.data;
  }

  async load(): Promise<{ account: AccountView; plans: PlanView[] }> {
    const data = await this.request<{ viewer: AccountView; plans: PlanView[] }>(
      `query BillingPage {
        viewer { ...AccountFields }
        plans { key name description salesLed trialDays prices { interval amount currency } limits { metric overLimit } }
      } ${ACCOUNT_FIELDS}`,
    );
    return { account: data.viewer, plans: data.plans };
  }

  /** What `changePlan` would charge: now for an upgrade, at renewal for a downgrade. */
  async previewChange(planKey: string, interval: Interval): Promise<PreviewView> {
    const data = await this.request<{ previewSubscriptionChange: PreviewView }>(
      `query Preview($input: ChangeSubscriptionInput!) {
        previewSubscriptionChange(input: $input) { amountDue currency nextPaymentAt chargedNow lines { description amount } }
      }`,
      { input: { planKey, interval } },
    );
    return data.previewSubscriptionChange;
  }

  async changePlan(planKey: string, interval: Interval): Promise<void> {
    await this.request(
      `mutation Change($input: ChangeSubscriptionInput!) { changeSubscription(input: $input) { id } }`,
      { input: { planKey, interval } },
    );
  }

  async cancelAtPeriodEnd(): Promise<void> {
    await this.request('mutation { cancelSubscription(input: { atPeriodEnd: true }) { id } }');
  }

  async resume(): Promise<void> {
    await this.request('mutation { resumeSubscription { id } }');
  }

  /** Stripe Checkout for a plan; the caller sends the browser to the answered URL. */
  async checkoutUrl(planKey: string, interval: Interval, withTrial: boolean, base: string): Promise<string> {
    const data = await this.request<{ createCheckoutSession: { url: string } }>(
      `mutation Checkout($input: CreateCheckoutSessionInput!) { createCheckoutSession(input: $input) { url } }`,
      {
        input: {
          planKey,
          interval,
          withTrial,
          // Stripe appends nothing by itself: {CHECKOUT_SESSION_ID} is filled in on the redirect.
          successUrl: `${base}success?session_id={CHECKOUT_SESSION_ID}`,
          cancelUrl: `${base}cancel`,
        },
      },
    );
    return data.createCheckoutSession.url;
  }

  async portalUrl(returnUrl: string): Promise<string> {
    const data = await this.request<{ createPortalSession: { url: string } }>(
      `mutation Portal($input: CreatePortalSessionInput) { createPortalSession(input: $input) { url } }`,
      { input: { returnUrl } },
    );
    return data.createPortalSession.url;
  }

  /** For the success page: reading the session also stores its subscription, without waiting for a webhook. */
  async checkoutSession(
    id: string,
  ): Promise<{ status: string; subscription: { status: string; plan: { name: string } } | null } | null> {
    const data = await this.request<{
      checkoutSession: {
        status: string;
        subscription: { status: string; plan: { name: string } } | null;
      } | null;
    }>(
      'query Session($id: ID!) { checkoutSession(id: $id) { status subscription { status plan { name } } } }',
      {
        id,
      },
    );
    return data.checkoutSession;
  }

  /** Calls `onChange` with the whole account after every billing change; returns the unsubscribe. */
  onAccountUpdated(onChange: (account: AccountView) => void): () => void {
    return this.subscribe<{ accountUpdated: AccountView }>(
      `subscription { accountUpdated { ...AccountFields } } ${ACCOUNT_FIELDS}`,
      (data) => onChange(data.accountUpdated),
    );
  }

  /** Calls `onUsage` whenever the usage of any metric changes. */
  onUsageUpdated(onUsage: (usage: UsageView) => void): () => void {
    return this.subscribe<{ usageUpdated: UsageView }>(
      'subscription { usageUpdated { metric used included remaining overage periodEnd } }',
      (data) => onUsage(data.usageUpdated),
    );
  }

  /** Resolves once the WebSocket is first open and acknowledged: no update after that moment is missed. */
  connected(): Promise<void> {
    this.ws();
    return this.firstConnection as Promise<void>;
  }

  /** After the WebSocket reconnects: updates sent while it was down are lost, so read the account again. */
  onReconnected(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  private subscribe<T>(query: string, next: (data: T) => void): () => void {
    return this.ws().subscribe<T>(
      { query },
      {
        next: (message) => {
          if (message.data) next(message.data as T);
        },
        error: (error) => console.error('billing subscription failed', error),
        complete: () => undefined,
      },
    );
  }

  private ws(): Client {
    if (!this.socket) {
      const url = new URL(this.graphqlUrl, window.location.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      this.socket = createClient({
        url: url.toString(),
        connectionParams: { authorization: `Bearer ${this.token}` },
        // Reconnects after a network blip; every update re-sends the whole account, so none is stale for long.
        retryAttempts: Number.POSITIVE_INFINITY,
        // A ping every 20 s, so proxies do not close a quiet socket.
        keepAlive: 20_000,
        lazy: false,
      });
      let connections = 0;
      const socket = this.socket;
      this.firstConnection = new Promise((resolve) => {
        socket.on('connected', () => {
          connections += 1;
          if (connections === 1) resolve();
          else for (const listener of this.reconnectListeners) listener();
        });
      });
    }
    return this.socket;
  }
}
