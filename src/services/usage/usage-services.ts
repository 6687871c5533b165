import type Redis from 'ioredis';
import type { Orm } from '../../database/database';
import type { UsageMetrics } from '../../observability/metrics';
import type { BillingPubSub } from '../../pubsub/pubsub';
import type { AccountEvents } from '../accounts/account-events';
import type { Clock } from '../time/clock';
import type { EntitlementProvisioning } from './entitlement-provisioning';
import type { Logger } from '../../logging/logger';
import { Notifier } from '../notifications/notifier';
import type { PlanCatalog } from '../plans/plan-catalog';
import { EntitlementOverrides } from './entitlement-overrides';
import { FeatureGate } from './feature-gate';
import { UsageCopies } from './usage-copies';
import { UsageMeter } from './usage-meter';
import { UsagePublisher } from './usage-publisher';
import { UsageReader } from './usage-reader';
import { UsageReservations } from './usage-reservations';
import type { UsageWriting } from './usage-writing';

export interface UsageDependencies {
  orm: Orm;
  /** Billing's "now": usage periods, validation of `occurredAt`, reservation expiry. */
  clock: Clock;
  /** A client for the usage copies (fail-fast: no offline queue), or null to read PostgreSQL only. */
  redis: Redis | null;
  catalog: PlanCatalog;
  provisioner: EntitlementProvisioning;
  events: AccountEvents;
  pubSub: BillingPubSub;
  logger: Logger;
  metrics?: UsageMetrics | null;
  /** Names the database the usage copies in Redis are of (see UsageCopies). */
  namespace: string;
}

/** Usage metering and feature gating of one instance, assembled once at start-up. */
export class UsageServices {
  readonly gate: FeatureGate;
  readonly copies: UsageCopies;
  readonly reader: UsageReader;
  readonly publisher: UsagePublisher;
  readonly meter: UsageMeter;
  readonly reservations: UsageReservations;
  readonly overrides: EntitlementOverrides;
  readonly clock: Clock;

  constructor(private readonly deps: UsageDependencies) {
    this.clock = deps.clock;
    this.gate = new FeatureGate(
      deps.orm,
      deps.catalog,
      deps.provisioner,
      deps.pubSub,
      deps.logger,
      deps.clock,
    );
    this.copies = new UsageCopies(deps.redis, deps.logger, deps.namespace);
    this.reader = new UsageReader(deps.orm, this.copies);
    this.publisher = new UsagePublisher(deps.pubSub, deps.logger);
    const writing: UsageWriting = {
      orm: deps.orm,
      gate: this.gate,
      copies: this.copies,
      publisher: this.publisher,
      notifier: new Notifier(deps.logger),
      logger: deps.logger,
      clock: deps.clock,
      metrics: deps.metrics ?? null,
    };
    this.meter = new UsageMeter(writing);
    this.reservations = new UsageReservations(writing);
    this.overrides = new EntitlementOverrides(
      deps.orm,
      deps.catalog,
      deps.provisioner,
      deps.events,
      deps.clock,
    );
  }

  async start(): Promise<void> {
    this.deps.events.onLocalChange((accountId) => this.gate.invalidate(accountId));
    await this.gate.start();
  }

  async stop(): Promise<void> {
    this.publisher.flush();
    await this.gate.stop();
    this.deps.redis?.disconnect();
  }
}
