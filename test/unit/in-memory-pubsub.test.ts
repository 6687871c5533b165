import { channelOf, publishArguments, reviveDates } from '../../src/pubsub/pubsub';
import { InMemoryPubSub } from '../../src/pubsub/in-memory-pubsub';

describe('InMemoryPubSub', () => {
  it('delivers a payload to the subscribers of its channel only', async () => {
    const pubSub = new InMemoryPubSub();
    const mine = pubSub.subscribe('ACCOUNT_UPDATED', 'a')[Symbol.asyncIterator]();
    const theirs = pubSub.subscribe('ACCOUNT_UPDATED', 'b')[Symbol.asyncIterator]();
    const next = mine.next();
    const theirNext = theirs.next();
    await pubSub.publish('ACCOUNT_UPDATED', 'a', { accountId: 'a' });
    expect(await next).toEqual({ done: false, value: { accountId: 'a' } });

    let theirsGotOne = false;
    void theirNext.then((result) => {
      theirsGotOne = !result.done;
    });
    await new Promise((done) => setTimeout(done, 50));
    expect(theirsGotOne).toBe(false);
    await pubSub.close();
    expect(await theirNext).toEqual({ done: true, value: undefined });
  });

  it('ends an iterator when the subscriber leaves', async () => {
    const pubSub = new InMemoryPubSub();
    const iterator = pubSub.subscribe('T')[Symbol.asyncIterator]();
    expect(await iterator.return?.()).toEqual({ done: true, value: undefined });
    await pubSub.close();
  });
});

describe('pub/sub helpers', () => {
  it('scopes a topic by id', () => {
    expect(channelOf('T')).toBe('T');
    expect(channelOf('T', 'acct_1')).toBe('T:acct_1');
    expect(publishArguments('T', ['acct_1', { x: 1 }])).toEqual({ channel: 'T:acct_1', payload: { x: 1 } });
    expect(publishArguments('T', [{ x: 1 }])).toEqual({ channel: 'T', payload: { x: 1 } });
  });

  it('revives ISO dates from JSON and leaves other strings alone', () => {
    const parsed = JSON.parse('{"at":"2026-11-27T05:00:00.000Z","name":"2026"}', reviveDates) as {
      at: unknown;
      name: unknown;
    };
    expect(parsed.at).toEqual(new Date('2026-11-27T05:00:00.000Z'));
    expect(parsed.name).toBe('2026');
  });
});
