import { HANDLED_EVENT_TYPES, HANDLERS, RECONCILED_EVENT_TYPES } from '../../src/webhooks/handlers';
import { EVENTS_CURSOR } from '../../src/webhooks/reconciler/events-cursor';
import { EVENT_TYPES_PER_LISTING, eventTypePasses } from '../../src/webhooks/reconciler/event-type-passes';

describe('the handled event types', () => {
  it('that the reconciler lists are in listings of at most 20 types, every type in exactly one', () => {
    // Stripe: "An array of up to 20 strings containing specific event names" (EventListParams.types).
    expect(EVENT_TYPES_PER_LISTING).toBe(20);
    const passes = eventTypePasses(RECONCILED_EVENT_TYPES);
    expect(RECONCILED_EVENT_TYPES.length).toBeGreaterThan(20);
    expect(passes.length).toBe(Math.ceil(RECONCILED_EVENT_TYPES.length / 20));
    for (const pass of passes) expect(pass.types.length).toBeLessThanOrEqual(20);
    expect(passes.flatMap((pass) => pass.types)).toEqual(RECONCILED_EVENT_TYPES);
    expect(new Set(HANDLED_EVENT_TYPES).size).toBe(Object.keys(HANDLERS).length);
    // The first listing keeps the cursor of the days of one listing; each other has its own.
    expect(passes.map((pass) => pass.cursorName)).toEqual(
      passes.map((_, index) => (index === 0 ? EVENTS_CURSOR : `${EVENTS_CURSOR}:${index + 1}`)),
    );
    // The second listing holds the types added since; the first is still the one its cursor walked before.
    expect(passes[1]?.types).toEqual([
      'setup_intent.succeeded',
      'credit_note.created',
      'credit_note.voided',
      'payment_method.automatically_updated',
    ]);
  });

  it('cut in order: a type appended to the map goes to the last listing and moves no other', () => {
    const types = Array.from({ length: 41 }, (_, index) => `type.${index}`);
    const before = eventTypePasses(types.slice(0, 40));
    const after = eventTypePasses(types);
    expect(after.slice(0, 2)).toEqual(before);
    expect(after[2]).toEqual({ cursorName: `${EVENTS_CURSOR}:3`, types: ['type.40'] });
  });

  it('left out of the reconciliation are only those customer.subscription.updated also announces', () => {
    const left = HANDLED_EVENT_TYPES.filter((type) => !RECONCILED_EVENT_TYPES.includes(type));
    expect(left.sort()).toEqual([
      'customer.subscription.pending_update_applied',
      'customer.subscription.pending_update_expired',
    ]);
    expect(RECONCILED_EVENT_TYPES).toContain('customer.subscription.updated');
    for (const type of left) expect(HANDLERS[type]).toBe(HANDLERS['customer.subscription.updated']);
  });

  it('include the payment, refund, dispute, setup and credit note events', () => {
    expect(HANDLED_EVENT_TYPES).toEqual(
      expect.arrayContaining([
        'invoice.payment_action_required',
        'invoice.voided',
        'invoice.marked_uncollectible',
        'charge.refunded',
        'charge.dispute.created',
        'charge.dispute.closed',
        'setup_intent.succeeded',
        'credit_note.created',
        'credit_note.voided',
        'payment_method.automatically_updated',
      ]),
    );
  });
});
