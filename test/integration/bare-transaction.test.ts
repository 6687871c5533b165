import pg from 'pg';
import { inBareTransaction, inBareTransactionWithFirst } from '../../src/database/bare-transaction';
import type { Orm } from '../../src/database/database';
import { startTestService, type TestService } from '../support/service';

/**
 * `inBareTransaction` (issue 14, the webhook worker's hot path): `BEGIN` and the opening statement in one round
 * trip, and the rest of the transaction below the ORM. What it commits is there; what it rolls back, or what an
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

function opening(label: string) {
  return [{ text: OPENING, values: [label, new Date()] }];
}

/** The opening of `inBareTransactionWithFirst`: sent with work's first statement. */
function firstOpening(label: string, proceeds: (rows: Array<{ label: string }>) => boolean = () => true) {
  return { text: OPENING, values: [label, new Date()], proceeds };
}

it('commits the opening and the statements after it, together; a rollback keeps neither; values are literals', async () => {
  const committed = await inBareTransaction<[Array<{ label: string }>], string>(
    orm,
    opening("o'brien"),
    async ([rows], sql) => {
      await sql('insert into bare_transaction_probe (label, at) values (?, now())', ['after commit']);
      return { commit: true, value: rows[0].label };
    },
  );
  expect(committed).toBe("o'brien");
  const rolledBack = await inBareTransaction(orm, opening('rolled back'), async (_rows, sql) => {
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

it('opens with several statements, writes arrays as literals, and sends a closing statement with its COMMIT', async () => {
  const awkward = ['a "quoted", {braced}', 'back\\slash', "it's", null];
  let closedWith: object[] = [];
  const answered = await inBareTransaction<[Array<{ label: string }>, Array<{ labels: string[] }>], number>(
    orm,
    [
      ...opening('opened first'),
      {
        text: 'select array_agg(label order by n) as labels from unnest(?::text[]) with ordinality as t(label, n)',
        values: [awkward],
      },
    ],
    async ([first, [arrays]]) => {
      expect(first).toEqual([{ label: 'opened first' }]);
      expect(arrays?.labels).toEqual(awkward);
      return {
        commit: true,
        value: 7,
        closing: {
          text: 'insert into bare_transaction_probe (label, at) select unnest(?::text[]), ? returning label',
          values: [['closed one', 'closed two'], new Date()],
          read: (rows) => {
            closedWith = rows;
          },
        },
      };
    },
  );
  expect(answered).toBe(7);
  expect(closedWith).toEqual([{ label: 'closed one' }, { label: 'closed two' }]);
  expect(await labels()).toEqual(expect.arrayContaining(['closed one', 'closed two', 'opened first']));

  // A closing statement that fails (a duplicate key) skips its COMMIT: nothing of the transaction stays.
  await expect(
    inBareTransaction(orm, opening('never kept'), async () => ({
      commit: true,
      value: 1,
      closing: {
        text: 'insert into bare_transaction_probe (label, at) values (?, ?)',
        values: ['closed one', new Date()],
        read: () => undefined,
      },
    })),
  ).rejects.toThrow(/duplicate key/);
  expect(await labels()).not.toContain('never kept');
});

it('writes a nested array as a multidimensional array literal, and an undefined value as NULL (as pg binds them)', async () => {
  const answered = await inBareTransaction<
    [Array<{ grid: number[][]; words: string[][]; missing: null }>],
    true
  >(
    orm,
    [
      {
        text: 'select ?::int[][] as grid, ?::text[][] as words, ?::text as missing',
        // A closing statement's values come from `unknown[]` (credit-save-batch.ts): undefined is possible there.
        values: [
          [
            [1, 2],
            [3, 4],
          ],
          [
            ['a "q"', '{b}'],
            ['c\\d', 'NULL'],
          ],
          undefined as unknown as null,
        ],
      },
    ],
    async ([[row]]) => {
      expect(row).toEqual({
        grid: [
          [1, 2],
          [3, 4],
        ],
        words: [
          ['a "q"', '{b}'],
          ['c\\d', 'NULL'],
        ],
        missing: null,
      });
      return { commit: false };
    },
  );
  expect(answered).toBeNull();
});

it('a closing statement prepared in a transaction that rolled back stays prepared (PREPARE is not transactional)', async () => {
  const closingText = 'insert into bare_transaction_probe (label, at) values (?, ?) returning label';
  const closing = (label: string) => ({
    text: closingText,
    values: [label, new Date()],
    read: () => undefined,
  });
  // More rounds than the pool has connections: each connection prepares the statement inside a transaction whose
  // closing fails (a duplicate key) and rolls back, then runs it again from its cache, and must find it there.
  for (let round = 0; round < 12; round++) {
    await expect(
      inBareTransaction(orm, opening(`cached fails ${round}`), async () => ({
        commit: true,
        value: 1,
        closing: closing("o'brien"),
      })),
    ).rejects.toThrow(/duplicate key/);
    await inBareTransaction(orm, opening(`cached opening ${round}`), async () => ({
      commit: true,
      value: 1,
      closing: closing(`cached closing ${round}`),
    }));
  }
  // A closing statement PostgreSQL cannot prepare is not remembered, and rolls its transaction back.
  await expect(
    inBareTransaction(orm, opening('unpreparable'), async () => ({
      commit: true,
      value: 1,
      closing: { text: 'insert into no_such_table values (?)', values: ['x'], read: () => undefined },
    })),
  ).rejects.toThrow(/no_such_table/);
  const kept = await labels();
  expect(kept.filter((label) => /^cached (opening|closing)/.test(label))).toHaveLength(24);
  expect(kept).not.toContain('unpreparable');
  expect(kept.filter((label) => label.startsWith('cached fails'))).toEqual([]);
});

it('rolls back once when the work fails: no second ROLLBACK outside the transaction (a warning in the server’s log)', async () => {
  const sent: string[] = [];
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
    if (typeof args[0] === 'string') sent.push(args[0]);
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
  try {
    await expect(
      inBareTransaction(orm, opening('failed once'), async () => {
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
  } finally {
    pg.Client.prototype.query = query as typeof pg.Client.prototype.query;
  }
  expect(sent.filter((text) => text === 'ROLLBACK')).toHaveLength(1);
});

it('sends BEGIN, the opening and the first statement as one query, which sees the opening’s write', async () => {
  const queries: string[] = [];
  const originalQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  const query = jest.spyOn(pg.Client.prototype, 'query');
  query.mockImplementation(function (this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    queries.push(typeof first === 'string' ? first : String((first as { text?: string }).text));
    return originalQuery.apply(this, args) as never;
  });
  try {
    // Twice: the first time on a connection also prepares the statements (once per connection).
    for (const label of ['first', 'second']) {
      queries.length = 0;
      const seen = await inBareTransactionWithFirst(orm, firstOpening(`pipelined ${label}`), async (sql) => {
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
  const answer = await inBareTransactionWithFirst(
    orm,
    firstOpening('declined', () => false),
    async (sql) => {
      await sql('insert into bare_transaction_probe (label, at) values (?, now())', ['declined first']);
      reachedSecond = true;
      return { commit: true, value: 'committed anyway' };
    },
  );
  expect(answer).toBeNull();
  expect(reachedSecond).toBe(false);
  // A work that swallows the refusal still commits nothing.
  const swallowed = await inBareTransactionWithFirst(
    orm,
    firstOpening('declined again', () => false),
    async (sql) => {
      await sql('insert into bare_transaction_probe (label, at) values (?, now())', ['swallowed']).catch(
        () => undefined,
      );
      return { commit: true, value: 'committed anyway' };
    },
  );
  expect(swallowed).toBeNull();
  // A work with no statement gets its opening sent alone, and the refusal holds there too.
  expect(
    await inBareTransactionWithFirst(orm, firstOpening('alone'), async () => ({
      commit: true,
      value: 'alone',
    })),
  ).toBe('alone');
  expect(
    await inBareTransactionWithFirst(
      orm,
      firstOpening('alone declined', () => false),
      async () => ({ commit: true, value: 1 }),
    ),
  ).toBeNull();
  const kept = await labels();
  expect(kept).toContain('alone');
  for (const label of ['declined', 'declined first', 'declined again', 'swallowed', 'alone declined'])
    expect(kept).not.toContain(label);
});

it('a first statement with a value that has no literal form (an object) is bound, after the opening sent alone', async () => {
  const value = await inBareTransactionWithFirst(orm, firstOpening('bound'), async (sql) => {
    const [row] = await sql<{ value: { name: string } }>('select ?::jsonb as value', [
      { name: "it's bound" },
    ]);
    return { commit: true, value: row.value };
  });
  expect(value).toEqual({ name: "it's bound" });
  expect(
    await inBareTransactionWithFirst(
      orm,
      firstOpening('bound declined', () => false),
      async (sql) => {
        await sql('select ?::jsonb as value', [{ name: 'never' }]);
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
  const counts = await inBareTransactionWithFirst(orm, firstOpening('together'), async (sql) => {
    const count = (label: string) =>
      sql<{ count: string }>('select count(*) as count from bare_transaction_probe where label = ?', [label]);
    const [first, second] = await Promise.all([count('together'), count('together')]);
    return { commit: true, value: [first[0].count, second[0].count] };
  });
  // Sent twice, the opening's insert would have failed on its key.
  expect(counts).toEqual(['1', '1']);
});
