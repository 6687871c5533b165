import { Gauge, type Registry } from 'prom-client';
import { INBOX_BACKLOG_STATES, type InboxBacklog, type OverageReportBacklog } from './metric-types';
import { ScrapeRead } from './scrape-read';

/** The webhook inbox's backlog by state, read at scrape time (`BillingMetrics.readInboxWith`). */
export function inboxBacklogGauges(registers: Registry[]): ScrapeRead<InboxBacklog[]> {
  const events = new Gauge({
    name: 'billing_webhook_inbox_events',
    help: 'Webhook inbox events not processed yet (pending), whose last attempt failed (failed), or given up on after too many attempts or days (dead: no more automatic retries), read at scrape time',
    labelNames: ['state'] as const,
    registers,
    collect: () => read.collect(),
  });
  const oldest = new Gauge({
    name: 'billing_webhook_inbox_oldest_age_seconds',
    help: 'Age of the oldest pending, failed or dead webhook inbox event in seconds (0 when there is none)',
    labelNames: ['state'] as const,
    registers,
    collect: () => read.collect(),
  });
  const read = new ScrapeRead<InboxBacklog[]>(
    (backlog) => {
      for (const state of INBOX_BACKLOG_STATES) {
        const row = backlog.find((entry) => entry.state === state);
        events.set({ state }, row?.count ?? 0);
        oldest.set({ state }, row?.oldestAgeSeconds ?? 0);
      }
    },
    () => {
      events.reset();
      oldest.reset();
    },
  );
  return read;
}

/** The overage reports not yet confirmed by Stripe, read at scrape time (`BillingMetrics.readOverageReportsWith`). */
export function overageBacklogGauges(registers: Registry[]): ScrapeRead<OverageReportBacklog> {
  const reports = new Gauge({
    name: 'billing_overage_reports',
    help: 'Overage reports to Stripe written down and not yet confirmed (pending), and those of them pending for over an hour or failed five times or more (stuck), read at scrape time',
    labelNames: ['state'] as const,
    registers,
    collect: () => read.collect(),
  });
  // Labelled like the inbox gauges, so a failed read leaves the series out rather than showing a 0.
  const oldest = new Gauge({
    name: 'billing_overage_report_oldest_age_seconds',
    help: 'Seconds since the oldest pending overage report was written down (state pending; 0 when there is none), read at scrape time',
    labelNames: ['state'] as const,
    registers,
    collect: () => read.collect(),
  });
  const read = new ScrapeRead<OverageReportBacklog>(
    (backlog) => {
      reports.set({ state: 'pending' }, backlog.pending);
      reports.set({ state: 'stuck' }, backlog.stuck);
      oldest.set({ state: 'pending' }, backlog.oldestAgeSeconds);
    },
    () => {
      reports.reset();
      oldest.reset();
    },
  );
  return read;
}
