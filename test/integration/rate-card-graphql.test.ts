import { RateCardResolver } from '../../src/resolvers/rate-card.resolver';
import { CustomerCurrency } from '../../src/services/accounts/customer-currency';
import { loadPlanCatalog, PlanCatalog } from '../../src/services/plans/plan-catalog';
import { createCustomer } from '../support/factories';
import { startTestService, type TestService } from '../support/service';

/**
 * The credit catalog over GraphQL (issue 17): `creditPacks(currency:)` priced like `plans(currency:)` (the currency
 * asked for, else the signed-in account's, else the base), `modelPrices` (the price in effect now and the next
 * one), and `Plan.credits`. Public, as `plans` is. Real service over HTTP on a real PostgreSQL.
 */

interface PackView {
  key: string;
  credits: number;
  price: { amount: number; currency: string };
  amounts: Array<{ amount: number; currency: string }>;
  lookupKey: string;
  expiresAfterDays: number | null;
}

const PACKS =
  '{ creditPacks { key credits price { amount currency } amounts { amount currency } lookupKey expiresAfterDays } }';

describe('the credit catalog over GraphQL', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.stop());

  it('lists the packs publicly in the base currency, with every currency in amounts', async () => {
    const response = await service.graphql<{ creditPacks: PackView[] }>(PACKS);
    const packs = response.data?.creditPacks ?? [];
    expect(packs.map((pack) => [pack.key, pack.credits, pack.price])).toEqual([
      ['credits_10k', 10000, { amount: 1000, currency: 'usd' }],
      ['credits_50k', 50000, { amount: 4500, currency: 'usd' }],
      ['credits_200k', 200000, { amount: 16000, currency: 'usd' }],
    ]);
    expect(packs[0]).toMatchObject({
      amounts: [
        { amount: 1000, currency: 'usd' },
        { amount: 900, currency: 'eur' },
      ],
      lookupKey: 'price_credits_10k',
      expiresAfterDays: null,
    });
  });

  it('prices the packs in the currency asked for, and refuses one the catalog does not sell', async () => {
    const euro = await service.graphql('{ creditPacks(currency: "EUR") { key price { amount currency } } }');
    expect(euro).toMatchObject({
      data: {
        creditPacks: [
          { key: 'credits_10k', price: { amount: 900, currency: 'eur' } },
          { key: 'credits_50k', price: { amount: 4200, currency: 'eur' } },
          { key: 'credits_200k', price: { amount: 15000, currency: 'eur' } },
        ],
      },
    });
    const yen = await service.graphql('{ creditPacks(currency: "jpy") { key } }');
    expect(yen).toMatchObject({
      errors: [
        {
          message: 'Prices are in usd, eur, not jpy',
          extensions: { code: 'BAD_USER_INPUT', field: 'currency' },
        },
      ],
    });
  });

  it('prices the packs in the currency the signed-in account pays in', async () => {
    const em = service.app.orm.em.fork();
    const customer = createCustomer(em, { currency: 'eur' });
    await em.flush();
    const response = await service.graphql<{ creditPacks: PackView[] }>(
      '{ creditPacks { key price { amount currency } } }',
      {
        token: await service.token(customer.accountId),
      },
    );
    expect(response).not.toHaveProperty('errors');
    const packs = response.data?.creditPacks ?? [];
    expect(packs.map((pack) => pack.price)).toEqual([
      { amount: 900, currency: 'eur' },
      { amount: 4200, currency: 'eur' },
      { amount: 15000, currency: 'eur' },
    ]);
  });

  it('lists the model prices in effect, with no next price when none is scheduled', async () => {
    const response = await service.graphql(
      '{ modelPrices { model inputCreditsPerMillion outputCreditsPerMillion effectiveFrom next { effectiveFrom } } }',
    );
    expect(response).toMatchObject({
      data: {
        modelPrices: [
          {
            model: 'claude-sonnet-4',
            inputCreditsPerMillion: 3000,
            outputCreditsPerMillion: 15000,
            effectiveFrom: '2026-01-01T00:00:00.000Z',
            next: null,
          },
          { model: 'claude-haiku-4', inputCreditsPerMillion: 1000, outputCreditsPerMillion: 5000 },
          { model: 'gpt-5', inputCreditsPerMillion: 1250, outputCreditsPerMillion: 10000 },
          { model: 'gpt-5-mini', inputCreditsPerMillion: 250, outputCreditsPerMillion: 2000 },
        ],
      },
    });
  });

  it('shows what each plan includes in credits and what rolls over', async () => {
    const response = await service.graphql(
      '{ plans { key credits { included rollover { kind percent max } } } }',
    );
    expect(response).toMatchObject({
      data: {
        plans: [
          { key: 'free', credits: { included: 1000, rollover: { kind: 'NONE', percent: null, max: null } } },
          { key: 'starter', credits: { included: 20000, rollover: { kind: 'NONE' } } },
          { key: 'professional', credits: { included: 100000, rollover: { kind: 'MAX', max: 50000 } } },
          { key: 'enterprise', credits: { included: 0, rollover: { kind: 'NONE' } } },
        ],
      },
    });
  });
});

describe('modelPrices around a scheduled change', () => {
  const real = loadPlanCatalog();
  const change = new Date('2027-03-01T00:00:00Z');
  const catalog = new PlanCatalog({
    ...real.catalog,
    models: {
      'claude-sonnet-4': [
        {
          effectiveFrom: new Date('2026-01-01T00:00:00Z'),
          inputCreditsPerMillion: 3000,
          outputCreditsPerMillion: 15000,
        },
        { effectiveFrom: change, inputCreditsPerMillion: 2500, outputCreditsPerMillion: 12500 },
      ],
      'gpt-6': [{ effectiveFrom: change, inputCreditsPerMillion: 5000, outputCreditsPerMillion: 40000 }],
    },
  });
  const at = (moment: Date) =>
    new RateCardResolver(catalog, new CustomerCurrency(catalog), { now: () => moment });

  it('shows the next price before the change and only the new one from its moment; a model not priced yet is left out', () => {
    const before = at(new Date(change.getTime() - 1)).modelPrices();
    expect(before).toEqual([
      {
        model: 'claude-sonnet-4',
        inputCreditsPerMillion: 3000,
        outputCreditsPerMillion: 15000,
        effectiveFrom: new Date('2026-01-01T00:00:00Z'),
        next: { inputCreditsPerMillion: 2500, outputCreditsPerMillion: 12500, effectiveFrom: change },
      },
    ]);
    const after = at(change).modelPrices();
    expect(after.map((price) => [price.model, price.inputCreditsPerMillion, price.next])).toEqual([
      ['claude-sonnet-4', 2500, null],
      ['gpt-6', 5000, null],
    ]);
  });
});
