import { startTestService, type TestService } from '../support/service';
import { createCustomer, createInvoice, createPaymentMethod, createSubscription } from '../support/factories';

const ACCOUNTS_QUERY = `{
  accounts(first: 100) {
    nodes {
      id
      customer { id email }
      subscription { status plan { key } currentPeriodEnd }
      plan { key }
      entitlements { feature enabled }
      invoices(first: 2) { nodes { id amountDue } pageInfo { hasNextPage endCursor } }
      paymentMethods { last4 isDefault }
    }
  }
}`;

/**
 * Nested fields load through per-request DataLoaders: listing accounts with their subscription, invoices and
 * payment methods runs the same number of SQL statements for 3 accounts as for 60.
 */
describe('accounts(first: 100) with nested billing data', () => {
  let running: TestService;
  const statements: string[] = [];

  beforeAll(async () => {
    running = await startTestService({
      // The mail worker polls the outbox through the same ORM: keep its statements out of the count.
      env: { MAIL_WORKER_INTERVAL_MS: '3600000' },
      onQuery: (message) => {
        // MikroORM logs each statement it runs once, tagged [query].
        if (message.includes('[query]')) statements.push(message);
      },
    });
    // Start-up work in the background (re-provisioning for the catalog) must not land in a count.
    await running.app.catalogProvisioned();
  });
  afterAll(() => running.stop());

  async function seed(count: number): Promise<void> {
    const em = running.app.orm.em.fork();
    for (let index = 0; index < count; index++) {
      const customer = createCustomer(em);
      createSubscription(em, customer);
      for (let invoice = 0; invoice < 3; invoice++) createInvoice(em, customer);
      createPaymentMethod(em, customer, { isDefault: true });
      createPaymentMethod(em, customer);
    }
    await em.flush();
  }

  async function statementsFor(): Promise<{ count: number; accounts: number; sample: unknown }> {
    const token = await running.token('acct_ops', { roles: ['admin'] });
    statements.length = 0;
    const response = await running.graphql<{
      accounts: { nodes: Array<{ invoices: { nodes: unknown[] } }> };
    }>(ACCOUNTS_QUERY, { token });
    expect(response.errors).toBeUndefined();
    return {
      count: statements.length,
      accounts: response.data?.accounts.nodes.length ?? 0,
      sample: response.data?.accounts.nodes[0],
    };
  }

  it('runs a constant number of statements whatever the page size', async () => {
    await seed(3);
    const small = await statementsFor();
    expect(small.accounts).toBe(3);
    expect(small.sample).toMatchObject({
      subscription: { status: 'ACTIVE', plan: { key: 'starter' } },
      plan: { key: 'starter' },
      invoices: {
        nodes: [expect.objectContaining({ amountDue: 1900 }), expect.anything()],
        pageInfo: { hasNextPage: true },
      },
      paymentMethods: [
        { last4: '4242', isDefault: true },
        { last4: '4242', isDefault: false },
      ],
    });

    await seed(57);
    const large = await statementsFor();
    expect(large.accounts).toBe(60);
    expect(large.count).toBe(small.count);
    // accounts, customers, subscriptions, invoices, payment methods: one statement each; entitlements: the
    // feature gate's read of the accounts not cached (their subscriptions, entitlements, current counters'
    // allowances and billing currencies, which price credits beyond the balance) and their usage counters (no Redis
    // here), one statement each.
    expect(large.count).toBe(10);
  });
});
