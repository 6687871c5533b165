import 'reflect-metadata';
import fc from 'fast-check';
import {
  coerceInputValue,
  type GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLSchema,
  isInputObjectType,
} from 'graphql';
import { compileScalarObjectCoercion, listCoercion } from '../../src/http/usage-input';
import { InMemoryPubSub } from '../../src/pubsub/in-memory-pubsub';
import { buildBillingSchema } from '../../src/resolvers';

let schema: GraphQLSchema;
let recordUsageInput: GraphQLInputObjectType;

beforeAll(async () => {
  const pubSub = new InMemoryPubSub();
  schema = await buildBillingSchema(pubSub, null);
  await pubSub.close();
  const type = schema.getType('RecordUsageInput');
  if (!isInputObjectType(type)) throw new Error('no RecordUsageInput');
  recordUsageInput = type;
});

/** What GraphQL answers for `value` as `type`: the coerced value, or `refused` with its first error. */
function graphqlCoerced(value: unknown, type: Parameters<typeof coerceInputValue>[1]) {
  let refused = false;
  const coerced = coerceInputValue(value, type, () => {
    refused = true;
  });
  return refused ? 'refused' : coerced;
}

/** Values near what a client sends, and the ways each field can be wrong. */
const fieldValue = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1.5, Number.MAX_SAFE_INTEGER),
  fc.constantFrom(null, true, [], {}, '2026-12-07T10:00:00Z', '2026-12-07T10:00:00.123+01:00', 'yesterday'),
);
const record = fc.record(
  {
    metric: fieldValue,
    quantity: fieldValue,
    idempotencyKey: fieldValue,
    accountId: fieldValue,
    occurredAt: fieldValue,
    priority: fieldValue,
  },
  { requiredKeys: [] },
);
const plausible = fc.record(
  {
    metric: fc.constantFrom('ai_requests', 'storage_mb'),
    quantity: fc.integer({ min: 0, max: 1_000_000 }),
    idempotencyKey: fc.string({ minLength: 1, maxLength: 12 }),
    accountId: fc.option(fc.string({ minLength: 1, maxLength: 12 })),
    occurredAt: fc.option(fc.constantFrom('2026-12-07T10:00:00Z', '2026-12-07T09:59:59.5-02:00')),
  },
  { requiredKeys: ['metric', 'quantity', 'idempotencyKey'] },
);
/** Well-formed but for one field RecordUsageInput lacks. */
const withUnknownField = plausible.map((fields) => ({ ...fields, priority: 1 }));

describe("the usage routes' compiled coercion of RecordUsageInput", () => {
  it('answers what coerceInputValue answers for every value it takes, and leaves the rest to it', () => {
    const one = compileScalarObjectCoercion(recordUsageInput);
    if (!one) throw new Error('RecordUsageInput should compile');
    const many = listCoercion(one);
    const listType = new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(recordUsageInput)));
    let taken = 0;
    fc.assert(
      fc.property(
        fc.array(fc.oneof(plausible, plausible, plausible, withUnknownField, record, fieldValue), {
          maxLength: 4,
        }),
        (input) => {
          const fast = many(input);
          const graphql = graphqlCoerced(input, listType);
          // Whatever it takes, GraphQL takes alike; what GraphQL refuses, it never takes.
          if (fast !== undefined) {
            taken++;
            expect(JSON.parse(JSON.stringify(fast))).toEqual(JSON.parse(JSON.stringify(graphql)));
          }
          if (graphql === 'refused') expect(fast).toBeUndefined();
        },
      ),
      { numRuns: 2_000 },
    );
    // The property says something only if most well-formed batches go the fast way.
    expect(taken).toBeGreaterThan(200);
  });

  it('takes a well-formed record with a date as GraphQL does (a Date), and refuses nothing itself', () => {
    const one = compileScalarObjectCoercion(recordUsageInput);
    const value = {
      metric: 'ai_requests',
      quantity: 3,
      idempotencyKey: 'k',
      occurredAt: '2026-12-07T10:00:00Z',
    };
    const fast = one?.(value);
    expect(fast?.occurredAt).toBeInstanceOf(Date);
    expect((fast?.occurredAt as Date).toISOString()).toBe('2026-12-07T10:00:00.000Z');
    expect(one?.({ ...value, quantity: '3' })).toBeUndefined();
    expect(one?.({ ...value, extra: 1 })).toBeUndefined();
    expect(listCoercion(one ?? (() => undefined))(value)).toBeUndefined();
  });
});
