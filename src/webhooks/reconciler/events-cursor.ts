import type { Orm } from '../../database/database';
import { SyncCursor } from '../../entities';

/**
 * The `sync_cursor` row holding where the walk over Stripe's events stands: `"<created> <event id>"` of the last
 * event it got past (older rows hold only the `created` second; the walk then finds its place by time).
 */
export const EVENTS_CURSOR = 'stripe_events';

/** The last Stripe event the walk got past: its `created` second and id (null for a cursor from before ids). */
export interface EventsCursor {
  created: number;
  eventId: string | null;
}

/**
 * The place of a listing that has walked nothing yet, kept so that it is not mistaken later for a listing added
 * since (`CatchUp`): its walk starts at the oldest event Stripe keeps.
 */
export const FROM_THE_OLDEST: EventsCursor = { created: 0, eventId: null };

/**
 * Where one of the reconciler's walks over Stripe's events stands (`name`: its `sync_cursor` row, one per listing
 * of event types), kept in the database for every instance.
 */
export class EventsCursorStore {
  constructor(
    private readonly orm: Orm,
    readonly name: string = EVENTS_CURSOR,
  ) {}

  async read(): Promise<EventsCursor | null> {
    const row = await this.orm.em.fork().findOne(SyncCursor, { name: this.name });
    return row ? parseCursor(row.value) : null;
  }

  /** Writes `cursor` only if the row does not exist yet (a run at the same time may have written it). */
  async seed(cursor: EventsCursor): Promise<void> {
    await this.orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into sync_cursor (name, value, updated_at) values (?, ?, now()) on conflict (name) do nothing`,
        [this.name, formatCursor(cursor)],
      );
  }

  /**
   * The cursor only ever moves forward in time, so two runs at once (the script and the job) cannot move it
   * back past a second the other got past. Within one second either may win: the loser's events are listed
   * again and the inbox drops them.
   */
  async advance(cursor: EventsCursor): Promise<void> {
    await this.orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into sync_cursor (name, value, updated_at) values (?, ?, now())
         on conflict (name) do update set value = excluded.value, updated_at = now()
         where split_part(sync_cursor.value, ' ', 1)::bigint <= split_part(excluded.value, ' ', 1)::bigint`,
        [this.name, formatCursor(cursor)],
      );
  }
}

function formatCursor(cursor: EventsCursor): string {
  return cursor.eventId ? `${cursor.created} ${cursor.eventId}` : String(cursor.created);
}

function parseCursor(value: string): EventsCursor | null {
  const [created, eventId] = value.split(' ');
  const seconds = Number.parseInt(created ?? '', 10);
  if (!Number.isFinite(seconds)) return null;
  return { created: seconds, eventId: eventId || null };
}
