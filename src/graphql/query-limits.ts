import {
  type DocumentNode,
  type ExecutionArgs,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  Lexer,
  NoSchemaIntrospectionCustomRule,
  parse,
  type SelectionSetNode,
  Source,
  specifiedRules,
  TokenKind,
  type ValidationRule,
  validate,
} from 'graphql';
import { BadUserInputError, ErrorCode } from '../errors';

/**
 * How big one GraphQL document may be. Our schema has no cycles, so honest queries are shallow and small (the
 * largest example in docs/api-examples.graphql is depth 5, about 60 fields); these stop a caller from making
 * one request cost as much as thousands (500 aliases of `viewer { invoices { … } }`, or introspection nested
 * a hundred levels deep) before anything runs.
 */
export interface QueryLimits {
  /** Deepest field nesting, fragments followed (`{ viewer { plan { key } } }` is 3). */
  maxDepth: number;
  /** Aliased fields in the whole operation, fragments followed. */
  maxAliases: number;
  /** Fields in the whole operation, fragments followed each time they are spread: a simple cost estimate. */
  maxFields: number;
  /** Lexical tokens in the document, counted before parsing, so an enormous document is never even parsed. */
  maxTokens: number;
}

/** The defaults: generous for every documented example and for Apollo Sandbox's introspection. */
export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  // graphql's own introspection query (what Sandbox sends) is 15 deep, through `ofType { ofType { … } }`.
  maxDepth: 20,
  maxAliases: 50,
  maxFields: 1000,
  maxTokens: 5000,
};

/**
 * Brackets (`{`, `[`, `(`) open at once, at most. graphql's parser recurses once per level and overflows the
 * stack at a few thousand levels; no honest document comes near this.
 */
export const MAX_BRACKET_NESTING = 100;

type Limit = 'depth' | 'aliases' | 'fields' | 'tokens' | 'nesting';

/** What a document measures, per operation. */
export interface QueryMeasure {
  depth: number;
  aliases: number;
  fields: number;
}

/**
 * Thrown (as a validation error) when a document is over a limit. Apollo reports validation errors as
 * GRAPHQL_VALIDATION_FAILED; `formatError` restores this error's own code, QUERY_TOO_COMPLEX.
 */
export class QueryTooComplexError extends GraphQLError {
  constructor(
    readonly limit: Limit,
    max: number,
    actual: number,
  ) {
    const amount = Number.isSafeInteger(actual) ? String(actual) : 'too many';
    const messages: Record<Limit, string> = {
      depth: `The query nests fields ${amount} levels deep; at most ${max} are allowed`,
      aliases: `The query has ${amount} aliased fields; at most ${max} are allowed: ask for less, or split it`,
      fields: `The query selects ${amount} fields; at most ${max} are allowed: ask for less, or split it`,
      tokens: `The document has more than ${max} tokens: ask for less, or split it`,
      nesting: `The document nests brackets more than ${max} deep`,
    };
    super(messages[limit], { extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, limit, max } });
  }
}

/**
 * Measures each operation of a document. Fragments are measured once and remembered, so a document that
 * spreads fragments into fragments (a "fragment bomb") costs linear time to measure while its count grows as
 * it would when executed. A fragment cycle counts as empty here: graphql's own rules refuse it.
 */
export function measureOperations(document: DocumentNode): QueryMeasure[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const measured = new Map<string, QueryMeasure>();
  const visiting = new Set<string>();

  const measureFragment = (name: string): QueryMeasure => {
    const known = measured.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    if (!fragment || visiting.has(name)) return { depth: 0, aliases: 0, fields: 0 };
    visiting.add(name);
    const result = measureSelections(fragment.selectionSet);
    visiting.delete(name);
    measured.set(name, result);
    return result;
  };

  const measureSelections = (selectionSet: SelectionSetNode): QueryMeasure => {
    const total: QueryMeasure = { depth: 0, aliases: 0, fields: 0 };
    for (const selection of selectionSet.selections) {
      let part: QueryMeasure;
      if (selection.kind === Kind.FIELD) {
        const inner = selection.selectionSet
          ? measureSelections(selection.selectionSet)
          : { depth: 0, aliases: 0, fields: 0 };
        part = {
          depth: inner.depth + 1,
          aliases: inner.aliases + (selection.alias ? 1 : 0),
          fields: inner.fields + 1,
        };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        part = measureSelections(selection.selectionSet);
      } else {
        part = measureFragment(selection.name.value);
      }
      total.depth = Math.max(total.depth, part.depth);
      total.aliases += part.aliases;
      total.fields += part.fields;
    }
    return total;
  };

  return document.definitions
    .filter((definition) => definition.kind === Kind.OPERATION_DEFINITION)
    .map((operation) => measureSelections(operation.selectionSet));
}

/**
 * Before parsing: counts the document's tokens and bracket nesting with graphql's (iterative) lexer, stopping at
 * the first limit passed, and refuses unstorable text in its string literals. A document that cannot be lexed
 * is left to the parser to report.
 */
export function precheckDocument(query: string, limits: QueryLimits): GraphQLError | null {
  const lexer = new Lexer(new Source(query));
  let tokens = 0;
  let nesting = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      tokens += 1;
      if (tokens > limits.maxTokens) return new QueryTooComplexError('tokens', limits.maxTokens, tokens);
      if (
        token.kind === TokenKind.BRACE_L ||
        token.kind === TokenKind.BRACKET_L ||
        token.kind === TokenKind.PAREN_L
      )
        nesting += 1;
      else if (
        token.kind === TokenKind.BRACE_R ||
        token.kind === TokenKind.BRACKET_R ||
        token.kind === TokenKind.PAREN_R
      )
        nesting -= 1;
      if (nesting > MAX_BRACKET_NESTING)
        return new QueryTooComplexError('nesting', MAX_BRACKET_NESTING, nesting);
      if (
        (token.kind === TokenKind.STRING || token.kind === TokenKind.BLOCK_STRING) &&
        isUnstorableText(token.value)
      )
        return unstorableTextError();
    }
  } catch {
    return null;
  }
  return null;
}

/**
 * The HTTP side of the prechecks: the `query` and `variables` of a GraphQL request body (POST) or query string
 * (GET). Null when there is nothing to refuse, or nothing to check (Apollo answers a malformed request).
 */
export function precheckRequest(
  payload: unknown,
  limits: QueryLimits,
  passed?: PassedDocuments,
): GraphQLError | null {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null;
  const { query, variables } = payload as { query?: unknown; variables?: unknown };
  if (typeof query !== 'string') return null;
  const refusal = passed ? passed.precheck(query) : precheckDocument(query, limits);
  return refusal ?? unstorableTextIn(parsedVariables(variables));
}

/**
 * Documents that passed `precheckDocument` under one server's limits, so that the operations a client sends
 * again and again are not lexed again on every request (the check depends on the document and the limits
 * only). Bounded: at most `maxEntries` documents of at most `maxLength` characters are kept
 * (under 1 MB), the oldest forgotten first; a document over the limits is never kept, so it is refused each time.
 */
export class PassedDocuments {
  private readonly documents = new Set<string>();

  constructor(
    private readonly limits: QueryLimits,
    private readonly maxEntries = 200,
    private readonly maxLength = 4096,
  ) {}

  precheck(query: string): GraphQLError | null {
    if (this.documents.has(query)) return null;
    const refusal = precheckDocument(query, this.limits);
    if (refusal === null && query.length <= this.maxLength) {
      if (this.documents.size >= this.maxEntries) {
        const oldest = this.documents.values().next().value;
        if (oldest !== undefined) this.documents.delete(oldest);
      }
      this.documents.add(query);
    }
    return refusal;
  }

  get size(): number {
    return this.documents.size;
  }
}

/** GET carries the variables as a JSON string; Apollo reports one that does not parse. */
function parsedVariables(variables: unknown): unknown {
  if (typeof variables !== 'string') return variables;
  try {
    return JSON.parse(variables);
  } catch {
    return null;
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text no input may carry: NUL (PostgreSQL cannot store it, so a write would fail halfway, after Stripe took
 * it) and lone UTF-16 surrogates (not Unicode: neither PostgreSQL nor Stripe would get back what was sent).
 */
export function isUnstorableText(text: string): boolean {
  return text.includes('\u0000') || LONE_SURROGATE.test(text);
}

/**
 * BAD_USER_INPUT when any string in `value` (the variables, walked without recursion: any depth of JSON is
 * safe) is unstorable; string literals in the document itself are checked by `precheckDocument`.
 */
export function unstorableTextIn(value: unknown): GraphQLError | null {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (isUnstorableText(item)) return unstorableTextError();
    } else if (typeof item === 'object' && item !== null) {
      // One by one: spreading a 500,000-element array into push() would overflow the stack.
      for (const member of Object.values(item)) pending.push(member);
    }
  }
  return null;
}

function unstorableTextError(): GraphQLError {
  return new BadUserInputError(
    'Text must be valid Unicode without the NUL character (U+0000): remove it and send again',
  );
}

/**
 * A validation rule that refuses an operation over `limits` with QUERY_TOO_COMPLEX, reported when the document
 * is entered, so it is the first error the caller sees.
 */
export function queryLimitsRule(limits: QueryLimits): ValidationRule {
  return (context) => ({
    Document(document) {
      for (const measure of measureOperations(document)) {
        if (measure.depth > limits.maxDepth)
          context.reportError(new QueryTooComplexError('depth', limits.maxDepth, measure.depth));
        else if (measure.aliases > limits.maxAliases)
          context.reportError(new QueryTooComplexError('aliases', limits.maxAliases, measure.aliases));
        else if (measure.fields > limits.maxFields)
          context.reportError(new QueryTooComplexError('fields', limits.maxFields, measure.fields));
      }
      return undefined;
    },
  });
}

/** The rules Apollo adds to graphql's own: the limits, and no introspection where it is off. */
export function extraValidationRules(limits: QueryLimits, introspection: boolean): ValidationRule[] {
  return introspection
    ? [queryLimitsRule(limits)]
    : [queryLimitsRule(limits), NoSchemaIntrospectionCustomRule];
}

/**
 * graphql-ws `onSubscribe`: parses and validates an operation arriving over the WebSocket with the same token
 * limit, query limits and introspection setting as HTTP (graphql-ws' default would apply none of them, and
 * would close the whole socket on a syntax error instead of answering it).
 */
export function checkSocketOperation(
  schema: GraphQLSchema,
  limits: QueryLimits,
  introspection: boolean,
): (payload: {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}) => ExecutionArgs | readonly GraphQLError[] {
  const rules = [...specifiedRules, ...extraValidationRules(limits, introspection)];
  return (payload) => {
    const refusal = precheckDocument(payload.query, limits) ?? unstorableTextIn(payload.variables);
    if (refusal) return [refusal];
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxTokens: limits.maxTokens });
    } catch (error) {
      return [
        new GraphQLError(error instanceof GraphQLError ? error.message : 'The query cannot be parsed', {
          extensions: { code: 'GRAPHQL_PARSE_FAILED' },
        }),
      ];
    }
    const errors = validate(schema, document, rules);
    if (errors.length > 0)
      return errors.map((error) =>
        error instanceof QueryTooComplexError
          ? error
          : new GraphQLError(error.message, {
              nodes: error.nodes,
              extensions: { ...error.extensions, code: 'GRAPHQL_VALIDATION_FAILED' },
            }),
      );
    return {
      schema,
      document,
      operationName: payload.operationName,
      variableValues: payload.variables,
    };
  };
}
