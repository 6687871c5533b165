import { HANDLED_EVENT_TYPES, HANDLERS } from '../../src/webhooks/handlers';

describe('the handled event types', () => {
  it('fit in one `types[]` filter of GET /v1/events, which the reconciler lists them with', () => {
    // Stripe: "An array of up to 20 strings containing specific event names" (EventListParams.types).
    expect(HANDLED_EVENT_TYPES.length).toBeLessThanOrEqual(20);
    expect(new Set(HANDLED_EVENT_TYPES).size).toBe(Object.keys(HANDLERS).length);
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
