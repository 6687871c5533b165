import { UsageCounter, UsageRecord, UsageReservation } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { createCustomer, createSubscription } from '../support/factories';

/**
 * Reservations (reserve before the work, commit what it used after, or release) against real PostgreSQL, the
 * service's GraphQL API and its clock following the emulator's (so a hold's expiry is tested by moving time, not
 * by waiting).
 */

const RESERVE = `mutation($input: ReserveUsageInput!) {
  reserveUsage(input: $input) { id quantity expiresAt duplicate usage { used included remaining } }
}`;
const COMMIT = `mutation($input: CommitUsageInput!) {
  commitUsage(input: $input) { duplicate usage { used included remaining overage } }
}`;
const RELEASE = 'mutation($input: ReleaseUsageInput!) { releaseUsage(input: $input) }';
const RECORD = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { usage { used } } }`;

interface ReservationView {
  id: string;
  quantity: number;
  expiresAt: string;
  duplicate: boolean;
  usage: { used: number; included: number | null; remaining: number | null };
}

let stack: BillingStack;
let sequence = 0;
const newAccount = () => `acct_reserve_${++sequence}_${Date.now()}`;

beforeAll(async () => {
  stack = await startBillingStack({ RATE_LIMIT_ENABLED: 'false' });
});
afterAll(() => stack.stop());

async function asService() {
  return stack.as('svc_gateway', ['service']);
}

async function reserve(accountId: string, input: Record<string, unknown> = {}) {
  const gql = await asService();
  return gql<{ reserveUsage: ReservationView }>(RESERVE, {
    input: { metric: 'ai_requests', quantity: 1, accountId, ...input },
  });
}

async function commit(accountId: string, reservationId: string, quantity: number) {
  const gql = await asService();
  return gql<{ commitUsage: { duplicate: boolean; usage: { used: number; remaining: number | null } } }>(
    COMMIT,
    { input: { reservationId, quantity, accountId } },
  );
}

async function counterOf(accountId: string) {
  return stack.app.orm.em.fork().findOne(UsageCounter, { accountId, metric: 'ai_requests' });
}

describe('reserving usage', () => {
  it('holds, commits what was used, and gives the rest back, exactly once', async () => {
    const accountId = newAccount();
    const held = await reserve(accountId, { quantity: 30 });
    expect(held.errors).toBeUndefined();
    const reservation = held.data?.reserveUsage as ReservationView;
    // Free: 100 included; 30 held leave 70.
    expect(reservation).toMatchObject({
      quantity: 30,
      duplicate: false,
      usage: { used: 0, included: 100, remaining: 70 },
    });
    expect(await counterOf(accountId)).toMatchObject({ used: 0, reserved: 30 });

    const committed = await commit(accountId, reservation.id, 12);
    expect(committed.data?.commitUsage).toEqual({
      duplicate: false,
      usage: { used: 12, included: 100, remaining: 88, overage: 0 },
    });
    expect(await counterOf(accountId)).toMatchObject({ used: 12, reserved: 0 });
    // A second commit (a retry) adds nothing.
    const again = await commit(accountId, reservation.id, 12);
    expect(again.data?.commitUsage).toMatchObject({ duplicate: true, usage: { used: 12 } });
    const records = await stack.app.orm.em.fork().find(UsageRecord, { accountId });
    expect(records.map((record) => [record.quantity, record.idempotencyKey])).toEqual([
      [12, `reservation:${reservation.id}`],
    ]);
  });

  it('releases a hold, once; a released reservation cannot be committed', async () => {
    const accountId = newAccount();
    const gql = await asService();
    const { id } = (await reserve(accountId, { quantity: 40 })).data?.reserveUsage as ReservationView;
    // A metric reservation's release never looks for a model call's token hold (one statement, no extra read).
    const tokenHoldLookups = jest.spyOn(stack.app.services.credits.ledger, 'findHold');
    const released = await gql<{ releaseUsage: boolean }>(RELEASE, {
      input: { reservationId: id, accountId },
    });
    expect(released.data?.releaseUsage).toBe(true);
    const twice = await gql<{ releaseUsage: boolean }>(RELEASE, { input: { reservationId: id, accountId } });
    expect(twice.data?.releaseUsage).toBe(false);
    expect(tokenHoldLookups).not.toHaveBeenCalled();
    tokenHoldLookups.mockRestore();
    expect(await counterOf(accountId)).toMatchObject({ used: 0, reserved: 0 });
    const late = await commit(accountId, id, 5);
    expect(late.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('answers NOT_FOUND for a release of an id that is no reservation of the account', async () => {
    const accountId = newAccount();
    const gql = await asService();
    const { id } = (await reserve(accountId, { quantity: 1 })).data?.reserveUsage as ReservationView;
    for (const [reservationId, owner] of [
      [crypto.randomUUID(), accountId],
      ['not-a-uuid', accountId],
      [id, newAccount()],
    ] as const) {
      const answer = await gql(RELEASE, { input: { reservationId, accountId: owner } });
      expect(answer.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect(await counterOf(accountId)).toMatchObject({ reserved: 1 });
  });

  it('answers the same reservation for the same idempotency key', async () => {
    const accountId = newAccount();
    const first = (await reserve(accountId, { quantity: 5, idempotencyKey: 'request-1' })).data?.reserveUsage;
    const second = (await reserve(accountId, { quantity: 5, idempotencyKey: 'request-1' })).data
      ?.reserveUsage;
    expect(second).toMatchObject({ id: first?.id, duplicate: true });
    expect(await counterOf(accountId)).toMatchObject({ reserved: 5 });
  });

  it('lets exactly the remaining allowance through when 1,000 requests reserve at once', async () => {
    const accountId = newAccount();
    // 90 of Free's 100 used: 10 left.
    const gql = await asService();
    const used = await gql(RECORD, {
      input: { metric: 'ai_requests', quantity: 90, idempotencyKey: 'before', accountId },
    });
    expect(used.errors).toBeUndefined();
    const answers = await Promise.all(Array.from({ length: 1000 }, () => reserve(accountId)));
    const held = answers.filter((answer) => answer.data?.reserveUsage);
    const refused = answers.filter(
      (answer) => answer.errors?.[0]?.extensions?.code === 'USAGE_LIMIT_EXCEEDED',
    );
    expect(held).toHaveLength(10);
    expect(refused).toHaveLength(990);
    expect(refused[0]?.errors?.[0]?.extensions).toMatchObject({ limit: 100, reason: 'PLAN_LIMIT' });
    expect(await counterOf(accountId)).toMatchObject({ used: 90, reserved: 10 });
    // Commits of all ten land on exactly 100.
    await Promise.all(held.map((answer) => commit(accountId, answer.data?.reserveUsage.id as string, 1)));
    expect(await counterOf(accountId)).toMatchObject({ used: 100, reserved: 0 });
  });

  it('stops counting a hold at its expiry; a late commit is still recorded, the work was done', async () => {
    const accountId = newAccount();
    const hold = (await reserve(accountId, { quantity: 100, ttlSeconds: 60 })).data
      ?.reserveUsage as ReservationView;
    // The allowance is all held: nothing else gets through, by reservation or by record.
    expect((await reserve(accountId)).errors?.[0]?.extensions).toMatchObject({
      code: 'USAGE_LIMIT_EXCEEDED',
      reserved: 100,
    });
    const gql = await asService();
    const blocked = await gql(RECORD, {
      input: { metric: 'ai_requests', quantity: 1, idempotencyKey: 'r1', accountId },
    });
    expect(blocked.errors?.[0]?.extensions?.code).toBe('USAGE_LIMIT_EXCEEDED');

    await stack.advanceClock(61);
    // Expired: the hold no longer counts, for records and reservations alike.
    const recorded = await gql(RECORD, {
      input: { metric: 'ai_requests', quantity: 1, idempotencyKey: 'r2', accountId },
    });
    expect(recorded.errors).toBeUndefined();
    expect(await counterOf(accountId)).toMatchObject({ used: 1, reserved: 0 });
    const stored = await stack.app.orm.em.fork().findOneOrFail(UsageReservation, { id: hold.id });
    expect(stored.status).toBe('expired');
    // The expired reservation's work was served: its commit is counted, without a hold to give back.
    const late = await commit(accountId, hold.id, 7);
    expect(late.data?.commitUsage).toMatchObject({ duplicate: false, usage: { used: 8 } });
    expect(await counterOf(accountId)).toMatchObject({ used: 8, reserved: 0 });
  });

  it('refuses a level (gauge), an unknown feature, a feature not in the plan, and bad quantities', async () => {
    const accountId = newAccount();
    expect((await reserve(accountId, { metric: 'storage_mb' })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'metric',
    });
    expect((await reserve(accountId, { feature: 'time_travel' })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'feature',
    });
    expect((await reserve(accountId, { feature: 'api_access' })).errors?.[0]?.extensions).toMatchObject({
      code: 'FEATURE_NOT_IN_PLAN',
      feature: 'api_access',
    });
    for (const quantity of [0, -1, 1_000_001])
      expect((await reserve(accountId, { quantity })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await reserve(accountId, { ttlSeconds: 3601 })).errors?.[0]?.extensions?.code).toBe(
      'BAD_USER_INPUT',
    );
    expect(await counterOf(accountId)).toBeNull();
  });

  it('keeps accounts apart: a reservation is found only under its own account', async () => {
    const accountId = newAccount();
    const { id } = (await reserve(accountId)).data?.reserveUsage as ReservationView;
    const other = newAccount();
    expect((await commit(other, id, 1)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const user = await stack.as(other);
    const stolen = await user(RELEASE, { input: { reservationId: id } });
    expect(stolen.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(await counterOf(accountId)).toMatchObject({ reserved: 1 });
  });

  it('holds within a paid plan’s allowance but never past it during a trial', async () => {
    const accountId = newAccount();
    const em = stack.app.orm.em.fork();
    const customer = createCustomer(em, { accountId });
    createSubscription(em, customer, { planKey: 'starter', status: 'trialing' });
    await em.flush();
    await em.transactional((tx) =>
      stack.app.services.provisioner.provision(tx, accountId, stack.app.clock.now()),
    );
    const all = await reserve(accountId, { quantity: 1000 });
    expect(all.errors).toBeUndefined();
    const over = await reserve(accountId, { quantity: 1 });
    expect(over.errors?.[0]?.extensions).toMatchObject({
      code: 'USAGE_LIMIT_EXCEEDED',
      reason: 'TRIAL',
      limit: 1000,
    });
  });
});
