import type { Emulator } from '../core/emulator';
import { HttpResponse, type Route } from '../core/http';
import { COLLECTIONS } from '../core/collections';

/**
 * `GET /`: a read-only page like Stripe's test-mode dashboard. It reads the store generically,
 * so object types added later (subscriptions, invoices, …) show up without changes here.
 */

function esc(v: unknown): string {
  const s = typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v);
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function time(t: unknown): string {
  return typeof t === 'number' ? new Date(t * 1000).toISOString().replace('.000Z', 'Z') : '';
}

/** Columns worth showing for an object, by what it has. */
const COLUMNS = [
  'email',
  'name',
  'description',
  'customer',
  'status',
  'amount_due',
  'amount_paid',
  'total',
  'currency',
  'unit_amount',
  'lookup_key',
  'event_name',
  'url',
];

function table(emulator: Emulator, type: string, limit: number): string {
  const rows = emulator.store.all(type).slice(0, limit);
  const cols = COLUMNS.filter((c) => rows.some((r) => r[c] !== undefined && r[c] !== null)).slice(0, 5);
  const head = ['id', ...cols, 'created'].map((c) => `<th>${esc(c)}</th>`).join('');
  const body = rows
    .map(
      (r) =>
        `<tr><td><code>${esc(r.id)}</code></td>${cols.map((c) => `<td>${esc(r[c])}</td>`).join('')}<td>${time(r.created)}</td></tr>`,
    )
    .join('');
  const total = emulator.store.all(type).length;
  return `<h2>${esc(type)} <small>(${total})</small></h2><table><tr>${head}</tr>${body}</table>`;
}

function eventsTable(emulator: Emulator, limit: number): string {
  const deliveries = emulator.store.all(COLLECTIONS.webhookDelivery);
  const rows = emulator.store
    .all(COLLECTIONS.event)
    .slice(0, limit)
    .map((e) => {
      const ds = deliveries
        .filter((d) => d.event === e.id)
        .sort((a, b) => a.at - b.at)
        .map(
          (d) =>
            `<span class="${d.status}">${esc(d.endpoint)} #${d.attempt}${d.copy > 1 ? `(copy ${d.copy})` : ''}: ${esc(d.response_code ?? d.error)}</span>`,
        )
        .join('<br>');
      const obj = e.data.object as { id?: unknown };
      return `<tr><td><code>${esc(e.id)}</code></td><td>${esc(e.type)}</td><td><code>${esc(obj.id)}</code></td><td>${time(e.created)}</td><td>${e.pending_webhooks}</td><td>${ds || '<em>none</em>'}</td></tr>`;
    })
    .join('');
  return `<h2>Recent events</h2><table><tr><th>id</th><th>type</th><th>object</th><th>created</th><th>pending</th><th>deliveries</th></tr>${rows}</table>`;
}

/** Customers, subscriptions and invoices first; then whatever else the store holds. */
const FIRST = ['customer', 'subscription', 'invoice'];

function page(emulator: Emulator): string {
  const others = emulator.store
    .types()
    .filter((t) => !t.startsWith('_') && !FIRST.includes(t) && t !== COLLECTIONS.event);
  const sections = [...FIRST, ...others].map((t) => table(emulator, t, 50)).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Stripe emulator</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f4f8}
.succeeded{color:#070}.failed{color:#b00}small{color:#777;font-weight:normal}</style></head><body>
<h1>Stripe emulator <small>test mode · now ${time(emulator.now())} · API ${esc(emulator.apiVersion)}</small></h1>
${eventsTable(emulator, 50)}
${sections}
</body></html>`;
}

export const routes: Route[] = [
  { method: 'GET', path: '/', handler: ({ emulator }) => HttpResponse.html(page(emulator)) },
];
