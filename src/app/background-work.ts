import type { Config } from '../config';
import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import { reprovisionAfterCatalogChange } from '../services/subscriptions/catalog-reprovisioning';
import { createMailTransport, MailWorker } from '../services/notifications';
import type { MailTransport } from '../services/notifications/mail-transport';
import type { DataMaintenance } from '../webhooks/reconciler/data-maintenance';
import type { OverageReporter } from '../services/usage/overage-reporter';
import type { CoreServices } from './core-services';
import type { CreditServices } from './credit-services';
import type { WebhookPipeline } from './webhook-pipeline';

/** What every instance runs beside serving requests; each takes its work under a lock, so any number can run. */
export class BackgroundWork {
  private readonly mailWorker: MailWorker;
  private readonly mailTransport: MailTransport;
  private catalogProvisioning: Promise<unknown> = Promise.resolve();

  constructor(
    config: Config,
    private readonly orm: Orm,
    private readonly core: CoreServices,
    private readonly webhooks: WebhookPipeline | null,
    private readonly overageReporter: OverageReporter | null,
    private readonly maintenance: DataMaintenance,
    private readonly credits: CreditServices,
    private readonly logger: Logger,
  ) {
    this.mailTransport = createMailTransport(config, logger);
    this.mailWorker = new MailWorker({
      em: orm.em,
      transport: this.mailTransport,
      logger,
      from: config.mail.from,
      intervalMs: config.mail.workerIntervalMs,
    });
  }

  /** Settles when the start-up re-provisioning for a changed plan catalog has run. */
  get catalogProvisioned(): Promise<unknown> {
    return this.catalogProvisioning;
  }

  start(): void {
    this.webhooks?.queue.start();
    this.webhooks?.reconciler.start();
    // In the background: serving does not wait for it (a changed catalog reaches accounts within seconds).
    const { catalog, provisioner, events, clock } = this.core;
    this.catalogProvisioning = reprovisionAfterCatalogChange(
      this.orm,
      catalog,
      provisioner,
      events,
      this.logger,
      clock,
    ).catch((error: unknown) =>
      this.logger.error({ err: error }, 'could not provision entitlements for the changed catalog'),
    );
    this.overageReporter?.start();
    this.maintenance.start();
    this.credits.sweep.start();
    this.mailWorker.start();
  }

  /**
   * Stops taking new work; what is in flight finishes. Stored webhook events not claimed yet wait in the inbox
   * for another instance's poll, or this one's restart.
   */
  async stopTakingWork(): Promise<void> {
    await this.webhooks?.queue.stop();
    await this.webhooks?.reconciler.stop();
    await this.overageReporter?.stop();
    await this.maintenance.stop();
    await this.credits.sweep.stop();
    await this.catalogProvisioning;
  }

  /** Once requests are done: a last overage pass (what was recorded since the previous one), then the mail. */
  async finish(): Promise<void> {
    await this.overageReporter
      ?.flush()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'last overage report at shutdown failed'));
    await this.mailWorker.stop();
    await this.mailTransport.close();
  }
}
