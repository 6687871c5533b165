import type Stripe from 'stripe';
import type { Logger } from '../../logging/logger';

/**
 * What "now" is for billing: usage periods, trials, grace periods, reservation expiry and the read stamps that
 * order Stripe's state (ADR 0005). One clock for the whole service, so that in development and tests the service
 * and Stripe move together (ADR 0013): a test advances Stripe's clock and the service follows, instead of faking
 * `Date` for the whole process. Production reads the wall clock.
 */
export interface Clock {
  now(): Date;
}

/** A clock that follows another one: started before serving, stopped at shutdown, re-read on demand. */
export interface FollowingClock extends Clock {
  /** Reads the clock it follows now (tests call it right after moving Stripe's clock). */
  sync(): Promise<void>;
  start(): Promise<void>;
  stop(): void;
}

export const wallClock: Clock = { now: () => new Date() };

/** How often a following clock re-reads the clock it follows. */
const SYNC_INTERVAL_MS = 250;

/**
 * Follows the Stripe emulator's clock (`GET /_emulator/clock`: the emulator's now is real time plus an offset
 * that `POST /_emulator/clock/advance` moves forward). Only the offset is read, so the clock keeps ticking with
 * real time between reads. Development and tests only (`BILLING_CLOCK=emulator`).
 */
export class EmulatorClock implements FollowingClock {
  private offsetMs = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly apiBase: string,
    private readonly logger: Logger,
  ) {}

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  async sync(): Promise<void> {
    const response = await fetch(new URL('/_emulator/clock', this.apiBase));
    if (!response.ok) throw new Error(`GET /_emulator/clock answered ${response.status}`);
    const { offset } = (await response.json()) as { offset: number };
    if (!Number.isFinite(offset)) throw new Error('GET /_emulator/clock gave no offset');
    this.offsetMs = offset * 1000;
  }

  async start(): Promise<void> {
    await this.sync().catch((error: unknown) => {
      throw new Error(
        `BILLING_CLOCK=emulator, but the emulator's clock at ${this.apiBase} cannot be read (${String(error)}): start the emulator or set BILLING_CLOCK=wall`,
      );
    });
    this.timer = setInterval(() => {
      this.sync().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'cannot read the emulator clock; keeping the last offset'),
      );
    }, SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * Follows a Stripe test clock (`BILLING_CLOCK=test_clock`, `STRIPE_TEST_CLOCK=clock_…`): works against Stripe's
 * test mode as against the emulator. A test clock is frozen: now is its `frozen_time` until it is advanced.
 * Customers the service creates are put on the same clock, so advancing it moves their subscriptions too.
 */
export class StripeTestClock implements FollowingClock {
  private frozenAt: Date | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stripe: Pick<Stripe, 'testHelpers'>,
    readonly testClockId: string,
    private readonly logger: Logger,
  ) {}

  now(): Date {
    return this.frozenAt ?? new Date();
  }

  async sync(): Promise<void> {
    const clock = await this.stripe.testHelpers.testClocks.retrieve(this.testClockId);
    this.frozenAt = new Date(clock.frozen_time * 1000);
  }

  async start(): Promise<void> {
    await this.sync().catch((error: unknown) => {
      throw new Error(
        `BILLING_CLOCK=test_clock, but the test clock ${this.testClockId} cannot be read (${String(error)}): set STRIPE_TEST_CLOCK to an existing clock_… id`,
      );
    });
    this.timer = setInterval(() => {
      this.sync().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'cannot read the Stripe test clock; keeping the last time'),
      );
    }, SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** Whether a clock follows another one (and so has to be started, synced and stopped). */
export function isFollowing(clock: Clock): clock is FollowingClock {
  return 'sync' in clock && typeof (clock as FollowingClock).sync === 'function';
}

/**
 * Our "now" for something Stripe did at `reached` (an event's time): a following clock still behind that moment
 * has not yet read Stripe's latest move (it reads every `SYNC_INTERVAL_MS`), so it reads it first. Without this,
 * a webhook processed just after Stripe's clock moved would be stamped, and start a grace period, in Stripe's
 * past. A clock that cannot be read keeps its last offset, as between its periodic reads; the wall clock is
 * returned as it is.
 */
export async function nowAfter(clock: Clock, reached: Date, logger: Logger): Promise<Date> {
  if (isFollowing(clock) && clock.now() < reached)
    await clock
      .sync()
      .catch((error: unknown) => logger.warn({ err: error }, 'cannot read the followed clock'));
  return clock.now();
}
