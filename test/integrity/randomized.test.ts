import fc from 'fast-check';
import { Subscription, UsageCounter, UsageReservation } from '../../src/entities';
import { setWebhookMode } from '../support/webhook-harness';
import { type Customer, DAY, FINALIZATION_GRACE, startWorld, type World } from './world';

/**
 * Random sequences of what customers can do (subscribe, with or without a trial; use; upgrade; downgrade and
 * switch interval at the period end; cancel now or at the end; resume; reserve without committing), time moving
 * by days, and webhooks delivered twice or out of order, over several accounts. After every run, once every
 * period has closed and been invoiced:
 *
 * - Stripe billed exactly the overage our ledger holds (the use past each period's allowance), nothing lost and
 *   nothing doubled across crashes of order and duplicates;
 * - each period's allowance is what the fees paid for it bought: the plan's, weighed by time across an upgrade
 *   (within one unit per change, for rounding);
 * - no account holds two live subscriptions;
 * - a hard limit held: no blocking counter is past its allowance;
 * - no reservation outlived its time to live: a hold past its expiry never blocks a use.
 *
 * A failure shrinks to the shortest sequence that shows it; its seed and path are printed so it can be replayed
 * (`fc.assert(..., { seed, path })`) and kept as a fixed scenario.
 */

type Action =
  | { kind: 'subscribe'; plan: 'starter' | 'professional'; trial: boolean }
  | { kind: 'use'; quantity: number }
  | { kind: 'upgrade' }
  | { kind: 'downgrade' }
  | { kind: 'switchInterval' }
  | { kind: 'cancelNow' }
  | { kind: 'cancelAtEnd' }
  | { kind: 'resume' }
  | { kind: 'reserveAndForget'; quantity: number };

interface Step {
  account: number;
  action: Action | { kind: 'advance'; days: number };
}

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant('subscribe' as const),
    plan: fc.constantFrom('starter' as const, 'professional' as const),
    trial: fc.boolean(),
  }),
  {
    arbitrary: fc.record({ kind: fc.constant('use' as const), quantity: fc.integer({ min: 1, max: 4000 }) }),
    weight: 4,
  },
  fc.constant({ kind: 'upgrade' as const }),
  fc.constant({ kind: 'downgrade' as const }),
  fc.constant({ kind: 'switchInterval' as const }),
  fc.constant({ kind: 'cancelNow' as const }),
  fc.constant({ kind: 'cancelAtEnd' as const }),
  fc.constant({ kind: 'resume' as const }),
  fc.record({ kind: fc.constant('reserveAndForget' as const), quantity: fc.integer({ min: 1, max: 50 }) }),
);

const ACCOUNTS = 3;
const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ account: fc.integer({ min: 0, max: ACCOUNTS - 1 }), action }), weight: 5 },
  {
    arbitrary: fc.record({
      account: fc.constant(0),
      action: fc.record({ kind: fc.constant('advance' as const), days: fc.integer({ min: 1, max: 20 }) }),
    }),
    weight: 1,
  },
);

describe('randomized: what customers do never gets more use than it pays for', () => {
  let world: World;
  let run = 0;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world.stop());

  async function perform(customer: Customer, action: Action): Promise<void> {
    switch (action.kind) {
      case 'subscribe':
        await customer.subscribe(action.plan, {
          trial: action.trial,
          card: action.trial ? null : 'pm_card_visa',
        });
        return;
      case 'use':
        await customer.use(action.quantity);
        return;
      case 'upgrade':
        await customer.change({ planKey: 'professional' });
        return;
      case 'downgrade':
        await customer.change({ planKey: 'starter' });
        return;
      case 'switchInterval': {
        const current = (await customer.viewer()).subscription;
        if (current)
          await customer.change({
            planKey: current.plan.key,
            interval: current.interval === 'MONTH' ? 'YEAR' : 'MONTH',
          });
        return;
      }
      case 'cancelNow':
        await customer.cancel(false);
        return;
      case 'cancelAtEnd':
        await customer.cancel(true);
        return;
      case 'resume':
        await customer.resume();
        return;
      case 'reserveAndForget':
        // A gateway that crashed after reserving: nobody commits or releases this hold.
        await customer.service(
          'mutation($input: ReserveUsageInput!) { reserveUsage(input: $input) { id } }',
          {
            input: {
              accountId: customer.accountId,
              metric: 'ai_requests',
              quantity: action.quantity,
              ttlSeconds: 600,
            },
          },
        );
        return;
    }
  }

  async function checkInvariants(customers: Customer[]): Promise<void> {
    const em = world.stack.app.orm.em.fork();
    const now = world.stack.app.clock.now();
    for (const customer of customers) {
      // One live subscription at most, in Stripe.
      const stripeCustomer = await customer.stripeCustomerId().catch(() => null);
      if (stripeCustomer) {
        const listed = await world.stack.stripe.subscriptions.list({
          customer: stripeCustomer,
          status: 'all',
          limit: 100,
        });
        const live = listed.data.filter((subscription) =>
          ['active', 'trialing', 'past_due', 'unpaid'].includes(subscription.status),
        );
        expect(live.length).toBeLessThanOrEqual(1);
      }
      const counters = await em.find(UsageCounter, { accountId: customer.accountId, metric: 'ai_requests' });
      // Hard limits held: a blocking counter never passed its allowance (no admin forced a change here).
      for (const counter of counters.filter((row) => row.overLimit === 'block' && row.included !== null))
        expect(counter.used).toBeLessThanOrEqual(counter.included as number);
      // Every invoiced period's overage reached Stripe once, and was billed once. A yearly subscription's monthly
      // slices are billed with its year: those of a year still running are not invoiced yet.
      const years = await em.find(Subscription, { accountId: customer.accountId, interval: 'year' });
      const invoiced = (row: UsageCounter) =>
        row.periodEnd <= now &&
        !years.some(
          (year) =>
            year.currentPeriodStart !== null &&
            year.currentPeriodEnd !== null &&
            year.currentPeriodStart <= row.periodStart &&
            year.currentPeriodEnd > now,
        );
      // What the period's allowance leaves past it, except that overage reported before an upgrade raised the
      // allowance stays billed (it was past the allowance when it was used: docs/billing-rules.md, row 10).
      const billable = counters.filter(
        (row) => row.overLimit === 'bill_overage' && row.included !== null && invoiced(row),
      );
      for (const row of billable) expect(row.overagePending).toBeNull();
      const ledgerOverage = billable.reduce(
        (sum, row) => sum + Math.max(row.overageReported, row.peak - (row.included as number)),
        0,
      );
      const billed = stripeCustomer
        ? (await customer.invoices())
            .flatMap((invoice) => invoice.lines)
            .filter(
              (line) =>
                line.price === 'price_ai_requests_overage' ||
                line.price === 'price_ai_requests_overage_yearly',
            )
            .reduce((sum, line) => sum + line.amount, 0)
        : 0;
      expect(billed).toBe(ledgerOverage);
      if (process.env.INTEGRITY_DEBUG)
        console.log(customer.accountId, {
          billed,
          counters: counters.length,
          charged: stripeCustomer ? await customer.totalCharged() : 0,
        });
      // No hold outlived its time: the service's clock is past every expiry, so none still counts; and a counter's
      // `reserved` is exactly what its reservations still marked held hold (nothing drifts).
      const held = await em.find(UsageReservation, { accountId: customer.accountId, status: 'held' });
      expect(held.filter((reservation) => reservation.expiresAt > now)).toEqual([]);
      for (const counter of counters)
        expect(counter.reserved).toBe(
          held
            .filter((reservation) => reservation.counterId === counter.id)
            .reduce((sum, r) => sum + r.quantity, 0),
        );
      // A period's allowance is what its fees bought, read from what Stripe charged: the plan's whole allowance,
      // or after an upgrade the starter part and the professional part weighed by the time Stripe prorated.
      const upgrades = stripeCustomer
        ? (await customer.invoices())
            .flatMap((invoice) => invoice.lines)
            .filter(
              (line) => line.proration && line.amount > 0 && line.price === 'price_professional_monthly',
            )
        : [];
      for (const counter of counters.filter(
        (row) => row.overLimit === 'bill_overage' && row.included !== null,
      )) {
        const monthly = counter.periodEnd.getTime() - counter.periodStart.getTime() <= 31 * DAY * 1000;
        if (!monthly || counter.planIncluded === null) continue;
        const upgrade = upgrades.find(
          (line) =>
            line.periodStart >= counter.periodStart.getTime() &&
            line.periodStart < counter.periodEnd.getTime(),
        );
        if (!upgrade) {
          expect(counter.included).toBe(counter.planIncluded);
          continue;
        }
        const remaining = upgrade.amount / 4900;
        const paidFor = 1000 * (1 - remaining) + 10_000 * remaining;
        expect(Math.abs((counter.included as number) - paidFor)).toBeLessThanOrEqual(2);
      }
    }
  }

  type Opening = { plan: 'starter' | 'professional'; trial: boolean } | null;

  /** One run: the accounts open as told, the steps happen, every period closes, the invariants are checked. */
  async function runSequence(
    openings: Opening[],
    steps: Step[],
    webhookMode: { twice: boolean; order: 'in_order' | 'shuffle' },
  ): Promise<void> {
    run += 1;
    await setWebhookMode(world.stack.emulator.url, { reset: true, ...webhookMode });
    const customers = await Promise.all(
      Array.from({ length: ACCOUNTS }, (_, index) =>
        world.customer(`acct_random_${run}_${index}_${Date.now().toString(36)}`),
      ),
    );
    for (const [index, opening] of openings.entries())
      if (opening) await perform(customers[index] as Customer, { kind: 'subscribe', ...opening });
    for (const { account, action: next } of steps) {
      if (next.kind === 'advance') {
        // The reporter runs every minute in production: before time jumps, it has reported what is due.
        await world.reportOverage();
        await world.advance(next.days * DAY);
      } else {
        // Stripe bills a cancel-now's usage stamped before the cancel's second (start ≤ t < canceled_at). The test
        // clock stands still between actions, so without this a whole period (subscribe, use, cancel) could fit in
        // its first second, which no customer on real time can do (docs/billing-rules.md, row 16).
        if (next.kind === 'cancelNow') await world.advance(1);
        await perform(customers[account] as Customer, next);
      }
    }
    // Close every period that is open, and let its renewal be finalized and charged.
    await world.reportOverage();
    await world.advance(40 * DAY + FINALIZATION_GRACE);
    await world.reportOverage();
    await world.advance(FINALIZATION_GRACE);
    await checkInvariants(customers);
  }

  /**
   * Counterexamples the property found, shrunk, kept as fixed sequences (each failed before its fix):
   * - a renewal's scheduled downgrade whose webhook was processed days later was weighed from the processing time
   *   (fixed: weighed from the event's time);
   * - an upgrade right after subscribing, with webhooks delivered twice: a provisioning of the webhook read the
   *   subscription before the upgrade committed and the entitlements after, and weighed the upgrade back (fixed:
   *   provisionings of one account are serialized); a race, so it runs a few times;
   * - use past the allowance and cancel now, in the second the subscription started: the report was stamped in that
   *   second, which the cancellation's invoice no longer covers (its window ends at the cancel, exclusive);
   * - seed 603501303: a downgrade reached at the renewal, with shuffled webhooks: the renewal invoice's
   *   `invoice.paid` (an hour after the renewal) brought the new plan first and the change was weighed from its
   *   time, 1,012 included instead of 1,000 (fixed: weighed from the scheduled moment). A race of delivery order,
   *   so it is kept as the deterministic plan-changes › "a downgrade reached at the renewal …", not here.
   */
  const COUNTEREXAMPLES: Array<Parameters<typeof runSequence>> = [
    [
      [{ plan: 'starter', trial: false }, null, null],
      [
        { account: 0, action: { kind: 'use', quantity: 1001 } },
        { account: 0, action: { kind: 'cancelNow' } },
      ],
      { twice: false, order: 'in_order' },
    ],
    [
      [{ plan: 'professional', trial: false }, null, null],
      [
        { account: 0, action: { kind: 'use', quantity: 293 } },
        { account: 0, action: { kind: 'advance', days: 11 } },
        { account: 0, action: { kind: 'downgrade' } },
      ],
      { twice: false, order: 'shuffle' },
    ],
    ...Array.from(
      { length: 3 },
      (): Parameters<typeof runSequence> => [
        [null, null, { plan: 'starter', trial: false }],
        [
          { account: 2, action: { kind: 'upgrade' } },
          { account: 0, action: { kind: 'use', quantity: 154 } },
          { account: 0, action: { kind: 'reserveAndForget', quantity: 32 } },
        ],
        { twice: true, order: 'in_order' },
      ],
    ),
  ];

  it('holds for the counterexamples it found', async () => {
    for (const counterexample of COUNTEREXAMPLES) await runSequence(...counterexample);
  });

  it('holds for random sequences over several accounts', async () => {
    const replay = process.env.INTEGRITY_REPLAY;
    if (replay) {
      const [openings, steps, mode] = JSON.parse(replay);
      await runSequence(openings, steps, mode);
      return;
    }
    await fc.assert(
      fc.asyncProperty(
        // Most accounts subscribe first (some never do: the free plan), then act at random.
        fc.array(
          fc.option(
            fc.record({
              plan: fc.constantFrom('starter' as const, 'professional' as const),
              trial: fc.boolean(),
            }),
            { freq: 4 },
          ),
          {
            minLength: ACCOUNTS,
            maxLength: ACCOUNTS,
          },
        ),
        fc.array(step, { minLength: 4, maxLength: 16 }),
        fc.record({ twice: fc.boolean(), order: fc.constantFrom('in_order', 'shuffle') }),
        runSequence,
      ),
      {
        numRuns: Number(process.env.INTEGRITY_RUNS ?? 10),
        interruptAfterTimeLimit: 240_000,
      },
    );
  }, 300_000);
});
