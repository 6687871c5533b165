import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toPlanPrice, toSubscription } from '../graphql/mappers';
import { Account } from '../schema/account.type';
import { AccountAddon, AddAddonInput, Addon } from '../schema/addon.type';
import { BillingInterval } from '../schema/enums';
import { BillingSubscription } from '../schema/subscription.type';
import type { SubscriptionAddons } from '../services/addons/subscription-addons';
import type { CustomerCurrency } from '../services/accounts/customer-currency';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import { stripeRequired } from './stripe-required';

@Resolver(() => Account)
export class AddonResolver {
  constructor(
    private readonly service: SubscriptionAddons | null,
    private readonly catalog: PlanCatalog,
    private readonly currencies: CustomerCurrency,
  ) {}

  @Query(() => [Addon], {
    name: 'addons',
    description: 'Public: every add-on, in the order of plans/plans.yaml',
  })
  async addonCatalog(@Ctx() context: RequestContext): Promise<Addon[]> {
    // In the signed-in account's currency (as `plans`), else the base; `amounts` has every currency.
    const currency =
      context.caller.kind === 'authenticated'
        ? this.currencies.of(await context.loaders.customerByAccount.load(context.caller.accountId))
        : this.catalog.baseCurrency;
    return this.catalog.addons().map((addon) => ({
      key: addon.key,
      name: addon.name,
      description: addon.description,
      prices: addon.prices.map((price) => toPlanPrice(price, currency, this.catalog.currencies)),
      plans: addon.plans,
      maxQuantity: addon.quantity?.max ?? 1,
      features: Object.keys(addon.grants.features),
      limits: addon.grants.limits,
    }));
  }

  @Mutation(() => BillingSubscription, {
    description:
      "Buys an add-on for the caller's live subscription, or sets its units: more units charge the prorated rest of the period now, fewer take effect at the period end (quantityAtPeriodEnd). No subscription, a plan that may not carry it, or a quantity out of range: BAD_USER_INPUT with extensions.reason",
  })
  async addAddon(
    @Arg('input', () => AddAddonInput) input: AddAddonInput,
    @Ctx() context: RequestContext,
  ): Promise<BillingSubscription> {
    const accountId = context.requireCaller().accountId;
    const updated = await stripeRequired(this.service).add(context.em, accountId, input);
    return toSubscription(updated, this.catalog);
  }

  @Mutation(() => BillingSubscription, {
    description:
      'Removes an add-on at the period end: it stays, paid, until then (endsAt); nothing is refunded',
  })
  async removeAddon(
    @Arg('key', () => String) key: string,
    @Ctx() context: RequestContext,
  ): Promise<BillingSubscription> {
    const accountId = context.requireCaller().accountId;
    const updated = await stripeRequired(this.service).remove(context.em, accountId, key);
    return toSubscription(updated, this.catalog);
  }

  @FieldResolver(() => [AccountAddon], { description: 'The add-ons of the live subscription' })
  async addons(@Root() account: Account, @Ctx() context: RequestContext): Promise<AccountAddon[]> {
    context.requireAccountAccess(account.id);
    const row = await context.loaders.subscriptionByAccount.load(account.id);
    if (!row) return [];
    return row.addons.map((carried) => ({
      key: carried.key,
      name: this.catalog.findAddon(carried.key)?.name ?? carried.key,
      quantity: carried.quantity,
      unitAmount: carried.unitAmount,
      currency: carried.currency,
      interval: carried.interval === 'year' ? BillingInterval.YEAR : BillingInterval.MONTH,
      endsAt: row.addonRemovals.includes(carried.key) ? row.currentPeriodEnd : null,
      quantityAtPeriodEnd: row.addonUnitsAtPeriodEnd[carried.key] ?? null,
    }));
  }
}
