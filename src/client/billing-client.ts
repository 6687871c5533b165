/**
 * A small typed client for the billing service's GraphQL API, for other Node services (the AI gateway).
 *
 * It imports nothing but Node built-ins and the sibling files of this folder: other packages install it as
 * `coditect-billing/client` and must not pull in the server (MikroORM, Fastify, Stripe). Its declarations also
 * name the types of `@graphql-typed-document-node/core`, a dependency with no code.
 */

import {
  CommitTokensDocument,
  type CommitUsageInput,
  CommitUsageDocument,
  type FeatureAccessFieldsFragment,
  FeatureAccessFieldsFragmentDoc,
  RecordUsageBatchDocument,
  RecordUsageDocument,
  type RecordUsageInput as RecordUsageWireInput,
  ReleaseUsageDocument,
  type ReleaseUsageInput,
  ReserveTokensDocument,
  ReserveUsageDocument,
  type ReserveUsageInput,
  type ReserveUsageMutation,
  TypedDocumentString,
  type UsageRecordResultFieldsFragment,
  type UsageSummaryFieldsFragment,
} from './generated-operations';

// The types of what the client sends and answers are generated from schema.graphql and operations.graphql
// (`npm run codegen`); only where the client hands out a `Date` for an ISO string does it say more.
export type { CommitUsageInput, ReleaseUsageInput, ReserveUsageInput };

/** Why a feature is refused; the service may add reasons, so any other string can arrive too. */
export type FeatureAccessReason = 'NOT_IN_PLAN' | 'UNKNOWN_FEATURE' | 'LIMIT_REACHED' | (string & {});

/** `account(id).feature(key)`: whether the account may use a feature or metric now, and why not. */
export type FeatureAccess = Omit<FeatureAccessFieldsFragment, 'reason'> & {
  /** null when allowed. */
  reason: FeatureAccessReason | null;
};

/** One use of a metric, as `recordUsage` takes it. */
export type RecordUsageInput = Omit<RecordUsageWireInput, 'occurredAt'> & {
  /** When it was used; default now. Must be in the current usage period. */
  occurredAt?: Date;
};

/** A metric's usage in the current billing period. */
export type UsageSummary = Omit<UsageSummaryFieldsFragment, 'periodStart' | 'periodEnd'> & {
  periodStart: Date;
  periodEnd: Date;
};

/** `reserveUsage`: a hold on part of a metric's allowance before serving work. */
export type UsageReservation = Omit<ReserveUsageMutation['reserveUsage'], 'expiresAt' | 'usage'> & {
  expiresAt: Date;
  /** The metric's usage; `remaining` counts what holds take. */
  usage: UsageSummary;
};

export type UsageRecordResult = Omit<UsageRecordResultFieldsFragment, 'usage'> & {
  /** The metric's usage after this record. */
  usage: UsageSummary;
};

/** A model call to reserve: priced in credits by the service's rate card on the estimate. */
export interface ReserveTokensInput {
  model: string;
  inputTokens: number;
  /** The most output the call may produce (its max_tokens). */
  maxOutputTokens: number;
  /** Service role: the account the call is for. */
  accountId?: string;
  /** The team member the call is for (member credit limits apply). */
  memberId?: string;
  ttlSeconds?: number;
  idempotencyKey?: string;
}

/** A model call's hold on credits. */
export interface TokenReservation {
  id: string;
  model: string;
  /** Credits held for the estimate. */
  credits: number;
  expiresAt: Date;
  duplicate: boolean;
}

export interface CommitTokensInput {
  reservationId: string;
  inputTokens: number;
  outputTokens: number;
  accountId?: string;
}

/** What a committed model call cost (at the rate of its reservation) and how it was paid. */
export interface TokenCommitResult {
  duplicate: boolean;
  credits: number;
  burned: number;
  uncovered: number;
}

/**
 * The codes a `BillingClientError` carries: the service's `extensions.code`, or one of the client's own for
 * failures that never got a GraphQL answer.
 */
export const BillingClientErrorCode = {
  // The service's codes (`extensions.code`).
  USAGE_LIMIT_EXCEEDED: 'USAGE_LIMIT_EXCEEDED',
  FEATURE_NOT_IN_PLAN: 'FEATURE_NOT_IN_PLAN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  // The client's own.
  /** No complete answer within `timeoutMs`. */
  TIMEOUT: 'TIMEOUT',
  /** The request never got an HTTP answer: connection refused or reset, DNS, TLS. */
  NETWORK_ERROR: 'NETWORK_ERROR',
  /** An HTTP answer without GraphQL errors but not a success either (a proxy's 502 page, …); see `status`. */
  HTTP_ERROR: 'HTTP_ERROR',
  /** A 2xx answer that is not the GraphQL result asked for. */
  INVALID_RESPONSE: 'INVALID_RESPONSE',
} as const;

/** A known code, or any other `extensions.code` the service may send. */
export type BillingClientErrorCode =
  | (typeof BillingClientErrorCode)[keyof typeof BillingClientErrorCode]
  | (string & {});

/**
 * Codes that will fail the same way however often the call is repeated. Everything else (timeouts, network
 * errors, 5xx, RATE_LIMITED, an expired token a token provider will renew, codes this client does not know)
 * is worth a retry.
 */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  BillingClientErrorCode.USAGE_LIMIT_EXCEEDED,
  BillingClientErrorCode.FEATURE_NOT_IN_PLAN,
  BillingClientErrorCode.BAD_USER_INPUT,
  BillingClientErrorCode.FORBIDDEN,
  BillingClientErrorCode.NOT_FOUND,
  BillingClientErrorCode.GRAPHQL_VALIDATION_FAILED,
  BillingClientErrorCode.GRAPHQL_PARSE_FAILED,
]);

/** Every failure of a `BillingClient` call: branch on `code`, never on `message`. */
export class BillingClientError extends Error {
  override readonly name = 'BillingClientError';

  constructor(
    readonly code: BillingClientErrorCode,
    message: string,
    readonly details: {
      /** The HTTP status, when there was an answer. */
      status?: number;
      /** The GraphQL error's `extensions`, when the service sent one. */
      extensions?: Readonly<Record<string, unknown>>;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get status(): number | undefined {
    return this.details.status;
  }

  /** Whether the same call may succeed later (with the same idempotency key, so it never counts twice). */
  get retryable(): boolean {
    if (this.code === BillingClientErrorCode.HTTP_ERROR) {
      const status = this.details.status ?? 0;
      return status >= 500 || status === 429 || status === 408;
    }
    return !PERMANENT_CODES.has(this.code);
  }
}

export interface BillingClientOptions {
  /** The billing service's GraphQL endpoint, e.g. `http://billing.internal:4000/graphql`. */
  url: string;
  /**
   * A bearer JWT whose `roles` include `service`, or a function returning one (called before every request,
   * so it can renew a token before it expires).
   */
  token: string | (() => string | Promise<string>);
  /** Per request, from sending to the whole answer read. Default 5000 ms. */
  timeoutMs?: number;
  /** Default: the global `fetch` (Node ≥ 20). */
  fetch?: typeof fetch;
  /**
   * `recordUsage` and `recordUsageBatch` post to the service's JSON routes `POST /usage/record` and
   * `/usage/batch` (the same answers, less of the service's CPU: ADR 0030), found beside `url` (`…/graphql` →
   * `…/usage/batch`). `false` sends the GraphQL mutations instead. A service too old to have the routes (404) is
   * asked over GraphQL from then on.
   */
  usageRoutes?: boolean;
}

interface GraphQLErrorBody {
  message?: unknown;
  extensions?: Record<string, unknown>;
}

interface GraphQLBody {
  data?: unknown;
  errors?: GraphQLErrorBody[];
}

/**
 * The billing service as a backend service sees it. Every method makes one HTTP request and throws a
 * `BillingClientError` on any failure.
 */
export class BillingClient {
  private readonly url: string;
  private readonly token: BillingClientOptions['token'];
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  /** Where `POST /usage/record` and `/usage/batch` are, or null to send the mutations over GraphQL. */
  private usageRoutesUrl: string | null;

  constructor(options: BillingClientOptions) {
    this.url = options.url;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.usageRoutesUrl = options.usageRoutes === false ? null : new URL('usage', options.url).href;
  }

  /** Whether `accountId` may use `key` (a feature such as `api_access`, or a metric such as `ai_requests`). */
  async featureAccess(accountId: string, key: string): Promise<FeatureAccess> {
    const [access] = await this.featureAccesses(accountId, [key]);
    return access;
  }

  /** Several features or metrics of one account in one request, in the order asked. */
  async featureAccesses(accountId: string, keys: readonly string[]): Promise<FeatureAccess[]> {
    if (keys.length === 0) return [];
    const data = await this.request(featureAccessQuery(keys.length), featureAccessVariables(accountId, keys));
    const account = data.account;
    if (!account) throw new BillingClientError('NOT_FOUND', `account ${accountId} was not found`);
    return keys.map((_, index) => {
      const access = account[`f${index}`];
      if (!access || typeof access.allowed !== 'boolean')
        throw new BillingClientError('INVALID_RESPONSE', 'the answer has no feature access');
      return access;
    });
  }

  /** Records one use. A repeat of an idempotency key answers `duplicate: true` and adds nothing. */
  async recordUsage(input: RecordUsageInput): Promise<UsageRecordResult> {
    const variables = { input: toWireInput(input) };
    const data = await this.viaRoute('record', RecordUsageDocument, variables);
    return fromWireResult(data.recordUsage);
  }

  /** Records several uses in one request; the results are in the order of `inputs`. */
  async recordUsageBatch(inputs: readonly RecordUsageInput[]): Promise<UsageRecordResult[]> {
    if (inputs.length === 0) return [];
    const data = await this.viaRoute('batch', RecordUsageBatchDocument, { input: inputs.map(toWireInput) });
    return data.recordUsageBatch.map(fromWireResult);
  }

  /**
   * The usage API's JSON route for a mutation (`POST /usage/record`, `/usage/batch`: the same variables in, the
   * same answer out, ADR 0030), or the mutation itself when routes are off or the service has none (404).
   */
  private async viaRoute<T, V>(route: 'record' | 'batch', document: TypedDocumentString<T, V>, variables: V) {
    const base = this.usageRoutesUrl;
    if (base) {
      try {
        return await this.post<T>(`${base}/${route}`, JSON.stringify(variables));
      } catch (error) {
        if (!(error instanceof BillingClientError && error.code === 'HTTP_ERROR' && error.status === 404))
          throw error;
        this.usageRoutesUrl = null;
      }
    }
    return this.request(document, variables);
  }

  /**
   * Holds part of a metric's allowance before serving work (USAGE_LIMIT_EXCEEDED when that would pass a hard
   * limit, counting what other requests hold). Commit what the work used, or release the hold.
   */
  async reserveUsage(input: ReserveUsageInput): Promise<UsageReservation> {
    const data = await this.request(ReserveUsageDocument, { input: withoutUndefined({ ...input }) });
    const reservation = data.reserveUsage;
    return {
      ...reservation,
      expiresAt: new Date(reservation.expiresAt),
      usage: fromWireUsage(requiredUsage(reservation.usage)),
    };
  }

  /** Records what reserved work used, once per reservation (a repeat answers `duplicate: true`). */
  async commitUsage(input: CommitUsageInput): Promise<UsageRecordResult> {
    const data = await this.request(CommitUsageDocument, { input: withoutUndefined({ ...input }) });
    return fromWireResult(data.commitUsage);
  }

  /**
   * Holds the credits of a model call's estimate before calling the model (USAGE_LIMIT_EXCEEDED when they are not
   * there; BAD_USER_INPUT for a model the rate card does not price). Commit the actual tokens after, or release.
   */
  async reserveTokens(input: ReserveTokensInput): Promise<TokenReservation> {
    const data = await this.request(ReserveTokensDocument, { input: withoutUndefined({ ...input }) });
    const { id, model, quantity, expiresAt, duplicate } = data.reserveUsage;
    return { id, model: model ?? input.model, credits: quantity, expiresAt: new Date(expiresAt), duplicate };
  }

  /** Burns what the call used, at the rate of its reservation, once (a repeat answers `duplicate: true`). */
  async commitTokens(input: CommitTokensInput): Promise<TokenCommitResult> {
    const data = await this.request(CommitTokensDocument, { input: withoutUndefined({ ...input }) });
    const { duplicate, credits } = data.commitUsage;
    if (!credits) throw new Error('commitUsage answered no credits for a model call');
    return { duplicate, ...credits };
  }

  /** Gives a hold back unused; false when it was already committed, released or expired. */
  async releaseUsage(input: ReleaseUsageInput): Promise<boolean> {
    const data = await this.request(ReleaseUsageDocument, { input: withoutUndefined({ ...input }) });
    return data.releaseUsage;
  }

  private request<T, V>(document: TypedDocumentString<T, V>, variables: V): Promise<T> {
    return this.post<T>(this.url, JSON.stringify({ query: document.toString(), variables }));
  }

  /** One POST of a JSON body, answered in GraphQL's shape (`data`, or `errors` with their codes). */
  private async post<T>(url: string, body: string): Promise<T> {
    const token = typeof this.token === 'function' ? await this.token() : this.token;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await this.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: `Bearer ${token}`,
        },
        body,
        signal: controller.signal,
      });
      status = response.status;
      // The body is read under the same timeout: a server that stalls mid-answer is a timeout too.
      text = await response.text();
    } catch (error) {
      if (timedOut)
        throw new BillingClientError(
          'TIMEOUT',
          `the billing service did not answer within ${this.timeoutMs} ms`,
          {
            cause: error,
          },
        );
      throw new BillingClientError(
        'NETWORK_ERROR',
        `the billing service could not be reached: ${describeNetworkError(error)}`,
        {
          cause: error,
        },
      );
    } finally {
      clearTimeout(timer);
    }
    return parseAnswer<T>(status, text);
  }
}

function parseAnswer<T>(status: number, text: string): T {
  let body: GraphQLBody | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') body = parsed as GraphQLBody;
  } catch {
    body = null;
  }
  const first = Array.isArray(body?.errors) ? body.errors[0] : undefined;
  if (first) {
    const code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'INTERNAL_SERVER_ERROR';
    const message = typeof first.message === 'string' ? first.message : `billing service error ${code}`;
    throw new BillingClientError(code, message, { status, extensions: first.extensions ?? {} });
  }
  if (status < 200 || status > 299)
    throw new BillingClientError('HTTP_ERROR', `the billing service answered HTTP ${status}`, { status });
  if (!body || body.data === null || typeof body.data !== 'object')
    throw new BillingClientError('INVALID_RESPONSE', 'the billing service answered without GraphQL data', {
      status,
    });
  return body.data as T;
}

/** What `featureAccessQuery` answers: one `FeatureAccess` per alias `f0`, `f1`, … */
type FeatureAccessQuery = { account: Record<string, FeatureAccessFieldsFragment> | null };

/**
 * `account(id) { f0: feature(key: $key0) { … } f1: … }`: one aliased field per key, so one request answers them
 * all. Built per number of keys, from the generated fragment, so its fields stay those of the schema.
 */
function featureAccessQuery(count: number): TypedDocumentString<FeatureAccessQuery, Record<string, string>> {
  const declarations = ['$accountId: ID!'];
  const selections: string[] = [];
  for (let index = 0; index < count; index++) {
    declarations.push(`$key${index}: String!`);
    selections.push(`f${index}: feature(key: $key${index}) { ...FeatureAccessFields }`);
  }
  const query = `query FeatureAccess(${declarations.join(', ')}) { account(id: $accountId) { ${selections.join(' ')} } }`;
  return new TypedDocumentString(`${query}\n${FeatureAccessFieldsFragmentDoc}`);
}

function featureAccessVariables(accountId: string, keys: readonly string[]): Record<string, string> {
  const variables: Record<string, string> = { accountId };
  keys.forEach((key, index) => {
    variables[`key${index}`] = key;
  });
  return variables;
}

function toWireInput(input: RecordUsageInput): RecordUsageWireInput {
  return {
    metric: input.metric,
    quantity: input.quantity,
    idempotencyKey: input.idempotencyKey,
    ...(input.accountId === undefined ? {} : { accountId: input.accountId }),
    ...(input.occurredAt === undefined ? {} : { occurredAt: input.occurredAt.toISOString() }),
  };
}

function fromWireResult(result: UsageRecordResultFieldsFragment): UsageRecordResult {
  return { duplicate: result.duplicate, usage: fromWireUsage(requiredUsage(result.usage)) };
}

/** A metric's answer always carries its usage (only a model call's has none: reserveTokens, commitTokens). */
function requiredUsage(usage: UsageSummaryFieldsFragment | null): UsageSummaryFieldsFragment {
  if (!usage) throw new Error('The billing service answered no usage for a metric');
  return usage;
}

function fromWireUsage(usage: UsageSummaryFieldsFragment): UsageSummary {
  return { ...usage, periodStart: new Date(usage.periodStart), periodEnd: new Date(usage.periodEnd) };
}

/** GraphQL variables without the fields left out (an explicit undefined is not valid JSON input). */
function withoutUndefined<T extends object>(input: T): T {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as T;
}

function describeNetworkError(error: unknown): string {
  // fetch wraps the socket error (ECONNREFUSED, …) as its cause. Duck-typed: errors made by Node's internals
  // are not `instanceof Error` in another realm (a Jest sandbox, a vm context).
  const cause = fieldOf(error, 'cause');
  const code = fieldOf(cause, 'code') ?? fieldOf(error, 'code');
  const message = fieldOf(cause, 'message') ?? fieldOf(error, 'message');
  if (typeof code === 'string' && typeof message === 'string' && !message.includes(code))
    return `${code} ${message}`;
  return typeof message === 'string' ? message : String(error);
}

function fieldOf(value: unknown, field: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[field] : undefined;
}
