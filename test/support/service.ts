import type { DestinationStream } from 'pino';
import { signToken, type TokenClaims } from '../../src/auth/token-signer';
import { type Config, loadConfig } from '../../src/config';
import { type App, createApp } from '../../src/app/create-app';
import type { StripeServices } from '../../src/app/stripe-services';
import { createTestDatabase, type TestDatabase } from './database';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestService {
  /** The running app: its database, pub/sub, clock and the services it built. */
  app: App;
  config: Config;
  database: TestDatabase;
  url: string;
  /** A signed token for an account, as the CODITECT app would issue it. */
  token(accountId: string, claims?: Omit<TokenClaims, 'accountId'>): Promise<string>;
  /** POSTs a GraphQL operation; returns the parsed JSON body and the HTTP status. */
  graphql<T = Record<string, unknown>>(
    query: string,
    options?: { variables?: Record<string, unknown>; token?: string },
  ): Promise<GraphQLResponse<T>>;
  stop(): Promise<void>;
}

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
}

export function testConfig(databaseUrl: string, overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MAX: '5',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ...overrides,
  });
}

/** The real service on a random port, over a fresh migrated database of its own. */
export async function startTestService(
  options: {
    env?: Record<string, string | undefined>;
    database?: TestDatabase;
    onQuery?: (sql: string) => void;
    /** Where the service's JSON log lines go (tests that read them). */
    logDestination?: DestinationStream;
  } = {},
): Promise<TestService> {
  const database = options.database ?? (await createTestDatabase());
  const config = testConfig(database.url, options.env);
  const app = await createApp(config, { onQuery: options.onQuery, logDestination: options.logDestination });
  const url = await app.start().catch(async (error: unknown) => {
    await app.stop();
    throw error;
  });
  return {
    app,
    config,
    database,
    url,
    token: (accountId, claims = {}) => signToken(TEST_JWT_SECRET, { accountId, ...claims }),
    graphql: async (query, { variables, token } = {}) => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...((await response.json()) as object) };
    },
    stop: async () => {
      await app.stop();
      if (!options.database) await database.drop();
    },
  };
}

/** The app's Stripe-backed services: the test started it with a Stripe key, so they must be there. */
export function stripeServicesOf(app: App): StripeServices {
  if (!app.services.stripe) throw new Error('This app was started without STRIPE_SECRET_KEY');
  return app.services.stripe;
}
