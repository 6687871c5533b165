/**
 * Journey: add-ons on the billing page (docs/billing-rules.md rows 49–51). On Starter, buying "Extra storage 10 GB"
 * shows the charge made now for the rest of the period and the storage allowance grows on the page without a
 * reload; removing it keeps it (and its storage) until the period end, when the renewal drops it.
 */
import { DAY, describeJourney, markPage, subscribeToStarter, waitForText } from './journey';

describeJourney('journey: add-ons', (journey) => {
  it('buys extra storage on Starter, charged now, the gauge grows live; removed, it stays until the period end', async () => {
    const accountId = `acct_journey_addons_${Date.now().toString(36)}`;
    const page = await journey.newPage();
    await subscribeToStarter(journey, page, accountId);
    const storage = '[data-metric="storage_mb"] .usage-figures';
    await waitForText(page, storage, /^0 of 1,024$/);
    // Priority support is Starter's to add too; Professional's only add-on would be storage.
    await page.waitForSelector('#offer-priority_support');
    const notReloaded = await markPage(page);

    // Bought seconds into the period: Stripe charges the rest of it, all but a rounding of the $5.00.
    await page.click('#buy-addon-extra_storage_10gb');
    await waitForText(page, storage, /^0 of 11,264$/);
    await journey.stack.flushWebhooks();
    await waitForText(
      page,
      '#addon-notice',
      /^Extra storage 10 GB: \$5\.00 charged now for the rest of this period$/,
    );
    await waitForText(page, '#addon-extra_storage_10gb', /Extra storage 10 GB \$5\.00 a month/);
    expect(await notReloaded()).toBe(true);

    // A second unit, then one fewer from the next period: two are paid for and stay until then; nothing is charged.
    await page.click('#more-addon-extra_storage_10gb');
    await waitForText(page, storage, /^0 of 21,504$/);
    await journey.stack.flushWebhooks();
    await page.click('#fewer-addon-extra_storage_10gb');
    await waitForText(page, '#addon-fewer-extra_storage_10gb', /^1 from [A-Z][a-z]{2} \d{1,2}, \d{4}$/);
    await waitForText(
      page,
      '#addon-notice',
      /^Extra storage 10 GB: 1 from .+; the ones paid for stay until then, nothing is refunded$/,
    );
    await waitForText(page, storage, /^0 of 21,504$/);

    // Removed: it stays until the period end, and so does its storage.
    await page.click('#remove-addon-extra_storage_10gb');
    await waitForText(page, '#addon-ends-extra_storage_10gb', /^ends [A-Z][a-z]{2} \d{1,2}, \d{4}$/);
    await waitForText(page, '#addon-notice', /stays until .+; it is not renewed and nothing is refunded$/);
    await waitForText(page, storage, /^0 of 21,504$/);
    await journey.screenshot(page, 'addons-removed');

    // The period ends: the renewal bills Starter alone, and the page shows the plan's storage again.
    await journey.timePasses(32 * DAY);
    await waitForText(page, storage, /^0 of 1,024$/, 30_000);
    expect(await page.locator('#addon-extra_storage_10gb').count()).toBe(0);
    await page.waitForSelector('#offer-extra_storage_10gb');
  }, 180_000);
});
