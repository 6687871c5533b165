import type { Logger } from '../../logging/logger';
import { PassSchedule } from '../time/pass-schedule';
import type { CreditLedger } from './credit-ledger';

/** How often lots past their expiry and holds past their time are dropped for accounts nobody is changing. */
export const CREDIT_SWEEP_INTERVAL_MS = 60_000;

/**
 * Drops expired lots (an `expiry` entry each) and holds past their time for idle accounts, so the ledger and
 * `balanceUpdated` tell the customer when credits expire, not at the account's next change. Every instance may
 * run it: each account is changed under its own lock and both passes are idempotent.
 */
export class CreditSweep {
  private readonly schedule = new PassSchedule(
    async () => this.intervalMs,
    async () => {
      try {
        await this.ledger.expire();
        await this.ledger.sweepHolds();
        for (const pass of this.passes) await pass();
      } catch (error) {
        this.logger.error({ err: error }, 'credit expiry sweep failed');
      }
    },
  );

  constructor(
    private readonly ledger: CreditLedger,
    private readonly logger: Logger,
    private readonly intervalMs = CREDIT_SWEEP_INTERVAL_MS,
  ) {}

  private readonly passes: Array<() => Promise<unknown>> = [];

  /** Another idempotent pass run with the sweep (automatic top-ups a stopped process left mid-charge). */
  addPass(pass: () => Promise<unknown>): void {
    this.passes.push(pass);
  }

  start(): void {
    this.schedule.start();
  }

  stop(): Promise<void> {
    return this.schedule.stop();
  }
}
