import type Stripe from 'stripe';
import type { Orm } from '../../database/database';
import { GroupCommitter, type Settled } from '../../database/group-committer';
import { preparedAutocommit } from '../../database/prepared-transaction';
import { STUCK_AFTER_MS } from './inbox-retry-policy';
import { inboxRowValues } from './inbox-row';

/** One delivery to store: the verified event and the text of the bytes it was verified from. */
export interface Delivery {
  event: Stripe.Event;
  body?: string;
}

/** The most deliveries one statement stores (a bound on its parameters and on the group's latency). */
export const MAX_INTAKE_GROUP = 64;

/**
 * A new row is `received`, its arrival the database's clock (ADR 0020: the order events of one key are
 * processed in), due for the reconciler `STUCK_AFTER_MS` after it arrives. A delivery of an event the inbox
 * holds changes nothing, unless that one failed or is dead (a resend from Stripe's Dashboard): it is due now, as
 * a failed row, so the retry policy still counts its attempts. `returning` names the events there is something
 * to process for.
 */
function insertStatement(rows: number): string {
  const row = `(?, ?, ?, ?::jsonb, ?, ?, ?, 'received', 0, ?,
     clock_timestamp(), clock_timestamp() + ${STUCK_AFTER_MS} * interval '1 millisecond', clock_timestamp(),
     clock_timestamp())`;
  return `insert into webhook_event
    (id, stripe_event_id, type, payload, object_id, ordering_key, source, status, attempts, stripe_created_at,
     received_at, next_attempt_at, created_at, updated_at)
  values ${Array.from({ length: rows }, () => row).join(',\n         ')}
  on conflict (stripe_event_id) do update
    set status = 'failed', next_attempt_at = excluded.received_at, updated_at = excluded.updated_at
    where webhook_event.status in ('failed', 'dead')
  returning stripe_event_id, xmax = 0 as inserted`;
}

/**
 * The statement for a group size, written the first time a group of that size comes (not at start-up: most sizes
 * up to 64 never do) and prepared on each connection the first time it runs there (prepared-transaction.ts
 * `preparedAutocommit`; issue 14: PostgreSQL parses and plans a group's insert once per connection, and Node does
 * not rewrite its placeholders per group).
 */
const statements = new Map<number, string>();

function statementFor(rows: number): string {
  let statement = statements.get(rows);
  if (!statement) {
    statement = insertStatement(rows);
    statements.set(rows, statement);
  }
  return statement;
}

/**
 * The webhook endpoint's writes (ADR 0020), with group commit (as ADR 0019's for usage): deliveries that arrive
 * while a statement is in PostgreSQL wait and are stored together by the next one, one multi-row
 * `insert … on conflict` committed on its own (one round trip, one WAL flush), its values bound as parameters
 * (below the ORM, which would write every payload into the statement's text). Each delivery is answered when
 * its statement committed: `true` when there is something to process (a new event, or a failed one sent again),
 * `false` for a duplicate. An idle instance stores the first delivery at once, alone; groups form only under
 * load. A group that fails as a whole is stored again one delivery at a time, so one delivery that cannot be
 * stored fails only itself (500, and Stripe sends it again).
 */
export class InboxIntake {
  private readonly committer: GroupCommitter<Delivery, boolean>;

  constructor(
    private readonly orm: Orm,
    onGroup: (size: number) => void = () => undefined,
  ) {
    this.committer = new GroupCommitter((group) => this.storeGroup(group), MAX_INTAKE_GROUP, onGroup);
  }

  /** Stores the delivery and answers once it is committed whether it is queued (false: a duplicate). */
  accept(delivery: Delivery): Promise<boolean> {
    return this.committer.submit(delivery);
  }

  /** Groups written and deliveries stored so far. */
  stats(): { groups: number; requests: number } {
    return this.committer.stats();
  }

  private async storeGroup(group: Delivery[]): Promise<Array<Settled<boolean>>> {
    try {
      return answersOf(group, await this.insert(group));
    } catch (error) {
      if (group.length === 1) throw error;
      return Promise.all(group.map((delivery) => this.storeAlone(delivery)));
    }
  }

  private async storeAlone(delivery: Delivery): Promise<Settled<boolean>> {
    try {
      const queued = await this.insert([delivery]);
      return { ok: true, value: queued.has(delivery.event.id) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /**
   * One statement for the group; answers the ids it queued, each with whether it inserted the row (`xmax = 0`:
   * no earlier version of the row) or made a failed one due again. An event delivered twice in one group is written
   * once (one statement may not touch a row twice), and rows go in the order of their ids, so two groups with
   * the same events (one event sent to two instances at once) take their index locks in one order and never
   * deadlock. Deliveries of one group were in flight together: their arrival order is any order.
   */
  private async insert(group: Delivery[]): Promise<Map<string, boolean>> {
    const unique = [...new Map(group.map((delivery) => [delivery.event.id, delivery])).values()].sort(
      (first, second) => (first.event.id < second.event.id ? -1 : first.event.id > second.event.id ? 1 : 0),
    );
    const values = unique.flatMap(({ event, body }) => inboxRowValues(event, 'webhook', body));
    // On a connection of the ORM's pool, autocommit: the statement is its own transaction.
    const rows = await preparedAutocommit<{ stripe_event_id: string; inserted: boolean }>(
      this.orm,
      statementFor(unique.length),
      values,
    );
    return new Map(rows.map((row) => [row.stripe_event_id, row.inserted]));
  }
}

/**
 * Each delivery's answer, as if the group's deliveries had come one after another: the first of an event is
 * queued if the statement queued it; a second one in the same group finds what the first left: a new row
 * (`received`: a duplicate), or a failed one made due (due again: queued, as a resend of a failed event is).
 */
function answersOf(group: Delivery[], queued: Map<string, boolean>): Array<Settled<boolean>> {
  const answered = new Set<string>();
  return group.map(({ event }) => {
    const first = !answered.has(event.id);
    answered.add(event.id);
    const inserted = queued.get(event.id);
    return { ok: true, value: inserted !== undefined && (first || !inserted) };
  });
}
