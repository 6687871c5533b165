import type { BillingPubSub } from '../../src/pubsub/pubsub';
import { silentLogger } from '../../src/logging/logger';
import { UsagePublisher } from '../../src/services/usage/usage-publisher';
import type { UsageFigures } from '../../src/services/usage/usage-reader';

/** The publisher's throttle, with jest's fake clock (the pub/sub is the unit boundary: a recording fake). */
describe('UsagePublisher', () => {
  afterEach(() => jest.useRealTimers());

  const sent: Array<{ channel: string; used: number }> = [];
  const pubSub = {
    publish: async (topic: string, id: string, payload: { used: number }) => {
      sent.push({ channel: `${topic}:${id}`, used: payload.used });
    },
  } as unknown as BillingPubSub;
  const figures = (metric: string, used: number): UsageFigures => ({
    metric,
    used,
    included: 100,
    remaining: 100 - used,
    overage: 0,
    periodStart: new Date(0),
    periodEnd: new Date(1),
  });

  beforeEach(() => {
    jest.useFakeTimers();
    sent.length = 0;
  });

  it('sends the first change at once and only the latest of a burst after the interval', () => {
    const publisher = new UsagePublisher(pubSub, silentLogger, 250);
    for (let used = 1; used <= 10; used += 1) publisher.changed('acct_1', figures('ai_requests', used));
    expect(sent).toEqual([{ channel: 'USAGE_UPDATED:acct_1', used: 1 }]);
    jest.advanceTimersByTime(250);
    expect(sent.map((message) => message.used)).toEqual([1, 10]);
    jest.advanceTimersByTime(1000);
    expect(sent).toHaveLength(2);
  });

  it('throttles each account and metric on its own', () => {
    const publisher = new UsagePublisher(pubSub, silentLogger, 250);
    publisher.changed('acct_1', figures('ai_requests', 1));
    publisher.changed('acct_2', figures('ai_requests', 5));
    publisher.changed('acct_1', figures('storage_mb', 7));
    expect(sent.map((message) => message.used)).toEqual([1, 5, 7]);
  });

  it('sends what is waiting on flush', () => {
    const publisher = new UsagePublisher(pubSub, silentLogger, 250);
    publisher.changed('acct_1', figures('ai_requests', 1));
    publisher.changed('acct_1', figures('ai_requests', 2));
    publisher.flush();
    expect(sent.map((message) => message.used)).toEqual([1, 2]);
  });

  it('never lets an older figure (a commit that finished late) be the last one published', () => {
    const publisher = new UsagePublisher(pubSub, silentLogger, 250);
    publisher.changed('acct_1', figures('ai_requests', 38), 38);
    publisher.changed('acct_1', figures('ai_requests', 40), 40);
    // Revision 39's commit answered after 40's.
    publisher.changed('acct_1', figures('ai_requests', 39), 39);
    jest.advanceTimersByTime(250);
    expect(sent.map((message) => message.used)).toEqual([38, 40]);
    // A new period starts its revisions again.
    const next = { ...figures('ai_requests', 1), periodStart: new Date(1) };
    publisher.changed('acct_1', next, 1);
    jest.advanceTimersByTime(250);
    expect(sent.map((message) => message.used)).toEqual([38, 40, 1]);
  });
});
