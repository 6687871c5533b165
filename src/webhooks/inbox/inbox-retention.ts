import type { Orm } from '../../database/database';

const BATCH = 5_000;
const MAX_BATCHES = 100;
/** Only an event that is done with is pruned: a failed, pending or dead one keeps its payload to be retried. */
const DONE = `status in ('processed', 'ignored')`;

export interface InboxRetentionSettings {
  payloadDays: number;
  rowDays: number;
}

/**
 * The inbox's retention (ADR 0021): a processed or ignored event's payload is dropped `payloadDays` after it
 * arrived, its row kept until `rowDays` so that a redelivery (Stripe's, for up to 3 days) or the reconciler's
 * listing (Stripe keeps 30 days of events) still finds it and calls it a duplicate. Failed, pending and dead
 * rows keep everything: a person or a retry needs them.
 */
export class InboxRetention {
  constructor(
    private readonly orm: Orm,
    private readonly settings: InboxRetentionSettings,
  ) {}

  async run(now: Date): Promise<{ payloadsPruned: number; rowsDeleted: number }> {
    const day = 24 * 3600 * 1000;
    const payloadsPruned = await this.inBatches(
      `update webhook_event set payload = null, updated_at = ? where id = any(array(
         select id from webhook_event where payload is not null and received_at < ? and ${DONE} limit ${BATCH}))
       returning 1`,
      [now, new Date(now.getTime() - this.settings.payloadDays * day)],
    );
    const rowsDeleted = await this.inBatches(
      `delete from webhook_event where id = any(array(
         select id from webhook_event where received_at < ? and ${DONE} limit ${BATCH}))
       returning 1`,
      [new Date(now.getTime() - this.settings.rowDays * day)],
    );
    return { payloadsPruned, rowsDeleted };
  }

  private async inBatches(statement: string, parameters: unknown[]): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const rows = await this.orm.em
        .fork()
        .execute<Array<{ count: string }>>(
          `with done as (${statement}) select count(*) from done`,
          parameters,
        );
      const count = Number(rows[0]?.count ?? 0);
      total += count;
      if (count < BATCH) break;
    }
    return total;
  }
}
