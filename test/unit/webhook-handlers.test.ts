import { HANDLED_EVENT_TYPES, HANDLERS, RECONCILED_EVENT_TYPES } from '../../src/webhooks/handlers';

describe('the handled event types', () => {
  it('that the reconciler lists fit in one `types[]` filter of GET /v1/events', () => {
    // Stripe: "An array of up to 20 strings containing specific event names" (EventListParams.types).
    expect(RECONCILED_EVENT_TYPES.length).toBeLessThanOrEqual(20);
    expect(new Set(HANDLED_EVENT_TYPES).size).toBe(Object.keys(HANDLERS).length);
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

  it('include the payment, refund and dispute events', () => {
    expect(HANDLED_EVENT_TYPES).toEqual(
      expect.arrayContaining([
        'invoice.payment_action_required',
        'invoice.voided',
        'invoice.marked_uncollectible',
        'charge.refunded',
        'charge.dispute.created',
        'charge.dispute.closed',
      ]),
    );
  });
});
