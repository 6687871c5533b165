/**
 * Journey: the page stays usable while live updates arrive. The billing page draws itself again on every
 * `accountUpdated`; a person typing a code or pressing "Subscribe" at that moment must not lose the keys or the
 * click. (A Checkout lost this way was seen in CI: the customer's first webhook re-drew the page mid-click.)
 */
import type { Page } from 'playwright-core';
import { waitUntil } from '../../support/wait';
import { describeJourney } from './journey';

const UPDATE_CUSTOMER = 'mutation($name: String) { updateCustomer(input: { name: $name }) { id } }';

describeJourney('journey: a live page', (journey) => {
  /** Counts the `accountUpdated` messages the page's socket has received. */
  function countAccountUpdates(page: Page): () => number {
    let received = 0;
    page.on('websocket', (socket) =>
      socket.on('framereceived', (frame) => {
        if (String(frame.payload).includes('"accountUpdated"')) received += 1;
      }),
    );
    return () => received;
  }

  /** Marks an element, so a test can tell whether the page has drawn it anew since. */
  const mark = (page: Page, selector: string) =>
    page.$eval(selector, (element) => element.setAttribute('data-drawn-before', ''));

  async function pushAccountUpdate(page: Page, accountId: string, updates: () => number, name: string) {
    const before = updates();
    const caller = await journey.stack.as(accountId);
    const answer = await caller(UPDATE_CUSTOMER, { name });
    expect(answer.errors).toBeUndefined();
    await waitUntil(() => updates() > before, 'the page receives accountUpdated', 15_000);
    // The message is in; let the page's handler (and the next-bill read it starts) run.
    await page.$eval('#checkout-starter', (element) => element.scrollIntoView({ block: 'center' }));
  }

  it('keeps the focus and caret in the field being typed in when the page is drawn again', async () => {
    const accountId = 'acct_journey_live_typing';
    const page = await journey.newPage();
    const updates = countAccountUpdates(page);
    await journey.signUp(page, accountId);

    await page.click('#promotion-code');
    await page.keyboard.type('LAUN');
    await mark(page, '#promotion-code');
    await pushAccountUpdate(page, accountId, updates, 'Typing Person');
    // Drawn anew (the old field is gone), and the keys that follow still land in the field.
    await page.waitForSelector('#promotion-code:not([data-drawn-before])');
    await page.keyboard.type('CH20');
    expect(await page.inputValue('#promotion-code')).toBe('LAUNCH20');
  });

  it('keeps what was typed into a field drawn from the server’s figures (the spend limit) when the page is drawn again', async () => {
    const accountId = 'acct_journey_live_typed_value';
    const page = await journey.newPage();
    const updates = countAccountUpdates(page);
    await journey.signUp(page, accountId);

    await page.waitForSelector('#spend-limit-amount');
    await page.fill('#spend-limit-amount', '25');
    await mark(page, '#spend-limit-amount');
    await pushAccountUpdate(page, accountId, updates, 'Limit Typist');
    // Drawn anew from the stored limit (none), yet the 25 typed before Save is still there to save.
    await page.waitForSelector('#spend-limit-amount:not([data-drawn-before])');
    expect(await page.inputValue('#spend-limit-amount')).toBe('25');
  });

  it('does not lose a click whose press and release straddle a live update', async () => {
    const accountId = 'acct_journey_live_click';
    const page = await journey.newPage();
    const updates = countAccountUpdates(page);
    await journey.signUp(page, accountId);

    // The mouse presses where the button is on screen: bring it into the viewport first (the plan cards grew
    // with the seat prices and the button was below the fold, where a press lands on nothing).
    // In the page, in one step: the page may still redraw the cards once after signing up, and a locator's scroll
    // then failed on the button it had found ("Element is not attached to the DOM", CI on Node 24, 2026-12-07).
    await page.$eval('#checkout-starter', (element) => element.scrollIntoView({ block: 'center' }));
    const button = await page.locator('#checkout-starter').boundingBox();
    if (!button) throw new Error('no Starter checkout button');
    await mark(page, '#checkout-starter');
    await page.mouse.move(button.x + button.width / 2, button.y + button.height / 2);
    await page.mouse.down();
    await pushAccountUpdate(page, accountId, updates, 'Clicking Person');
    // Not drawn under the pressed pointer: the button pressed is the one released on.
    expect(await page.locator('#checkout-starter[data-drawn-before]').count()).toBe(1);
    await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.mouse.up()]);
  });
});
