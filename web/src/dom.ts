/** Small helpers: build DOM elements (text is always set as text, never parsed as HTML) and format values. */

/**
 * Integer minor units as the currency's amount, by its own exponent: 1900 usd → "$19.00", 500 jpy → "¥500".
 * The service's money module itself, compiled for the page as `money/index.js`.
 */
export { formatMoney as money } from '../../src/money/index.js';

type Child = Node | string | null | false | undefined;
type Attributes = Record<string, string | boolean | ((event: Event) => void) | undefined>;

/** `h('button', { id: 'go', onclick: () => … }, 'Go')`: attributes, `on…` listeners, then children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, value);
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

/** An ISO date as "Dec 27, 2026" (UTC, as Stripe's periods are). */
export function day(iso: string | null | undefined): string {
  if (!iso) return '';
  return new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(iso));
}

/** Whole days from now until `iso`, never negative. */
export function daysUntil(iso: string, now = Date.now()): number {
  return Math.max(0, Math.ceil((Date.parse(iso) - now) / 86_400_000));
}

const ACRONYMS = new Set(['ai', 'api', 'sso', 'mb']);

/** `ai_requests` → "AI requests"; `team_collaboration` → "Team collaboration"; `visa` → "Visa". */
export function label(key: string): string {
  const words = key.split('_').map((word) => (ACRONYMS.has(word) ? word.toUpperCase() : word));
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** 10000 → "10,000". */
export function count(value: number): string {
  return value.toLocaleString('en-US');
}
