import { randomUUID } from 'node:crypto';
import type { Logger } from '../../src/logging/logger';
import { silentLogger } from '../../src/logging/logger';
import { InMemoryPubSub } from '../../src/pubsub/in-memory-pubsub';
import type { BalanceUpdatedPayload } from '../../src/pubsub/topics';
import { CreditEvents } from '../../src/services/credits/credit-events';
import { CreditLedger } from '../../src/services/credits/credit-ledger';
import { grantForTest, type LedgerHarness, openLedger } from '../support/credit-ledger';

/**
 * A credit group answers its callers after its COMMIT without waiting for `balanceUpdated` (ADR 0032): with a
 * pub/sub whose publish does not finish, holds and settles are still answered, and once it is let go every
 * publish goes out, once, in the order of the changes; a publish that fails is logged, never thrown at a caller.
 */

/** Publishes wait until `release` (or fail while `failing`); `asked` and `sent` are in the order they came. */
class HeldPubSub extends InMemoryPubSub {
  readonly asked: BalanceUpdatedPayload[] = [];
  readonly sent: BalanceUpdatedPayload[] = [];
  failing = false;
  private opened: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;

  hold(): void {
    this.opened = new Promise((resolve) => {
      this.open = resolve;
    });
  }

  release(): void {
    this.open();
  }

  override async publish(topic: string, ...args: unknown[]): Promise<void> {
    const payload = args[1] as BalanceUpdatedPayload;
    this.asked.push(payload);
    await this.opened;
    if (this.failing) throw new Error('Redis is unreachable: not published');
    this.sent.push(payload);
    await super.publish(topic, ...args);
  }
}

let harness: LedgerHarness;

beforeAll(async () => {
  harness = await openLedger();
});

afterAll(async () => {
  await harness.close();
});

function ledgerOver(pubSub: HeldPubSub, logger: Logger = silentLogger) {
  const events = new CreditEvents(pubSub, logger);
  return { events, ledger: new CreditLedger(harness.orm, harness.clock, events) };
}

async function granted(accountId: string, credits: number): Promise<void> {
  await grantForTest(harness.ledger, accountId, credits);
}

it('answers a hold and its settle while their publishes hang, then publishes both in order once let go', async () => {
  const accountId = 'acct_publish_held';
  await granted(accountId, 100);
  const pubSub = new HeldPubSub();
  const { events, ledger } = ledgerOver(pubSub);
  pubSub.hold();

  const holdId = randomUUID();
  const held = await ledger.hold({ accountId, credits: 30, ttlSeconds: 300, holdId });
  expect(held.ok).toBe(true);
  const settled = await ledger.settle({ accountId, holdId, credits: 20 });
  expect(settled.outcome).toBe('settled');

  // Both callers answered; nothing sent yet, and the settle's publish waits behind the hold's.
  expect(pubSub.sent).toEqual([]);
  expect(pubSub.asked.map(({ held }) => held)).toEqual([30]);

  pubSub.release();
  await events.published();
  expect(pubSub.sent.map(({ balance, held }) => ({ balance, held }))).toEqual([
    { balance: 100, held: 30 },
    { balance: 80, held: 0 },
  ]);
  expect(pubSub.sent.every((payload) => payload.accountId === accountId)).toBe(true);
  expect((await ledger.balanceOf(accountId)).balance).toBe(80);
});

it('answers the callers of a group whose publish fails, logs the failure and still publishes the next change', async () => {
  const accountId = 'acct_publish_failing';
  await granted(accountId, 50);
  const pubSub = new HeldPubSub();
  const warnings: object[] = [];
  const { events, ledger } = ledgerOver(pubSub, {
    ...silentLogger,
    warn: (details) => warnings.push(details),
  });

  pubSub.failing = true;
  const first = await ledger.hold({ accountId, credits: 10, ttlSeconds: 300, holdId: randomUUID() });
  expect(first.ok).toBe(true);
  await events.published();
  expect(warnings).toEqual([expect.objectContaining({ accountId })]);

  pubSub.failing = false;
  const second = await ledger.hold({ accountId, credits: 5, ttlSeconds: 300, holdId: randomUUID() });
  expect(second.ok).toBe(true);
  await events.published();
  expect(pubSub.sent.map(({ held }) => held)).toEqual([15]);
});
