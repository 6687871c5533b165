import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  buildSchema,
  GraphQLError,
  getIntrospectionQuery,
  Kind,
  parse,
  specifiedRules,
  validate,
} from 'graphql';
import { loadConfig } from '../../src/config';
import { formatError } from '../../src/graphql/format-error';
import {
  DEFAULT_QUERY_LIMITS,
  isUnstorableText,
  MAX_BRACKET_NESTING,
  measureOperations,
  precheckDocument,
  PassedDocuments,
  precheckRequest,
  queryLimitsRule,
  QueryTooComplexError,
} from '../../src/graphql/query-limits';

const schema = buildSchema(readFileSync(resolve(__dirname, '../../schema.graphql'), 'utf8'));
const examples = readFileSync(resolve(__dirname, '../../docs/api-examples.graphql'), 'utf8');

function limitErrors(query: string, limits = DEFAULT_QUERY_LIMITS) {
  return validate(schema, parse(query), [queryLimitsRule(limits)]);
}

describe('query limits', () => {
  it('let every documented example and the introspection query through with the defaults', () => {
    const document = parse(examples);
    const operations = document.definitions.filter(
      (definition) => definition.kind === Kind.OPERATION_DEFINITION,
    );
    expect(operations.length).toBeGreaterThan(20);
    for (const operation of operations) {
      const single = { kind: Kind.DOCUMENT, definitions: [operation] } as const;
      expect(validate(schema, single, [...specifiedRules, queryLimitsRule(DEFAULT_QUERY_LIMITS)])).toEqual(
        [],
      );
    }
    expect(precheckDocument(examples, DEFAULT_QUERY_LIMITS)).toBeNull();
    const introspection = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      inputValueDeprecation: true,
    });
    expect(precheckDocument(introspection, DEFAULT_QUERY_LIMITS)).toBeNull();
    expect(limitErrors(introspection)).toEqual([]);
  });

  it('measure depth, aliases and fields through fragments and inline fragments', () => {
    const [measure] = measureOperations(
      parse(`query { a: viewer { ...Plan ... on Account { id } } b: viewer { id } }
        fragment Plan on Account { plan { key prices { amount } } }`),
    );
    // viewer > plan > prices > amount is 4 deep; 2 aliases; viewer, plan, key, prices, amount, id, viewer, id.
    expect(measure).toEqual({ depth: 4, aliases: 2, fields: 8 });
  });

  it('refuse an operation over each limit with QUERY_TOO_COMPLEX, naming the limit', () => {
    const limits = { maxDepth: 3, maxAliases: 2, maxFields: 5, maxTokens: 1000 };
    const cases: Array<[string, string]> = [
      ['{ viewer { plan { prices { amount } } } }', 'depth'],
      ['{ a: plans { key } b: plans { key } c: plans { key } }', 'aliases'],
      ['{ plans { key name description trialDays salesLed } }', 'fields'],
    ];
    for (const [query, limit] of cases) {
      const [error] = limitErrors(query, limits);
      expect(error).toBeInstanceOf(QueryTooComplexError);
      expect(error.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit });
    }
  });

  it('measure a fragment bomb in linear time and refuse it', () => {
    const fragments = ['fragment F0 on Query { plans { key } }'];
    for (let level = 1; level <= 60; level++)
      fragments.push(`fragment F${level} on Query { ...F${level - 1} ...F${level - 1} }`);
    const started = performance.now();
    const [error] = limitErrors(`{ ...F60 } ${fragments.join(' ')}`);
    expect(performance.now() - started).toBeLessThan(500);
    expect(error.message).toMatch(/too many fields/);
    expect(error.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'fields' });
  });

  it('survive a fragment cycle (graphql refuses it; the measure must not loop)', () => {
    expect(
      measureOperations(parse('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }')),
    ).toEqual([{ depth: 0, aliases: 0, fields: 0 }]);
  });

  it('count tokens and bracket nesting before parsing, so the parser never overflows its stack', () => {
    const deep = `{${' a {'.repeat(5000)}${' }'.repeat(5000)} }`;
    expect(() => parse(deep)).toThrow(RangeError);
    expect(
      precheckDocument(deep, { ...DEFAULT_QUERY_LIMITS, maxTokens: 1_000_000 })?.extensions,
    ).toMatchObject({
      code: 'QUERY_TOO_COMPLEX',
      limit: 'nesting',
      max: MAX_BRACKET_NESTING,
    });
    expect(
      precheckDocument(`{ ${'__typename '.repeat(5001)}}`, DEFAULT_QUERY_LIMITS)?.extensions,
    ).toMatchObject({
      code: 'QUERY_TOO_COMPLEX',
      limit: 'tokens',
    });
    // A document that does not even lex is left to the parser's own, clearer, error.
    expect(precheckDocument('{ viewer { id } "unterminated', DEFAULT_QUERY_LIMITS)).toBeNull();
  });

  it('refuse NUL and lone surrogates in literals and variables, at any depth, and keep other text', () => {
    for (const text of ['a\u0000b', 'x\ud800', '\udc00y']) expect(isUnstorableText(text)).toBe(true);
    for (const text of ["'; drop table x; --", '😀 Zoë', 'שלום\u202e', 'Z̷̢a̶l̴g̸o', '\u0007 bell'])
      expect(isUnstorableText(text)).toBe(false);
    expect(
      precheckDocument(
        'mutation { updateCustomer(input: { name: "a\\u0000b" }) { id } }',
        DEFAULT_QUERY_LIMITS,
      )?.extensions,
    ).toMatchObject({ code: 'BAD_USER_INPUT' });
    let nested: unknown = 'x\u0000';
    for (let level = 0; level < 100_000; level++) nested = [nested];
    const refusal = precheckRequest(
      { query: '{ __typename }', variables: { input: nested } },
      DEFAULT_QUERY_LIMITS,
    );
    expect(refusal?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(
      precheckRequest(
        { query: '{ __typename }', variables: JSON.stringify({ a: 'x\ud800' }) },
        DEFAULT_QUERY_LIMITS,
      ),
    ).not.toBeNull();
    expect(
      precheckRequest(
        { query: '{ __typename }', variables: { many: new Array(500_000).fill('ok') } },
        DEFAULT_QUERY_LIMITS,
      ),
    ).toBeNull();
    expect(precheckRequest([{ query: '{ __typename }' }], DEFAULT_QUERY_LIMITS)).toBeNull();
  });

  it('remember documents that passed, bounded, and still check variables and refuse what is over a limit', () => {
    const passed = new PassedDocuments(DEFAULT_QUERY_LIMITS, 2, 100);
    const tooMany = `{ ${'__typename '.repeat(5001)}}`;
    for (let round = 0; round < 2; round++) {
      // Refused each time, never remembered.
      expect(precheckRequest({ query: tooMany }, DEFAULT_QUERY_LIMITS, passed)?.extensions).toMatchObject({
        code: 'QUERY_TOO_COMPLEX',
      });
      // A remembered document still has its variables checked on every request.
      expect(
        precheckRequest(
          { query: '{ __typename }', variables: { a: 'x\u0000' } },
          DEFAULT_QUERY_LIMITS,
          passed,
        )?.extensions,
      ).toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    expect(passed.size).toBe(1);
    const long = `{ ${'__typename '.repeat(10)}}`;
    expect(passed.precheck(long)).toBeNull();
    expect(passed.size).toBe(1); // longer than 100 characters: checked, not kept
    passed.precheck('{ a: __typename }');
    passed.precheck('{ b: __typename }');
    expect(passed.size).toBe(2); // at most two kept: the oldest made room
    // Documents are measured against the limits the set was made with.
    const strict = new PassedDocuments({ ...DEFAULT_QUERY_LIMITS, maxTokens: 3 });
    expect(strict.precheck('{ __typename }')).toBeNull();
    expect(strict.precheck('{ a: __typename }')?.extensions).toMatchObject({ limit: 'tokens' });
  });

  it('keep QUERY_TOO_COMPLEX when Apollo wraps it as GRAPHQL_VALIDATION_FAILED', () => {
    const original = new QueryTooComplexError('aliases', 50, 500);
    const wrapped = new GraphQLError(original.message, {
      originalError: original,
      extensions: { ...original.extensions, code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const onUnexpected = jest.fn();
    expect(formatError(wrapped.toJSON(), onUnexpected, wrapped).extensions).toEqual({
      code: 'QUERY_TOO_COMPLEX',
      limit: 'aliases',
      max: 50,
    });
    expect(onUnexpected).not.toHaveBeenCalled();
  });

  it('are configured from the environment, with the defaults otherwise', () => {
    const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', AUTH_JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig(base).graphql.limits).toEqual(DEFAULT_QUERY_LIMITS);
    expect(
      loadConfig({
        ...base,
        GRAPHQL_MAX_DEPTH: '8',
        GRAPHQL_MAX_ALIASES: '5',
        GRAPHQL_MAX_FIELDS: '200',
        GRAPHQL_MAX_TOKENS: '900',
      }).graphql.limits,
    ).toEqual({ maxDepth: 8, maxAliases: 5, maxFields: 200, maxTokens: 900 });
    expect(() => loadConfig({ ...base, GRAPHQL_MAX_DEPTH: '1' })).toThrow(/GRAPHQL_MAX_DEPTH/);
  });
});
