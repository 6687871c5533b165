import pg from 'pg';

/** The query texts every `pg` client of this process sends while `counting` (statements counted at the client). */
export interface QueryCounter {
  readonly texts: string[];
  counting: boolean;
  /** Puts pg's own `query` back. */
  restore(): void;
}

export function countQueries(): QueryCounter {
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  const counter: QueryCounter = {
    texts: [],
    counting: false,
    restore: () => {
      pg.Client.prototype.query = original as typeof pg.Client.prototype.query;
    },
  };
  pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
    const [first] = args;
    const text = typeof first === 'string' ? first : (first as { text?: string } | null)?.text;
    if (counter.counting && typeof text === 'string') counter.texts.push(text);
    return original.apply(this, args);
  } as typeof pg.Client.prototype.query;
  return counter;
}
