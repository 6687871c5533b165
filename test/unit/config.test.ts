import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, readDatabaseSettings, readDotenv } from '../../src/config';

const VALID = {
  DATABASE_URL: 'postgres://billing:pw@db:5432/billing',
  AUTH_JWT_SECRET: 'x'.repeat(32),
};

const PRODUCTION = { ...VALID, NODE_ENV: 'production', STRIPE_SECRET_KEY: 'sk_live_abc123' };

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults for development', () => {
    const config = loadConfig(VALID);
    expect(config).toMatchObject({
      env: 'development',
      isProduction: false,
      host: '127.0.0.1',
      port: 4000,
      redis: null,
      graphql: { introspection: true, sandbox: true },
      stripe: { secretKey: null, webhookSecrets: [] },
    });
  });

  it('names the missing variable and says what to set', () => {
    const problems = problemsOf({ AUTH_JWT_SECRET: 'x'.repeat(32) });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^DATABASE_URL is required/);
    expect(problems[0]).toMatch(/npm run dev/);
  });

  it('reports every bad variable at once, without echoing secret values', () => {
    const problems = problemsOf({
      DATABASE_URL: 'mysql://root:hunter2@db/x',
      AUTH_JWT_SECRET: 'short-secret',
      PORT: 'eighty',
    });
    expect(problems.map((problem) => problem.split(' ')[0]).sort()).toEqual([
      'AUTH_JWT_SECRET',
      'DATABASE_URL',
      'PORT',
    ]);
    expect(problems.join('\n')).not.toMatch(/hunter2|short-secret/);
  });

  it('requires a way to verify tokens', () => {
    expect(problemsOf({ DATABASE_URL: VALID.DATABASE_URL })[0]).toMatch(/^AUTH_JWT_SECRET .*AUTH_JWKS_URL/);
  });

  it('requires REDIS_URL and STRIPE_SECRET_KEY in production, and turns introspection and Sandbox off there', () => {
    expect(problemsOf({ ...VALID, NODE_ENV: 'production' }).sort()).toEqual([
      'REDIS_URL is required in production: live updates must reach every instance',
      'STRIPE_SECRET_KEY is required in production',
    ]);
    const config = loadConfig({ ...PRODUCTION, REDIS_URL: 'redis://cache:6379' });
    expect(config).toMatchObject({ host: '0.0.0.0', graphql: { introspection: false, sandbox: false } });
    expect(
      loadConfig({
        ...PRODUCTION,
        REDIS_URL: 'redis://c:6379',
        GRAPHQL_INTROSPECTION: 'true',
      }).graphql.introspection,
    ).toBe(true);
  });

  it('treats empty strings as unset, as a copied .env.example leaves them', () => {
    expect(loadConfig({ ...VALID, REDIS_URL: '', PORT: '' })).toMatchObject({ redis: null, port: 4000 });
  });

  it('reads secrets from <NAME>_FILE, and refuses both forms at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    writeFileSync(join(dir, 'jwt'), `${'s'.repeat(40)}\n`);
    writeFileSync(join(dir, 'db'), 'postgres://u:p@h:5432/d\n');
    const config = loadConfig({ AUTH_JWT_SECRET_FILE: join(dir, 'jwt'), DATABASE_URL_FILE: join(dir, 'db') });
    expect(config.auth.jwtSecret).toBe('s'.repeat(40));
    expect(config.database.url).toBe('postgres://u:p@h:5432/d');

    expect(problemsOf({ ...VALID, AUTH_JWT_SECRET_FILE: join(dir, 'jwt') })[0]).toMatch(/both set/);
    expect(
      problemsOf({ ...VALID, AUTH_JWT_SECRET: undefined, AUTH_JWT_SECRET_FILE: join(dir, 'missing') })[0],
    ).toMatch(/^AUTH_JWT_SECRET_FILE points to .*missing, which cannot be read/);
  });

  it('accepts several webhook secrets during a rotation', () => {
    const config = loadConfig({ ...VALID, STRIPE_WEBHOOK_SECRET: 'whsec_old, whsec_new' });
    expect(config.stripe.webhookSecrets).toEqual(['whsec_old', 'whsec_new']);
  });

  it('allows local frontends as redirect origins outside production, and only configured ones in production', () => {
    expect(loadConfig(VALID).billing.allowedRedirectOrigins).toContain('http://localhost:3000');
    expect(loadConfig({ ...PRODUCTION, REDIS_URL: 'redis://c:6379' }).billing.allowedRedirectOrigins).toEqual(
      [],
    );
    expect(
      loadConfig({
        ...VALID,
        BILLING_ALLOWED_REDIRECT_ORIGINS: 'https://app.coditect.ai/billing, https://x.io',
      }).billing.allowedRedirectOrigins,
    ).toEqual(['https://app.coditect.ai', 'https://x.io']);
    expect(problemsOf({ ...VALID, BILLING_ALLOWED_REDIRECT_ORIGINS: 'not a url' })[0]).toMatch(
      /^BILLING_ALLOWED_REDIRECT_ORIGINS must be comma-separated origins/,
    );
  });

  it('reads the admins to mail as comma-separated addresses, none by default, and refuses what is not one', () => {
    expect(loadConfig(VALID).billing.adminEmails).toEqual([]);
    expect(
      loadConfig({ ...VALID, BILLING_ADMIN_EMAILS: ' ops@coditect.ai, cfo@coditect.ai ,' }).billing
        .adminEmails,
    ).toEqual(['ops@coditect.ai', 'cfo@coditect.ai']);
    expect(problemsOf({ ...VALID, BILLING_ADMIN_EMAILS: 'ops@coditect.ai, nobody' })[0]).toMatch(
      /^BILLING_ADMIN_EMAILS must be comma-separated email addresses/,
    );
  });

  it('keeps data 40 days, keys 24 h, payloads 3 days, inbox rows 30, sent mails 90 by default; refuses less than each rule needs', () => {
    expect(loadConfig(VALID).retention).toEqual({
      intervalMs: 3_600_000,
      usageRecordDays: 40,
      partitionsAheadDays: 7,
      idempotencyWindowHours: 24,
      webhookPayloadDays: 3,
      webhookEventDays: 30,
      notificationDays: 90,
    });
    expect(
      problemsOf({
        ...VALID,
        USAGE_RECORD_RETENTION_DAYS: '31',
        USAGE_IDEMPOTENCY_WINDOW_HOURS: '1',
        NOTIFICATION_RETENTION_DAYS: '7',
      }),
    ).toEqual([
      'USAGE_RECORD_RETENTION_DAYS must be at least 32 (days): the longest usage period (31) and a day',
      'USAGE_IDEMPOTENCY_WINDOW_HOURS must be at least 2 (hours): a use may be recorded up to 1 h 5 min from its time',
      'NOTIFICATION_RETENTION_DAYS must be at least 32 (days): a sent mail’s dedupe key outlives any redelivery',
    ]);
    expect(
      problemsOf({ ...VALID, WEBHOOK_PAYLOAD_RETENTION_DAYS: '10', WEBHOOK_EVENT_RETENTION_DAYS: '5' }),
    ).toEqual([
      'WEBHOOK_EVENT_RETENTION_DAYS must be at least WEBHOOK_PAYLOAD_RETENTION_DAYS: a payload is dropped before its row',
    ]);
  });

  it('runs the maintenance job at least every 2 hours, as its alert expects, or not at all', () => {
    expect(loadConfig({ ...VALID, DATA_MAINTENANCE_INTERVAL_MS: '0' }).retention.intervalMs).toBe(0);
    expect(loadConfig({ ...VALID, DATA_MAINTENANCE_INTERVAL_MS: '7200000' }).retention.intervalMs).toBe(
      7_200_000,
    );
    // 6 h: BillingMaintenanceNotRunning (no success in 3 h) would fire between runs. 3 days: past the partitions
    // made ahead (as few as 2 days), records reach the default partition. 30 days: past setTimeout's 2^31 − 1 ms,
    // which Node turns into 1 ms (the job would run back to back).
    for (const interval of ['21600000', '259200000', '2592000000'])
      expect(problemsOf({ ...VALID, DATA_MAINTENANCE_INTERVAL_MS: interval })).toEqual([
        'DATA_MAINTENANCE_INTERVAL_MS must be at most 7200000 (2 h; 0 turns it off): the BillingMaintenanceNotRunning alert expects a finished run every 3 h, and each run makes usage_record’s partitions ahead',
      ]);
  });

  it('runs the reconciler at least hourly, or not at all: a longer interval leaves missed events unapplied for hours', () => {
    expect(loadConfig(VALID).billing.reconcileIntervalMs).toBe(300_000);
    expect(loadConfig({ ...VALID, RECONCILE_INTERVAL_MS: '0' }).billing.reconcileIntervalMs).toBe(0);
    expect(loadConfig({ ...VALID, RECONCILE_INTERVAL_MS: '3600000' }).billing.reconcileIntervalMs).toBe(
      3_600_000,
    );
    // 2 h: a missed webhook's change (a payment, a cancellation) waits hours, and BillingWebhooksMissed counts the
    // reconciler's finds per hour. 30 days: past setTimeout's 2^31 − 1 ms, which Node turns into 1 ms (the
    // reconciler would list Stripe's events back to back), and past the 30 days of events Stripe keeps.
    for (const interval of ['7200000', '2592000000'])
      expect(problemsOf({ ...VALID, RECONCILE_INTERVAL_MS: interval })).toEqual([
        'RECONCILE_INTERVAL_MS must be at most 3600000 (1 h; 0 turns it off): the reconciler applies the Stripe events no webhook delivered, and the BillingWebhooksMissed alert counts them per hour',
      ]);
  });

  it('keeps Stripe Tax off by default, turns it on with STRIPE_TAX=on, and names the variable for anything else', () => {
    expect(loadConfig(VALID).tax).toEqual({ automatic: false });
    expect(loadConfig({ ...VALID, STRIPE_TAX: 'on' }).tax).toEqual({ automatic: true });
    expect(loadConfig({ ...VALID, STRIPE_TAX: 'off' }).tax).toEqual({ automatic: false });
    expect(problemsOf({ ...VALID, STRIPE_TAX: 'yes' })).toEqual(['STRIPE_TAX must be on or off']);
  });

  it('rejects a publishable key where a secret key belongs', () => {
    expect(problemsOf({ ...VALID, STRIPE_SECRET_KEY: 'pk_test_123' })[0]).toMatch(
      /^STRIPE_SECRET_KEY must be a Stripe secret key/,
    );
  });
});

describe('readDatabaseSettings', () => {
  it('needs only DATABASE_URL', () => {
    expect(readDatabaseSettings({ DATABASE_URL: VALID.DATABASE_URL }).url).toBe(VALID.DATABASE_URL);
    expect(() => readDatabaseSettings({})).toThrow(/DATABASE_URL is required/);
  });
});

describe('readDotenv', () => {
  it('reads a .env file when there is one, and nothing otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dotenv-'));
    writeFileSync(join(dir, '.env'), 'PORT=4100\n# comment\nLOG_LEVEL=debug\n');
    expect(readDotenv(join(dir, '.env'))).toEqual({ PORT: '4100', LOG_LEVEL: 'debug' });
    expect(readDotenv(join(dir, 'absent'))).toEqual({});
  });
});
