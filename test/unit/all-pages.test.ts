import type Stripe from 'stripe';
import { listAll, someListed } from '../../src/services/stripe/all-pages';

/** A Stripe list of `total` items (newest first, ids item_<n>) answered a page of `size` at a time; counts the pages read. */
function stripeList(total: number, size: number) {
  const items = Array.from({ length: total }, (_, i) => ({ id: `item_${total - i}`, n: total - i }));
  const reads: Array<string | undefined> = [];
  const page = async (
    startingAfter: string | undefined,
  ): Promise<Stripe.ApiList<{ id: string; n: number }>> => {
    reads.push(startingAfter);
    const start = startingAfter ? items.findIndex((item) => item.id === startingAfter) + 1 : 0;
    const data = items.slice(start, start + size);
    return { object: 'list', data, has_more: start + size < items.length, url: '/v1/items' };
  };
  return { page, reads };
}

describe('listAll', () => {
  it('reads every page, each after the last item of the one before', async () => {
    const { page, reads } = stripeList(250, 100);
    const listed = await listAll(page);
    expect(listed.complete).toBe(true);
    expect(listed.items.map((item) => item.n)).toEqual(Array.from({ length: 250 }, (_, i) => 250 - i));
    expect(reads).toEqual([undefined, 'item_151', 'item_51']);
  });

  it('says the list is incomplete when the bound cut it short', async () => {
    const { page } = stripeList(250, 100);
    const listed = await listAll(page, 2);
    expect(listed).toMatchObject({ complete: false });
    expect(listed.items).toHaveLength(200);
  });
});

describe('someListed', () => {
  it('finds an item on a later page, and stops reading there', async () => {
    const { page, reads } = stripeList(350, 100);
    expect(await someListed(page, (item) => item.n === 180)).toBe(true);
    expect(reads).toHaveLength(2);
  });

  it('answers false after the last page when no item holds', async () => {
    const { page, reads } = stripeList(150, 100);
    expect(await someListed(page, (item) => item.n > 1_000)).toBe(false);
    expect(reads).toHaveLength(2);
  });
});
