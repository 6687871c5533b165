import type { LotAhead } from './group-reads';

/** Credits taken from a lot read ahead, not yet written (the group's closing round trip writes them). */
export interface LotTake {
  accountId: string;
  lotId: string;
  take: number;
}

/**
 * All of one account's live lots in the burn order, read ahead with its group's lock (group-reads.ts), and what
 * burns took from them since the last save (issue 17, ADR 0028's amendment "a settle's burn decided from lots read
 * with the lock"): a settle's burn is decided here, in memory, and written with the group's last saves.
 */
export class LotsAhead {
  /** What burns took, in order (written before the save's statement, which reads the lots left). */
  private readonly takes: LotTake[] = [];

  constructor(
    private readonly accountId: string,
    private readonly lots: LotAhead[],
  ) {}

  /**
   * Takes `wanted` credits in the burn order, each lot what is left of it up to what is still wanted: the running
   * sum credit-burning.ts LOTS_IN_BURN_ORDER computes (test/integration/credit-lots-ahead-property.test.ts holds
   * the two equal). Answers each lot's take, in that order.
   */
  take(wanted: number): Array<{ id: string; take: number }> {
    const taken: Array<{ id: string; take: number }> = [];
    let before = 0;
    for (const lot of this.lots) {
      if (before >= wanted) break;
      const take = Math.min(lot.remaining, wanted - before);
      before += lot.remaining;
      if (take <= 0) continue;
      lot.remaining -= take;
      taken.push({ id: lot.id, take });
      this.takes.push({ accountId: this.accountId, lotId: lot.id, take });
    }
    return taken;
  }

  /** How many takes so far: `restore` goes back to it. */
  mark(): number {
    return this.takes.length;
  }

  /** The lots get back what the takes after `mark` took from them (a request that failed: forgotten). */
  restore(mark: number): void {
    for (const taken of this.takes.splice(mark).reverse()) {
      const lot = this.lots.find((candidate) => candidate.id === taken.lotId);
      if (lot) lot.remaining += taken.take;
    }
  }

  /** The takes that wait to be written. */
  pending(): readonly LotTake[] {
    return this.takes;
  }

  /** `pending` was written. */
  written(): void {
    this.takes.length = 0;
  }
}
