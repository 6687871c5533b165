/** What the catalog sync did to one Stripe object. */
export type SyncAction = 'created' | 'updated' | 'archived' | 'unchanged';

export interface SyncLine {
  action: SyncAction;
  /** The kind of object: `product`, `price`, `meter`, `portal configuration`. */
  kind: string;
  /** The Stripe id it ended with. */
  id: string;
  /** What it is in catalog terms, e.g. `price_starter_monthly 1900 usd/month`. */
  what: string;
}

/**
 * The outcome of one `npm run stripe:sync`: a line per object and counts per action. A run that finds Stripe
 * already matching the file reports everything `unchanged`; that is how idempotency is checked.
 */
export class SyncReport {
  readonly lines: SyncLine[] = [];

  add(action: SyncAction, kind: string, id: string, what: string): void {
    this.lines.push({ action, kind, id, what });
  }

  get counts(): Record<SyncAction, number> {
    const counts: Record<SyncAction, number> = { created: 0, updated: 0, archived: 0, unchanged: 0 };
    for (const line of this.lines) counts[line.action] += 1;
    return counts;
  }

  get created(): number {
    return this.counts.created;
  }

  get updated(): number {
    return this.counts.updated;
  }

  get archived(): number {
    return this.counts.archived;
  }

  get unchanged(): number {
    return this.counts.unchanged;
  }

  /** True when the run changed nothing in Stripe. */
  get isNoop(): boolean {
    return this.lines.every((line) => line.action === 'unchanged');
  }

  format(): string {
    const kindWidth = Math.max(0, ...this.lines.map((line) => line.kind.length));
    const idWidth = Math.max(0, ...this.lines.map((line) => line.id.length));
    const body = this.lines.map(
      (line) =>
        `${line.action.padEnd(9)} ${line.kind.padEnd(kindWidth)} ${line.id.padEnd(idWidth)}  ${line.what}`,
    );
    const { created, updated, archived, unchanged } = this.counts;
    return [
      ...body,
      `${created} created, ${updated} updated, ${archived} archived, ${unchanged} unchanged`,
    ].join('\n');
  }
}
