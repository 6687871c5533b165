import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';

/**
 * The only reader of the environment. Everything the service can be told lives here, is validated once at
 * start-up and is handed around as one typed object; `.env.example` lists and explains every variable.
 */

/** Variables that hold secrets: each may instead be given as `<NAME>_FILE` (Docker and Kubernetes secrets). */
export const SECRET_VARIABLES = [
  'DATABASE_URL',
  'REDIS_URL',
  'AUTH_JWT_SECRET',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'SMTP_URL',
  'METRICS_TOKEN',
] as const;

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const postgresUrl = z
  .string()
  .url({ message: 'must be a URL such as postgres://user:password@host:5432/database' })
  .refine((value) => /^postgres(ql)?:\/\//.test(value), {
    message: 'must start with postgres:// or postgresql://',
  });

const redisUrl = z
  .string()
  .url({ message: 'must be a URL such as redis://127.0.0.1:6379' })
  .refine((value) => /^rediss?:\/\//.test(value), { message: 'must start with redis:// or rediss://' });

const environmentSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).optional(),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ACCESS_LOG: z.enum(['on', 'off'], { message: 'must be on or off' }).default('on'),
    DATABASE_URL: postgresUrl,
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
    REDIS_URL: redisUrl.optional(),
    AUTH_JWT_SECRET: z
      .string()
      .min(32, { message: 'must be at least 32 characters (e.g. `openssl rand -hex 32`)' })
      .optional(),
    AUTH_JWKS_URL: z.string().url().optional(),
    AUTH_JWT_ISSUER: z.string().min(1).optional(),
    AUTH_JWT_AUDIENCE: z.string().min(1).optional(),
    GRAPHQL_INTROSPECTION: booleanFlag.optional(),
    GRAPHQL_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
    GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).max(100).default(20),
    GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).max(10_000).default(50),
    GRAPHQL_MAX_FIELDS: z.coerce.number().int().min(10).max(100_000).default(1000),
    GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).max(1_000_000).default(5000),
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
    STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_(test|live)_\w+$/, { message: 'must be a Stripe secret key (sk_test_… or sk_live_…)' })
      .optional(),
    STRIPE_API_BASE: z.string().url({ message: 'must be a URL such as http://127.0.0.1:12111' }).optional(),
    STRIPE_WEBHOOK_SECRET: z.string().optional(),
    STRIPE_WEBHOOK_URL: z
      .string()
      .url({
        message:
          'must be the public URL of the webhook route, such as https://billing.coditect.ai/webhooks/stripe',
      })
      .optional(),
    STRIPE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(120_000).default(20_000),
    STRIPE_MAX_NETWORK_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
    STRIPE_MAX_REQUESTS_PER_SECOND: z.coerce.number().min(1).max(1000).default(20),
    STRIPE_TAX: z.enum(['on', 'off'], { message: 'must be on or off' }).default('off'),
    BILLING_GRACE_PERIOD_DAYS: z.coerce.number().int().min(0).max(90).default(7),
    BILLING_CLOCK: z
      .enum(['wall', 'emulator', 'test_clock'], { message: 'must be wall, emulator or test_clock' })
      .default('wall'),
    STRIPE_TEST_CLOCK: z
      .string()
      .regex(/^clock_\w+$/, { message: 'must be a Stripe test clock id (clock_…)' })
      .optional(),
    // At most an hour: the reconciler applies the Stripe events no webhook delivered (docs/webhooks.md), which the
    // BillingWebhooksMissed alert counts per hour; and Node runs a timer longer than 2^31 − 1 ms after 1 ms.
    RECONCILE_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(3_600_000, {
        message:
          'must be at most 3600000 (1 h; 0 turns it off): the reconciler applies the Stripe events no webhook delivered, and the BillingWebhooksMissed alert counts them per hour',
      })
      .default(300_000),
    WEBHOOK_WORKERS: z.coerce.number().int().min(0).max(64).default(16),
    WEBHOOK_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
    WEBHOOK_LEASE_MS: z.coerce.number().int().min(5000).max(3_600_000).default(120_000),
    USAGE_REPORT_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    // At most 2 h: the BillingMaintenanceNotRunning alert (ops/alerts.yml) expects a finished run every 3 h, a run
    // makes usage_record's partitions ahead, and Node runs a timer longer than 2^31 − 1 ms after 1 ms.
    DATA_MAINTENANCE_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(7_200_000, {
        message:
          'must be at most 7200000 (2 h; 0 turns it off): the BillingMaintenanceNotRunning alert expects a finished run every 3 h, and each run makes usage_record’s partitions ahead',
      })
      .default(3_600_000),
    // A usage period is at most 31 days (yearly plans are cut into months): every record of an open one is kept.
    USAGE_RECORD_RETENTION_DAYS: z.coerce
      .number()
      .int()
      .min(32, { message: 'must be at least 32 (days): the longest usage period (31) and a day' })
      .max(3650)
      .default(40),
    USAGE_RECORD_PARTITIONS_AHEAD_DAYS: z.coerce.number().int().min(2).max(60).default(7),
    // At least the latest a repeat carrying its occurredAt is still accepted (1 h late + 5 min early), with margin.
    USAGE_IDEMPOTENCY_WINDOW_HOURS: z.coerce
      .number()
      .int()
      .min(2, { message: 'must be at least 2 (hours): a use may be recorded up to 1 h 5 min from its time' })
      .max(168, { message: 'must be at most 168 (hours): the migration keeps the keys of the last 7 days' })
      .default(24),
    WEBHOOK_PAYLOAD_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(3),
    WEBHOOK_EVENT_RETENTION_DAYS: z.coerce
      .number()
      .int()
      .min(3, { message: 'must be at least 3 (days): Stripe redelivers an event for up to 3 days' })
      .max(3650)
      .default(30),
    NOTIFICATION_RETENTION_DAYS: z.coerce
      .number()
      .int()
      .min(32, { message: 'must be at least 32 (days): a sent mail’s dedupe key outlives any redelivery' })
      .max(3650)
      .default(90),
    BILLING_ALLOWED_REDIRECT_ORIGINS: z
      .string()
      .refine((value) => value.split(',').every((origin) => !origin.trim() || URL.canParse(origin.trim())), {
        message: 'must be comma-separated origins such as https://app.coditect.ai,https://admin.coditect.ai',
      })
      .optional(),
    SMTP_URL: z
      .string()
      .refine((value) => /^smtps?:\/\/[^/?#]/.test(value) && URL.canParse(value), {
        message: 'must be a URL such as smtp://user:password@smtp.example.com:587 or smtps://…:465',
      })
      .optional(),
    MAIL_FROM: z.string().min(3).default('CODITECT Billing <billing@coditect.ai>'),
    BILLING_ADMIN_EMAILS: z
      .string()
      .refine(
        (value) =>
          value
            .split(',')
            .map((address) => address.trim())
            .every((address) => !address || z.string().email().safeParse(address).success),
        {
          message: 'must be comma-separated email addresses such as billing-ops@coditect.ai,cfo@coditect.ai',
        },
      )
      .optional(),
    MAIL_WORKER_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(1000),
    METRICS_TOKEN: z
      .string()
      .min(16, { message: 'must be at least 16 characters (e.g. `openssl rand -hex 32`)' })
      .optional(),
    BILLING_PAGE: z.enum(['on', 'off'], { message: 'must be on or off' }).optional(),
    RATE_LIMIT_ENABLED: booleanFlag.default('true'),
    RATE_LIMIT_STRIPE_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(20),
    RATE_LIMIT_USAGE_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(6000),
    RATE_LIMIT_STRIPE_READS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(120),
  })
  .superRefine((env, ctx) => {
    if (!env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWT_SECRET'],
        message:
          'set AUTH_JWT_SECRET (HS256, ≥ 32 characters) or AUTH_JWKS_URL (RS256) so callers can sign in',
      });
    }
    if (env.NODE_ENV === 'production' && !env.STRIPE_SECRET_KEY) {
      ctx.addIssue({ code: 'custom', path: ['STRIPE_SECRET_KEY'], message: 'is required in production' });
    }
    if (env.BILLING_CLOCK !== 'wall' && env.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['BILLING_CLOCK'],
        message: 'must be wall in production: only development and tests follow Stripe’s test time',
      });
    }
    if (env.BILLING_CLOCK === 'emulator' && !env.STRIPE_API_BASE) {
      ctx.addIssue({
        code: 'custom',
        path: ['BILLING_CLOCK'],
        message: 'emulator needs STRIPE_API_BASE (the emulator’s URL, such as http://127.0.0.1:12111)',
      });
    }
    if (env.BILLING_CLOCK === 'test_clock' && !env.STRIPE_TEST_CLOCK) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRIPE_TEST_CLOCK'],
        message: 'is required with BILLING_CLOCK=test_clock: set it to the clock_… id to follow',
      });
    }
    if (env.BILLING_CLOCK !== 'wall' && !/^(sk|rk)_test_/.test(env.STRIPE_SECRET_KEY ?? '')) {
      ctx.addIssue({
        code: 'custom',
        path: ['BILLING_CLOCK'],
        message: `${env.BILLING_CLOCK} needs a test-mode STRIPE_SECRET_KEY (sk_test_…): live Stripe has no test time`,
      });
    }
    if (env.WEBHOOK_EVENT_RETENTION_DAYS < env.WEBHOOK_PAYLOAD_RETENTION_DAYS) {
      ctx.addIssue({
        code: 'custom',
        path: ['WEBHOOK_EVENT_RETENTION_DAYS'],
        message: 'must be at least WEBHOOK_PAYLOAD_RETENTION_DAYS: a payload is dropped before its row',
      });
    }
    if (env.NODE_ENV === 'production' && !env.REDIS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_URL'],
        message: 'is required in production: live updates must reach every instance',
      });
    }
  });

export type Environment = z.infer<typeof environmentSchema>;

export interface Config {
  env: Environment['NODE_ENV'];
  isProduction: boolean;
  host: string;
  port: number;
  logLevel: Environment['LOG_LEVEL'];
  /** One line per HTTP request at `info` (http/access-log.ts); off where the load balancer keeps one. */
  accessLog: boolean;
  database: { url: string; poolMax: number };
  redis: { url: string } | null;
  auth: {
    jwtSecret: string | null;
    jwksUrl: string | null;
    issuer: string | null;
    audience: string | null;
  };
  graphql: {
    introspection: boolean;
    sandbox: boolean;
    maxBodyBytes: number;
    /** Per document, refused with QUERY_TOO_COMPLEX before anything runs (src/graphql/query-limits.ts). */
    limits: { maxDepth: number; maxAliases: number; maxFields: number; maxTokens: number };
  };
  shutdownGraceMs: number;
  stripe: {
    secretKey: string | null;
    apiBase: string | null;
    webhookSecrets: string[];
    timeoutMs: number;
    maxNetworkRetries: number;
    maxRequestsPerSecond: number;
  };
  /**
   * Stripe Tax (`STRIPE_TAX=on`, ADR 0024): `automatic_tax` on Checkout, subscriptions, plan changes and previews,
   * and a customer must have a location Stripe Tax can place before it subscribes directly. Off by default.
   */
  tax: { automatic: boolean };
  billing: {
    allowedRedirectOrigins: string[];
    gracePeriodDays: number;
    /**
     * Where "now" comes from (`src/services/time/clock.ts`): the wall clock (production), the emulator's clock, or a
     * Stripe test clock whose id is `testClockId` (development and tests).
     */
    clock: { source: 'wall' | 'emulator' | 'test_clock'; testClockId: string | null };
    reconcileIntervalMs: number;
    /**
     * The webhook queue behind the endpoint (ADR 0020): events processed at once per instance (`WEBHOOK_WORKERS`),
     * how often it looks for events it was not told about (`WEBHOOK_POLL_INTERVAL_MS`: other instances' rows, a
     * crashed instance's), and how long a claimed event is its worker's before another may take it over
     * (`WEBHOOK_LEASE_MS`).
     */
    webhookQueue: { workers: number; pollIntervalMs: number; leaseMs: number };
    /** How often overage is reported to Stripe's meters (`USAGE_REPORT_INTERVAL_SECONDS`), in milliseconds. */
    usageReportIntervalMs: number;
    /** Who is mailed about what needs a person, such as disputes (`BILLING_ADMIN_EMAILS`); empty: nobody. */
    adminEmails: string[];
  };
  /** What the maintenance job keeps, and how often it runs (ADR 0021; 0 turns the periodic job off). */
  retention: RetentionSettings;
  /** Notification mail: SMTP when `smtpUrl` is set, else one log line per mail (development). */
  mail: { smtpUrl: string | null; from: string; workerIntervalMs: number };
  /** `GET /metrics`: open when `token` is null, else only with `Authorization: Bearer <token>`. */
  metrics: { token: string | null };
  /**
   * The reference billing page (`web/`) at `/billing/`: on outside production unless `BILLING_PAGE=off`.
   * `devSignIn` (never in production) lets the page mint a token for any account id with the HS256 secret.
   */
  billingPage: { enabled: boolean; devSignIn: boolean };
  /**
   * Per-account budgets for mutations (token buckets in Redis, in memory without it): Stripe-touching ones and
   * usage recording, per minute; the service role is not limited on usage. `enabled: false` turns them off.
   */
  rateLimit: {
    enabled: boolean;
    stripePerMinute: number;
    usagePerMinute: number;
    stripeReadsPerMinute: number;
  };
}

/** What data is kept how long (docs/operations: docs/deployment.md#data-retention). */
export interface RetentionSettings {
  intervalMs: number;
  usageRecordDays: number;
  partitionsAheadDays: number;
  idempotencyWindowHours: number;
  webhookPayloadDays: number;
  webhookEventDays: number;
  notificationDays: number;
}

/** Thrown when the environment cannot run the service; the message names every variable to fix. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type RawEnvironment = Record<string, string | undefined>;

/** Reads `<NAME>_FILE` for each secret, so secrets can be mounted as files instead of set inline. */
function resolveSecretFiles(raw: RawEnvironment): { values: RawEnvironment; problems: string[] } {
  const values: RawEnvironment = { ...raw };
  const problems: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const file = raw[`${name}_FILE`];
    if (!file) continue;
    if (raw[name]) {
      problems.push(`${name} and ${name}_FILE are both set: set only one`);
      continue;
    }
    try {
      values[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      problems.push(`${name}_FILE points to ${file}, which cannot be read: set it to a readable file`);
    }
  }
  return { values, problems };
}

/** Empty strings mean "unset": `.env.example` copies leave many variables blank. */
function dropEmpty(raw: RawEnvironment): RawEnvironment {
  return Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined && value !== ''));
}

/** The variables of a `.env` file in the working directory, if there is one; the real environment wins. */
export function readDotenv(path = resolve(process.cwd(), '.env')): RawEnvironment {
  return existsSync(path) ? parseDotenv(readFileSync(path)) : {};
}

/**
 * Validates an environment into a `Config`, or throws a `ConfigError` that names each variable to set.
 * Pure apart from reading `_FILE` secrets, so tests can pass any environment.
 */
export function loadConfig(raw: RawEnvironment): Config {
  return configOf(validEnvironment(raw));
}

/** The environment, checked against `environmentSchema`; a `ConfigError` naming every variable to set if not. */
function validEnvironment(raw: RawEnvironment): Environment {
  const { values, problems } = resolveSecretFiles(dropEmpty(raw));
  const parsed = environmentSchema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = issue.path.join('.') || 'environment';
      const message =
        issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message;
      problems.push(`${variable} ${message}${hintFor(variable)}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}

function configOf(env: Environment): Config {
  const isProduction = env.NODE_ENV === 'production';
  return {
    env: env.NODE_ENV,
    isProduction,
    host: env.HOST ?? (isProduction ? '0.0.0.0' : '127.0.0.1'),
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    accessLog: env.ACCESS_LOG === 'on',
    database: { url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX },
    redis: env.REDIS_URL ? { url: env.REDIS_URL } : null,
    auth: {
      jwtSecret: env.AUTH_JWT_SECRET ?? null,
      jwksUrl: env.AUTH_JWKS_URL ?? null,
      issuer: env.AUTH_JWT_ISSUER ?? null,
      audience: env.AUTH_JWT_AUDIENCE ?? null,
    },
    graphql: {
      introspection: env.GRAPHQL_INTROSPECTION ?? !isProduction,
      sandbox: !isProduction,
      maxBodyBytes: env.GRAPHQL_MAX_BODY_BYTES,
      limits: {
        maxDepth: env.GRAPHQL_MAX_DEPTH,
        maxAliases: env.GRAPHQL_MAX_ALIASES,
        maxFields: env.GRAPHQL_MAX_FIELDS,
        maxTokens: env.GRAPHQL_MAX_TOKENS,
      },
    },
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    stripe: stripeSettings(env),
    tax: { automatic: env.STRIPE_TAX === 'on' },
    billing: billingSettings(env),
    retention: retentionSettings(env),
    mail: {
      smtpUrl: env.SMTP_URL ?? null,
      from: env.MAIL_FROM,
      workerIntervalMs: env.MAIL_WORKER_INTERVAL_MS,
    },
    metrics: { token: env.METRICS_TOKEN ?? null },
    billingPage: {
      enabled: env.BILLING_PAGE ? env.BILLING_PAGE === 'on' : !isProduction,
      devSignIn: !isProduction && env.BILLING_PAGE !== 'off' && Boolean(env.AUTH_JWT_SECRET),
    },
    rateLimit: {
      enabled: env.RATE_LIMIT_ENABLED,
      stripePerMinute: env.RATE_LIMIT_STRIPE_PER_MINUTE,
      usagePerMinute: env.RATE_LIMIT_USAGE_PER_MINUTE,
      stripeReadsPerMinute: env.RATE_LIMIT_STRIPE_READS_PER_MINUTE,
    },
  };
}

function stripeSettings(env: Environment): Config['stripe'] {
  return {
    secretKey: env.STRIPE_SECRET_KEY ?? null,
    apiBase: env.STRIPE_API_BASE ?? null,
    // Several comma-separated secrets are accepted so a rotation never rejects a genuine delivery.
    webhookSecrets: commaList(env.STRIPE_WEBHOOK_SECRET ?? ''),
    timeoutMs: env.STRIPE_TIMEOUT_MS,
    maxNetworkRetries: env.STRIPE_MAX_NETWORK_RETRIES,
    maxRequestsPerSecond: env.STRIPE_MAX_REQUESTS_PER_SECOND,
  };
}

function billingSettings(env: Environment): Config['billing'] {
  return {
    allowedRedirectOrigins: parseOrigins(env.BILLING_ALLOWED_REDIRECT_ORIGINS, env.NODE_ENV),
    gracePeriodDays: env.BILLING_GRACE_PERIOD_DAYS,
    clock: { source: env.BILLING_CLOCK, testClockId: env.STRIPE_TEST_CLOCK ?? null },
    reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
    webhookQueue: {
      workers: env.WEBHOOK_WORKERS,
      pollIntervalMs: env.WEBHOOK_POLL_INTERVAL_MS,
      leaseMs: env.WEBHOOK_LEASE_MS,
    },
    usageReportIntervalMs: env.USAGE_REPORT_INTERVAL_SECONDS * 1000,
    adminEmails: commaList(env.BILLING_ADMIN_EMAILS ?? ''),
  };
}

function retentionSettings(env: Environment): RetentionSettings {
  return {
    intervalMs: env.DATA_MAINTENANCE_INTERVAL_MS,
    usageRecordDays: env.USAGE_RECORD_RETENTION_DAYS,
    partitionsAheadDays: env.USAGE_RECORD_PARTITIONS_AHEAD_DAYS,
    idempotencyWindowHours: env.USAGE_IDEMPOTENCY_WINDOW_HOURS,
    webhookPayloadDays: env.WEBHOOK_PAYLOAD_RETENTION_DAYS,
    webhookEventDays: env.WEBHOOK_EVENT_RETENTION_DAYS,
    notificationDays: env.NOTIFICATION_RETENTION_DAYS,
  };
}

/** A comma-separated list, each item trimmed, empty items dropped. */
function commaList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/**
 * Origins that Checkout and the Portal may send a user back to. Outside production the local frontends are
 * allowed by default; in production only what is configured (an empty list refuses every redirect).
 */
function parseOrigins(raw: string | undefined, nodeEnv: Environment['NODE_ENV']): string[] {
  if (raw === undefined)
    return nodeEnv === 'production'
      ? []
      : ['http://127.0.0.1:4000', 'http://localhost:4000', 'http://localhost:3000'];
  return commaList(raw).map((origin) => new URL(origin).origin);
}

function hintFor(variable: string): string {
  if (variable === 'DATABASE_URL') return ' (`npm run dev` starts an embedded PostgreSQL when it is unset)';
  return '';
}

/** The process environment, over the `.env` file's values when there is one. */
export function processEnvironment(): RawEnvironment {
  return { ...readDotenv(), ...process.env };
}

/** The configuration the running process was given: call once, at start-up. */
export function loadProcessConfig(): Config {
  return loadConfig(processEnvironment());
}

/** Only the database part, for the migration commands, which need nothing else. */
export function readDatabaseSettings(raw: RawEnvironment = processEnvironment()): {
  url: string;
  poolMax: number;
} {
  const { values, problems } = resolveSecretFiles(dropEmpty(raw));
  const url = postgresUrl.safeParse(values.DATABASE_URL);
  if (problems.length > 0 || !url.success) {
    throw new ConfigError([
      ...problems,
      ...(url.success ? [] : ['DATABASE_URL is required: set it to a postgres:// URL']),
    ]);
  }
  return { url: url.data, poolMax: 2 };
}

/** Only the Stripe part, for `npm run stripe:sync`, which needs no database or auth settings. */
export function readStripeSettings(raw: RawEnvironment = processEnvironment()): {
  secretKey: string;
  apiBase: string | null;
} {
  const { values, problems } = resolveSecretFiles(dropEmpty(raw));
  const { STRIPE_SECRET_KEY, STRIPE_API_BASE } = environmentSchema.innerType().shape;
  const secretKey = STRIPE_SECRET_KEY.safeParse(values.STRIPE_SECRET_KEY);
  const apiBase = STRIPE_API_BASE.safeParse(values.STRIPE_API_BASE);
  if (!secretKey.success) problems.push(`STRIPE_SECRET_KEY ${secretKey.error.issues[0]?.message}`);
  else if (!secretKey.data) problems.push('STRIPE_SECRET_KEY is required: set it to sk_test_… or sk_live_…');
  if (!apiBase.success) problems.push(`STRIPE_API_BASE ${apiBase.error.issues[0]?.message}`);
  if (problems.length > 0 || !secretKey.data || !apiBase.success) throw new ConfigError(problems);
  return { secretKey: secretKey.data, apiBase: apiBase.data ?? null };
}

/**
 * The webhook endpoint `npm run stripe:sync` registers (STRIPE_WEBHOOK_URL), or null when unset. Stripe
 * delivers live-mode events only over HTTPS, so a live key with an http:// URL is refused here.
 */
export function readWebhookEndpointUrl(raw: RawEnvironment = processEnvironment()): string | null {
  const values = dropEmpty(raw);
  const parsed = environmentSchema.innerType().shape.STRIPE_WEBHOOK_URL.safeParse(values.STRIPE_WEBHOOK_URL);
  if (!parsed.success) throw new ConfigError([`STRIPE_WEBHOOK_URL ${parsed.error.issues[0]?.message}`]);
  const url = parsed.data ?? null;
  const { values: secrets } = resolveSecretFiles(values);
  if (url && /^(sk|rk)_live_/.test(secrets.STRIPE_SECRET_KEY ?? '') && !url.startsWith('https://'))
    throw new ConfigError([
      'STRIPE_WEBHOOK_URL must be an https:// URL with a live key: Stripe refuses http',
    ]);
  return url;
}
