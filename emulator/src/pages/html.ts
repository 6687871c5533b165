/** Small HTML helpers shared by the hosted pages (Checkout, portal, invoices). */

export function esc(v: unknown): string {
  const s = typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Integer cents as "$12.34" (other currencies: "12.34 EUR"). */
export function money(cents: number, currency: string): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const value = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  return currency.toLowerCase() === 'usd' ? `${sign}$${value}` : `${sign}${value} ${currency.toUpperCase()}`;
}

export function date(ts: number | null | undefined): string {
  return typeof ts === 'number' ? new Date(ts * 1000).toISOString().slice(0, 10) : '';
}

export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · Stripe emulator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:1rem 0}td,th{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:left}
.num{text-align:right}label{display:block;margin:.6rem 0}input,select{font:inherit;padding:.3rem;width:100%;box-sizing:border-box}
.row{display:flex;gap:1rem}.row label{flex:1}button{font:inherit;padding:.5rem 1rem;margin-top:.6rem;cursor:pointer}
.error{color:#b00020;background:#fdecee;padding:.5rem}.muted{color:#666;font-size:.9em}section{margin:1.5rem 0}
</style></head><body>${body}</body></html>`;
}
