import { BadUserInputError, InsufficientCreditsError } from '../../errors';
import type { Orm } from '../../database/database';
import type { Clock } from '../time/clock';
import type { UsagePeriod } from '../usage/usage-period';
import { inLockedAccount, type LockedAccount, type LockOptions } from './credit-account';
import { takeFromLots } from './credit-burning';
import type { CreditEvents } from './credit-events';
import { type AdmittedOverage, type SettleInput, settleHold, placeHold, releaseHeld } from './credit-holds';
import type {
  AdjustCredits,
  CreditHoldView,
  AdjustResult,
  BurnCredits,
  BurnResult,
  CreditBalanceView,
  CreditEntryPage,
  CreditSource,
  GrantCredits,
  GrantResult,
  HoldCredits,
  HoldResult,
  RemoveUnspent,
  RemoveUnspentResult,
  SettleHold,
  SettlePricedHold,
  SettleResult,
} from './credit-ledger.types';
import { type HoldRow, holdOf } from './hold-row';
import { CreditGroups } from './credit-groups';
import { chargingOf, type OverageCharging, type OverageTerms, type SpendWatcher } from './credit-overage';
import { LOT_COLUMNS, type LotRow, lotOf, readBalance, readEntries } from './credit-reads';
import { wholeCredits } from './credit-validation';
import { type OpenPeriod, type OpenPeriodResult, openPeriodIn } from './period-credits';

/**
 * The one place an account's credits change (docs/credits.md, ADR 0025). Each method is one transaction under
 * the account's credit_balance row lock, idempotent on its source, and publishes `balanceUpdated` after it
 * commits when the balance or held changed; a hold, settle, release or burn shares its transaction with the
 * others in flight on this instance (a group commit, ADR 0028), with its own outcome. Purchases, included credits, rollover and token reservations are
 * calls of `grant`, `hold` and `settle`.
 */
export class CreditLedger {
  /** A model call's hold and settle, releases and burns: group commits (credit-groups.ts, ADR 0028). */
  private readonly groups: CreditGroups;

  constructor(
    private readonly orm: Orm,
    private readonly clock: Clock,
    private readonly events: CreditEvents,
    /** Mails at 80 and 100 % of a spend limit, in the transaction that crossed (none: no mails). */
    private readonly spendWatcher: SpendWatcher | null = null,
    /** Told each credit group commit's size (the metric), as `CreditGroups` takes it. */
    onGroup?: (size: number) => void,
  ) {
    this.groups = new CreditGroups(orm, clock, events, onGroup);
  }

  /**
   * Credit group commits written and requests in them so far (monitoring, and the tests' proof of grouping), and
   * groups run again on the ORM's transaction (`ormFallbacks`: a request below the ORM needed it).
   */
  groupStats(): { groups: number; requests: number; rerun: number; ormFallbacks: number } {
    return this.groups.stats();
  }

  /** Adds a lot and its entry; a grant from a source the account already has answers that lot (`duplicate`). */
  async grant(input: GrantCredits): Promise<GrantResult> {
    wholeCredits(input.credits, 1, 'credits');
    const now = this.clock.now();
    if (input.expiresAt && input.expiresAt.getTime() <= now.getTime())
      throw new BadUserInputError('expiresAt must be in the future (or null: never)', 'expiresAt');
    return this.change(input.accountId, now, async (account) => {
      const earlier = await lotBySource(account, input.source);
      if (earlier) return { lot: lotOf(earlier), entryId: null, duplicate: true };
      const [row] = await account.sql<LotRow>(
        `insert into credit_lot (id, created_at, updated_at, account_id, kind, credits, remaining, expires_at,
                                 source_type, source_id)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning ${LOT_COLUMNS}`,
        [
          crypto.randomUUID(),
          now,
          now,
          input.accountId,
          input.kind,
          input.credits,
          input.credits,
          input.expiresAt,
          input.source.type,
          input.source.id,
        ],
      );
      const lot = lotOf(row as LotRow);
      account.expiring(lot.expiresAt);
      account.record({
        kind: input.kind,
        credits: input.credits,
        uncovered: 0,
        lotId: lot.id,
        reason: input.reason,
        source: input.source,
        actor: input.actor,
      });
      const [entryId] = await account.save();
      return { lot, entryId: entryId ?? null, duplicate: false };
    });
  }

  /**
   * Burns `credits` in the burn order from what is available; `uncovered` is what it could not (the caller bills
   * it as overage or refuses). Once per source: a second burn for the same source answers the first.
   */
  async burn(input: BurnCredits): Promise<BurnResult> {
    wholeCredits(input.credits, 0, 'credits');
    return this.groups.run(
      input.accountId,
      async (account) => {
        const earlier = await burnOf(account, 'burn', input.source);
        if (earlier) return earlier;
        return burnNow(account, input.credits, {
          kind: 'burn',
          reason: input.reason,
          source: input.source,
          actor: input.actor ?? 'system',
        });
      },
      { burns: true },
    );
  }

  /** Sets credits aside from `available`; refused (an outcome, not a throw) when fewer are available. */
  async hold(input: HoldCredits): Promise<HoldResult> {
    wholeCredits(input.credits, 0, 'credits');
    wholeCredits(input.ttlSeconds, 1, 'ttlSeconds');
    return this.groups.run(input.accountId, (account) => placeHold(account, input), {
      holdId: input.holdId,
      memberId: input.memberId ?? null,
    });
  }

  /** Burns what the work used (from the hold first, then what else is available) and frees the hold. */
  async settle(input: SettleHold): Promise<SettleResult> {
    wholeCredits(input.credits, 0, 'credits');
    return this.settleIn(input.accountId, input, input.overage ?? null, input.period ?? null);
  }

  /** `settle`, what the work used priced from the live hold (read once, in the settle's own transaction). */
  async settlePriced(input: SettlePricedHold): Promise<SettleResult> {
    const credits = (hold: CreditHoldView) => {
      const priced = input.price(hold);
      wholeCredits(priced, 0, 'credits');
      return priced;
    };
    return this.settleIn(
      input.accountId,
      { holdId: input.holdId, credits },
      input.overage ?? null,
      input.period ?? null,
    );
  }

  private settleIn(
    accountId: string,
    input: SettleInput,
    terms: OverageTerms | null,
    period: UsagePeriod | null,
  ): Promise<SettleResult> {
    const overage = terms ? chargingOf(terms, this.spendWatcher) : null;
    // Terms that no longer bill overage still bill what a live hold was admitted, at its price (only that part).
    const admittedOnly = (admitted: AdmittedOverage) =>
      admitted.credits > 0 && admitted.price && period
        ? chargingOf({ period, ...admitted.price }, this.spendWatcher, false)
        : null;
    return this.groups.run(
      accountId,
      (account) =>
        settleHold(account, input, (credits, admitted, heldSince) =>
          burnNow(
            account,
            credits,
            {
              kind: 'burn',
              reason: 'Settled hold',
              source: { type: 'credit_hold', id: input.holdId },
              actor: 'system',
            },
            overage ?? admittedOnly(admitted),
            admitted.credits,
            heldSince,
          ),
        ),
      { holdId: input.holdId, burns: true },
    );
  }

  /** Gives a live hold back unused; false when it was settled, released or expired already (or is unknown). */
  async releaseHold(accountId: string, holdId: string): Promise<boolean> {
    return this.groups.run(accountId, (account) => releaseHeld(account, holdId), { holdId });
  }

  /** Drops every hold past its time (writes do it for their own account as they go; this for the idle ones). */
  async sweepHolds(now: Date = this.clock.now()): Promise<number> {
    const rows = await this.orm.em
      .getConnection()
      .execute<Array<{ account_id: string }>>(
        `select distinct account_id from credit_hold where state = 'held' and expires_at <= ?`,
        [now],
      );
    for (const row of rows)
      await this.change(row.account_id, now, async () => undefined, { dropExpired: 'always' });
    return rows.length;
  }

  /** Every lot past its expiry with credits left loses them (an `expiry` entry each). Idempotent. */
  async expire(now: Date = this.clock.now()): Promise<number> {
    const rows = await this.orm.em
      .getConnection()
      .execute<Array<{ account_id: string }>>(
        'select distinct account_id from credit_lot where remaining > 0 and expires_at <= ?',
        [now],
      );
    for (const row of rows)
      await this.change(row.account_id, now, async () => undefined, { dropExpired: 'always' });
    return rows.length;
  }

  /** A refunded pack: removes what is left of its lot (a `refund` entry) and says what was already spent. */
  async removeUnspent(input: RemoveUnspent): Promise<RemoveUnspentResult> {
    return this.change(input.accountId, this.clock.now(), async (account) => {
      const lot = await lotBySource(account, input.source);
      if (!lot) return { found: false };
      const removed = Number(lot.remaining);
      if (removed > 0) {
        await account.sql('update credit_lot set remaining = 0, updated_at = ? where id = ?', [
          account.now,
          lot.id,
        ]);
        account.record({
          kind: 'refund',
          credits: -removed,
          uncovered: 0,
          lotId: lot.id,
          reason: input.reason ?? 'Refunded: unspent credits removed',
          source: input.source,
          actor: input.actor ?? 'system',
        });
      }
      const spent = await spentOf(account, lot.id);
      return { found: true, removed, spent, granted: Number(lot.credits), duplicate: removed === 0 };
    });
  }

  /** An admin's correction: adds a lot that never expires, or takes in the burn order (never below zero). */
  async adjust(input: AdjustCredits): Promise<AdjustResult> {
    if (!Number.isSafeInteger(input.credits) || input.credits === 0)
      throw new BadUserInputError('credits must be a whole number other than 0', 'credits');
    const source = { type: 'admin_adjustment', id: input.idempotencyKey };
    return this.change(input.accountId, this.clock.now(), async (account) => {
      const entry = { kind: 'adjustment' as const, reason: input.reason, source, actor: input.actor };
      if ((await entryCount(account, 'adjustment', source)) > 0)
        return { credits: input.credits, balance: account.balance, duplicate: true };
      if (input.credits > 0) await addLot(account, input.credits, entry);
      else if (account.available < -input.credits)
        throw new InsufficientCreditsError(account.available, -input.credits);
      else await takeFromLots(account, -input.credits, entry);
      return { credits: input.credits, balance: account.balance, duplicate: false };
    });
  }

  /**
   * Opens a usage period's included credits, rolling the last period's over as the plan says, once per account
   * and period however many ask at once (period-credits.ts; docs/credits.md "Included credits and rollover").
   */
  async openPeriod(input: OpenPeriod): Promise<OpenPeriodResult> {
    return this.change(input.accountId, this.clock.now(), (account) => openPeriodIn(account, input));
  }

  /** A hold of the account, in whatever state; null for an id the account never used. */
  async findHold(accountId: string, holdId: string): Promise<CreditHoldView | null> {
    const [row] = await this.orm.em
      .getConnection()
      .execute<HoldRow[]>('select * from credit_hold where id = ? and account_id = ?', [holdId, accountId]);
    return row ? holdOf(row) : null;
  }

  balanceOf(accountId: string): Promise<CreditBalanceView> {
    return readBalance(this.orm, accountId, this.clock.now());
  }

  entries(accountId: string, first: number, afterId: number | null): Promise<CreditEntryPage> {
    return readEntries(this.orm, accountId, first, afterId);
  }

  /** One transaction under the account's lock; `balanceUpdated` after the commit when anything changed. */
  private async change<T>(
    accountId: string,
    now: Date,
    work: (account: LockedAccount) => Promise<T>,
    options: LockOptions = {},
  ): Promise<T> {
    const { value, figures, autoTopUp, lowBalance } = await inLockedAccount(
      this.orm,
      accountId,
      now,
      work,
      options,
    );
    if (figures) await this.events.balanceChanged(accountId, figures, autoTopUp, lowBalance);
    return value;
  }
}

async function lotBySource(account: LockedAccount, source: CreditSource): Promise<LotRow | undefined> {
  const [row] = await account.sql<LotRow>(
    `select ${LOT_COLUMNS} from credit_lot where account_id = ? and source_type = ? and source_id = ?`,
    [account.accountId, source.type, source.id],
  );
  return row;
}

/** A lot for a positive adjustment: never expires, its source the adjustment's key. */
async function addLot(
  account: LockedAccount,
  credits: number,
  entry: { kind: 'adjustment'; reason: string; source: CreditSource; actor: string },
): Promise<void> {
  const id = crypto.randomUUID();
  await account.sql(
    `insert into credit_lot (id, created_at, updated_at, account_id, kind, credits, remaining, expires_at,
                             source_type, source_id)
     values (?, ?, ?, ?, 'grant', ?, ?, null, ?, ?)`,
    [id, account.now, account.now, account.accountId, credits, credits, entry.source.type, entry.source.id],
  );
  account.record({ ...entry, credits, uncovered: 0, lotId: id });
}

async function entryCount(account: LockedAccount, kind: string, source: CreditSource): Promise<number> {
  const [row] = await account.sql<{ count: string }>(
    `select count(*) as count from credit_ledger_entry
      where account_id = ? and kind = ? and source_type = ? and source_id = ?`,
    [account.accountId, kind, source.type, source.id],
  );
  return Number(row?.count ?? 0);
}

/** An earlier burn of the same source, as it was answered; undefined when there was none. */
async function burnOf(
  account: LockedAccount,
  kind: string,
  source: CreditSource,
): Promise<BurnResult | undefined> {
  const [row] = await account.sql<{ entries: string; burned: string; uncovered: string; billed: string }>(
    `select count(*) as entries, coalesce(-sum(credits), 0) as burned, coalesce(sum(uncovered), 0) as uncovered,
            coalesce(sum(billed), 0) as billed
       from credit_ledger_entry where account_id = ? and kind = ? and source_type = ? and source_id = ?`,
    [account.accountId, kind, source.type, source.id],
  );
  if (!row || Number(row.entries) === 0) return undefined;
  return {
    burned: Number(row.burned),
    uncovered: Number(row.uncovered),
    billed: Number(row.billed),
    duplicate: true,
  };
}

/**
 * Burns what is available of `credits` and records what was not as `uncovered` on the last entry (an entry of 0
 * credits when nothing was available), so a second call finds the burn and answers it. On a plan that bills
 * overage (`overage`), the uncovered part is billed: up to what the hold `admitted` beyond the balance whatever the
 * limit is now, the rest as far as the spend limit lets it (`billed`); what is left is written off: the work was
 * done, and the limit is a promise to the customer (docs/credits.md).
 */
async function burnNow(
  account: LockedAccount,
  credits: number,
  taking: { kind: 'burn'; reason: string; source: CreditSource; actor: string },
  overage: OverageCharging | null = null,
  admitted = 0,
  heldSince?: Date,
): Promise<BurnResult> {
  const burned = await takeFromLots(account, credits, taking, heldSince);
  const uncovered = credits - burned;
  const billed = uncovered > 0 && overage ? await overage.bill(account, uncovered, admitted) : 0;
  if (uncovered > 0 || burned === 0)
    account.record({
      ...taking,
      credits: 0,
      uncovered,
      billed,
      lotId: null,
      reason: billed > 0 ? `${taking.reason}: billed as overage` : `${taking.reason}: not covered`,
    });
  return { burned, uncovered, billed, duplicate: false };
}
/** What burns and negative adjustments took from a lot. */
async function spentOf(account: LockedAccount, lotId: string): Promise<number> {
  const [row] = await account.sql<{ spent: string }>(
    `select coalesce(-sum(credits), 0) as spent from credit_ledger_entry
      where account_id = ? and lot_id = ? and kind in ('burn', 'adjustment')`,
    [account.accountId, lotId],
  );
  return Number(row?.spent ?? 0);
}
