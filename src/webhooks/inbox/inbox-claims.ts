import type Stripe from 'stripe';
import type { Orm } from '../../database/database';
import { type StoredEvent, type StoredEventRow, storedEventOf } from './webhook-inbox';

/** An inbox row a worker claimed: its event as stored (null when the payload is not a Stripe event). */
export interface ClaimedEvent {
  rowId: string;
  stripeEventId: string;
  type: string;
  event: Stripe.Event | null;
  stored: StoredEvent;
}

interface ClaimedRow extends StoredEventRow {
  id: string;
  stripe_event_id: string;
  type: string;
  payload: unknown;
}

/**
 * Claims are taken one at a time across every instance (a transaction-scoped advisory lock): the claim's
 * statement, which runs after the lock is granted, sees every claim committed before it, so two claims can never
 * both take events of the same key. The lock and the claim go as one simple query, which PostgreSQL runs as one
 * implicit transaction (rolled back whole on an error, the lock released at its end) in one round trip; a claim
 * takes a batch in a few milliseconds, so taking them one at a time costs little.
 */
const CLAIM_LOCK = "select pg_advisory_xact_lock(hashtext('webhook_event queue claim'))";

/**
 * The rows a worker may take: new ones, due retries of failed ones, and ones whose worker's lease ran out (its
 * instance died). Of those, only the first in line of their key (the events of one customer or object, in the
 * order they arrived), and only while no event of that key is being processed under a live lease. `for update
 * skip locked`: a row another transaction holds is passed over, never waited for. The claim marks them
 * `processing` with a lease (`next_attempt_at`); processing commits them `processed` (or failed) later.
 */
const CLAIM = `
update webhook_event claimed
   set status = 'processing', next_attempt_at = now() + $leaseMs * interval '1 millisecond', updated_at = now()
  from (select candidate.id
          from webhook_event candidate
         where candidate.status in ('received', 'processing', 'failed')
           and (candidate.status = 'received' or coalesce(candidate.next_attempt_at, '-infinity') <= now())
           -- First in its key's line: no earlier row of the key waiting (cut short by the key line index)...
           and not exists (
                 select 1 from webhook_event earlier
                  where earlier.ordering_key = candidate.ordering_key
                    and earlier.status in ('received', 'processing', 'failed')
                    and (earlier.received_at, earlier.id) < (candidate.received_at, candidate.id)
                    and (earlier.status <> 'failed' or earlier.next_attempt_at <= now()))
           -- ...and no row of the key being processed under a live lease.
           and not exists (
                 select 1 from webhook_event busy
                  where busy.ordering_key = candidate.ordering_key
                    and busy.status in ('received', 'processing', 'failed')
                    and busy.status = 'processing' and busy.next_attempt_at > now() and busy.id <> candidate.id)
         order by candidate.received_at, candidate.id
         limit $limit
           for update skip locked) line
 where claimed.id = line.id
returning claimed.id, claimed.stripe_event_id, claimed.type, claimed.payload, claimed.status, claimed.source,
          claimed.received_at, claimed.attempts`;

/** The inbox as a queue (ADR 0020): what the workers of every instance claim their events from. */
export class InboxClaims {
  constructor(private readonly orm: Orm) {}

  /** Claims up to `limit` events for `leaseMs`, first arrived first. */
  async claim(limit: number, leaseMs: number): Promise<ClaimedEvent[]> {
    // Whole numbers written into the text: a simple query (several statements) takes no parameters.
    if (!Number.isSafeInteger(limit) || !Number.isSafeInteger(leaseMs) || limit < 1 || leaseMs < 1)
      throw new Error(`a claim needs whole positive numbers, not ${limit} rows for ${leaseMs} ms`);
    const claim = CLAIM.replace('$leaseMs', String(leaseMs)).replace('$limit', String(limit));
    const results = await this.orm.em.getConnection().execute<ClaimedRow[][]>(`${CLAIM_LOCK};\n${claim}`);
    const rows = results[1] ?? [];
    return rows
      .map((row) => ({
        rowId: row.id,
        stripeEventId: row.stripe_event_id,
        type: row.type,
        event: eventOf(row),
        stored: storedEventOf(row),
      }))
      .sort((first, second) => first.stored.receivedAt.getTime() - second.stored.receivedAt.getTime());
  }
}

function eventOf(row: ClaimedRow): Stripe.Event | null {
  const payload = (
    typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload
  ) as Partial<Stripe.Event> | null;
  if (payload?.id !== row.stripe_event_id || typeof payload.type !== 'string' || !payload.data?.object)
    return null;
  return payload as Stripe.Event;
}
