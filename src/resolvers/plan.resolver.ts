import { Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toPlan } from '../graphql/mappers';
import { Plan } from '../schema/plan.type';

@Resolver(() => Plan)
export class PlanResolver {
  @Query(() => [Plan], { description: 'Public: every plan, in the order of plans/plans.yaml' })
  plans(@Ctx() context: RequestContext): Plan[] {
    return context.services.catalog.plans().map(toPlan);
  }
}
