import { Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { RevenueSummary } from '../schema/revenue.type';
import { revenueSummary } from '../services/revenue-summary';

/** Admin revenue figures. */
@Resolver(() => RevenueSummary)
export class RevenueResolver {
  @Query(() => RevenueSummary, {
    description: 'Admin: MRR, subscriptions by state and plan, and churn this calendar month (UTC)',
  })
  async revenueSummary(@Ctx() context: RequestContext): Promise<RevenueSummary> {
    context.requireRole('admin');
    return revenueSummary(context.em, context.services.catalog, context.services.clock.now());
  }
}
