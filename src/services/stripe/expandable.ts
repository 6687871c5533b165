/**
 * The id of an expandable Stripe field, whether Stripe sent the id or the expanded object
 * (https://docs.stripe.com/api/expanding_objects). A deleted object expanded in place may lack its id.
 */
export function idOf(value: string | { id: string }): string;
export function idOf(value: string | { id?: string } | null | undefined): string | null;
export function idOf(value: string | { id?: string } | null | undefined): string | null {
  if (!value) return null;
  return typeof value === 'string' ? value : (value.id ?? null);
}
