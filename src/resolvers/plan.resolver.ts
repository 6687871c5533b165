import { Query, Resolver } from 'type-graphql';
import { toPlan } from '../graphql/mappers';
import { Plan } from '../schema/plan.type';
import type { PlanCatalog } from '../services/plans/plan-catalog';

@Resolver(() => Plan)
export class PlanResolver {
  constructor(private readonly catalog: PlanCatalog) {}

  @Query(() => [Plan], { description: 'Public: every plan, in the order of plans/plans.yaml' })
  plans(): Plan[] {
    return this.catalog.plans().map(toPlan);
  }
}
