import { Client } from 'pg';
import { inBareTransaction } from '../../src/database/bare-transaction';
import type { Orm } from '../../src/database/database';
import { startTestService, type TestService } from '../support/service';

/**
 * `inBareTransaction` (issue 14, the webhook worker's hot path): `BEGIN`, the opening statement and the work's
 * first statement in one round trip, and the rest of the transaction below the ORM. What it commits is there; what it rolls back, or what an
 * error interrupts, is not, and the connection goes back to the pool usable (no transaction left open on it).
 */
let service: TestService;
let orm: Orm;

const OPENING = 'insert into bare_transaction_probe (label, at) values (?, ?) returning label';

beforeAll(async () => {
  service = await startTestService();
  orm = service.app.orm;
  await orm.em
    .getConnection()
    .execute('create table bare_transaction_probe (label text primary key, at timestamptz not null)');
});
afterAll(() => service.stop());

async function labels(): Promise<string[]> {
  const rows = await orm.em
    .getConnection()
    .execute<Array<{ label: string }>>('select label from bare_transaction_probe order by label');
  return rows.map((row) => row.label);
}

function opening(label: string, proceeds: (rows: Array<{ label: string }>) => boolean = () => true) {
  return { text: OPENING, values: [label, new Date()], proceeds };
}

it('commits the opening and the statements after it, together; a rollback keeps neither; values are literals', async () => {
  const committed = await inBareTransaction<{ label: string }, string>(
    orm,
    opening("o'brien"),
    async (sql) => {
      await sql('insert into bare_transaction_probe (label, at) values (?, now())', ['after commit']);
      return { commit: true, value: 'committed' };
    },
  );
  expect(committed).toBe('committed');
  const rolledBack = await inBareTransaction(orm, opening('rolled back'), async (sql) => {
    await sql('insert into bare_transaction_probe (label, at) values (?, now())', ['after rollback']);
    return { commit: false };
  });
  expect(rolledBack).toBeNull();
  expect(await labels()).toEqual(['after commit', "o'brien"]);
});

it('an error rolls the whole transaction back, is rethrown, and leaves every connection usable', async () => {
  // More attempts than the pool has connections: each one must come back out of its transaction.
  for (let attempt = 0; attempt < 12; attempt++) {
    await expect(
      inBareTransaction(orm, opening(`failed ${attempt}`), async () => {
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    // The opening itself failing (a duplicate key) rolls back too.
    await expect(
      inBareTransaction(orm, opening("o'brien"), async () => ({ commit: true, value: 1 })),
    ).rejects.toThrow(/duplicate key/);
  }
  expect(await labels()).toEqual(['after commit', "o'brien"]);
  const inTransaction = await orm.em
    .getConnection()
    .execute<Array<{ open: boolean }>>('select now() <> statement_timestamp() as open');
  expect(inTransaction[0].open).toBe(false);
});

it('sends BEGIN, the opening and the first statement as one query, which sees the opening’s write', async () => {
  const queries: string[] = [];
  const originalQuery = Client.prototype.query as (...args: unknown[]) => unknown;
  const query = jest.spyOn(Client.prototype, 'query');
  query.mockImplementation(function (this: Client, ...args: unknown[]) {
    const first = args[0];
    queries.push(typeof first === 'string' ? first : String((first as { text?: string }).text));
    return originalQuery.apply(this, args) as never;
  });
  try {
    // Twice: the first time on a connection also prepares the statements (once per connection).
    for (const label of ['first', 'second']) {
      queries.length = 0;
      const seen = await inBareTransaction(orm, opening(`pipelined ${label}`), async (sql) => {
        const [row] = await sql<{ count: string }>(
          'select count(*) as count from bare_transaction_probe where label = ?',
          [`pipelined ${label}`],
        );
        await sql('update bare_transaction_probe set at = now() where label = ?', [`pipelined ${label}`]);
        return { commit: true, value: row.count };
      });
      expect(seen).toBe('1');
    }
    // Opening and first statement in one query; the second statement; COMMIT: three, not four.
    const sent = queries.filter((text) => !text.startsWith('PREPARE'));
    expect(sent).toHaveLength(3);
    expect(sent[0]).toMatch(
      /^BEGIN; EXECUTE bare_\w+\('pipelined second', '[^']+'\); EXECUTE bare_\w+\('pipelined second'\)$/,
    );
    expect(sent[2]).toBe('COMMIT');
  } finally {
    query.mockRestore();
  }
  expect(await labels()).toEqual(expect.arrayContaining(['pipelined first', 'pipelined second']));
});

it('when the opening says not to proceed, what the first statement did is rolled back and work goes no further', async () => {
  let reachedSecond = false;
  const answer = await inBareTransaction(
    orm,
    opening('declined', () => false),
    async (sql) => {
      await sql('insert into bare_transaction_probe (label, at) values (?, now())', ['declined first']);
      reachedSecond = true;
      return { commit: true, value: 'committed anyway' };
    },
  );
  expect(answer).toBeNull();
  expect(reachedSecond).toBe(false);
  // A work that swallows the refusal still commits nothing.
  const swallowed = await inBareTransaction(
    orm,
    opening('declined again', () => false),
    async (sql) => {
      await sql('insert into bare_transaction_probe (label, at) values (?, now())', ['swallowed']).catch(
        () => undefined,
      );
      return { commit: true, value: 'committed anyway' };
    },
  );
  expect(swallowed).toBeNull();
  // A work with no statement gets its opening sent alone, and the refusal holds there too.
  expect(await inBareTransaction(orm, opening('alone'), async () => ({ commit: true, value: 'alone' }))).toBe(
    'alone',
  );
  expect(
    await inBareTransaction(
      orm,
      opening('alone declined', () => false),
      async () => ({ commit: true, value: 1 }),
    ),
  ).toBeNull();
  const kept = await labels();
  expect(kept).toContain('alone');
  for (const label of ['declined', 'declined first', 'declined again', 'swallowed', 'alone declined'])
    expect(kept).not.toContain(label);
});

it('a first statement with a value that has no literal form is bound, after the opening sent alone', async () => {
  const labels = await inBareTransaction(orm, opening('bound'), async (sql) => {
    const [row] = await sql<{ labels: string[] }>('select ?::text[] as labels', [["it's", 'bound']]);
    return { commit: true, value: row.labels };
  });
  expect(labels).toEqual(["it's", 'bound']);
  expect(
    await inBareTransaction(
      orm,
      opening('bound declined', () => false),
      async (sql) => {
        await sql('select ?::text[] as labels', [['never']]);
        return { commit: true, value: 'committed anyway' };
      },
    ),
  ).toBeNull();
  const kept = await orm.em
    .getConnection()
    .execute<Array<{ label: string }>>("select label from bare_transaction_probe where label like 'bound%'");
  expect(kept.map((row) => row.label)).toEqual(['bound']);
});

it('statements sent before the first one is answered wait for it: the opening goes out once', async () => {
  const counts = await inBareTransaction(orm, opening('together'), async (sql) => {
    const count = (label: string) =>
      sql<{ count: string }>('select count(*) as count from bare_transaction_probe where label = ?', [label]);
    const [first, second] = await Promise.all([count('together'), count('together')]);
    return { commit: true, value: [first[0].count, second[0].count] };
  });
  // Sent twice, the opening's insert would have failed on its key.
  expect(counts).toEqual(['1', '1']);
});
