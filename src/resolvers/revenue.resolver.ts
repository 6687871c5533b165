import { Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { RevenueSummary } from '../schema/revenue.type';
import type { Clock } from '../services/time/clock';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import { revenueSummary } from '../services/invoices/revenue-summary';

/** Admin revenue figures. */
@Resolver(() => RevenueSummary)
export class RevenueResolver {
  constructor(
    private readonly catalog: PlanCatalog,
    private readonly clock: Clock,
  ) {}

  @Query(() => RevenueSummary, {
    description: 'Admin: MRR, subscriptions by state and plan, and churn this calendar month (UTC)',
  })
  async revenueSummary(@Ctx() context: RequestContext): Promise<RevenueSummary> {
    context.requireRole('admin');
    return revenueSummary(context.em, this.catalog, this.clock.now());
  }
}
