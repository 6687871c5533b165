/**
 * Disputes (https://docs.stripe.com/api/disputes, https://docs.stripe.com/disputes/how-disputes-work).
 * Only Stripe's dispute test cards open them (https://docs.stripe.com/testing#disputes): the charge
 * succeeds, then the issuer disputes it —
 * `4000 0000 0000 0259` / `pm_card_createDispute`: a `fraudulent` chargeback,
 * `4000 0000 0000 2685` / `pm_card_createDisputeProductNotReceived`: a `product_not_received` one,
 * `4000 0000 0000 1976` / `pm_card_createDisputeInquiry`: an inquiry (`warning_needs_response`).
 * A chargeback withdraws the funds (`charge.dispute.funds_withdrawn`) and makes the charge
 * unrefundable (`is_charge_refundable: false`); an inquiry does neither. The issuer acts after the
 * payment, so the dispute is opened once the request that charged the card has finished (its
 * events come after the payment's), as a Stripe-side event (`request: null`), and before any other
 * request is served: the Stripe CLI's `charge.dispute.*` fixtures confirm a payment and list its
 * dispute in the very next request.
 * Evidence: "Updating any field in the hash will submit all fields in the hash for review" unless
 * `submit=false` stages it (https://docs.stripe.com/api/disputes/update); in test mode the text
 * `winning_evidence` / `losing_evidence` in `uncategorized_text` decides the outcome
 * (https://docs.stripe.com/testing#disputes). Closing accepts the dispute: `needs_response` →
 * `lost`, an inquiry → `warning_closed` (https://docs.stripe.com/api/disputes/close).
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { paginate } from '../../core/list';
import type { ParamReader } from '../../core/params';
import { disputeAfterCharge, type DisputeSpec } from '../../resources/payment-methods';

import { type Emulator, emit, id, idOf, now, withTimeAt } from '../context';
import { COLLECTIONS } from '../../core/collections';

type Dispute = Stripe.Dispute;
type Evidence = Stripe.Dispute.Evidence;
type TextEvidenceField = {
  [K in keyof Evidence]-?: Evidence[K] extends string | Stripe.File | null ? K : never;
}[keyof Evidence];

/** The evidence fields that hold a text or a file id (the SDK's `DisputeUpdateParams.Evidence`). */
const EVIDENCE_FIELDS = [
  'access_activity_log',
  'billing_address',
  'cancellation_policy',
  'cancellation_policy_disclosure',
  'cancellation_rebuttal',
  'customer_communication',
  'customer_email_address',
  'customer_name',
  'customer_purchase_ip',
  'customer_signature',
  'duplicate_charge_documentation',
  'duplicate_charge_explanation',
  'duplicate_charge_id',
  'product_description',
  'receipt',
  'refund_policy',
  'refund_policy_disclosure',
  'refund_refusal_explanation',
  'service_date',
  'service_documentation',
  'shipping_address',
  'shipping_carrier',
  'shipping_date',
  'shipping_documentation',
  'shipping_tracking_number',
  'uncategorized_file',
  'uncategorized_text',
] as const satisfies readonly TextEvidenceField[];

const OPEN_STATUSES: readonly string[] = ['needs_response', 'warning_needs_response'];
const CLOSED_STATUSES: readonly string[] = ['won', 'lost', 'warning_closed', 'prevented'];
const DAY = 86_400;

function requireDispute(emulator: Emulator, disputeId: string): Dispute {
  return emulator.store.require(COLLECTIONS.dispute, disputeId, 'dispute');
}

function emptyEvidence(): Evidence {
  return {
    access_activity_log: null,
    billing_address: null,
    cancellation_policy: null,
    cancellation_policy_disclosure: null,
    cancellation_rebuttal: null,
    customer_communication: null,
    customer_email_address: null,
    customer_name: null,
    customer_purchase_ip: null,
    customer_signature: null,
    duplicate_charge_documentation: null,
    duplicate_charge_explanation: null,
    duplicate_charge_id: null,
    enhanced_evidence: {},
    product_description: null,
    receipt: null,
    refund_policy: null,
    refund_policy_disclosure: null,
    refund_refusal_explanation: null,
    service_date: null,
    service_documentation: null,
    shipping_address: null,
    shipping_carrier: null,
    shipping_date: null,
    shipping_documentation: null,
    shipping_tracking_number: null,
    uncategorized_file: null,
    uncategorized_text: null,
  };
}

/**
 * `evidence_details.due_by`: the end of the UTC day 19 days after the dispute, as in Stripe's
 * example dispute (created 1680651737, due_by 1682294399; https://docs.stripe.com/api/disputes/object).
 */
function dueBy(created: number): number {
  const dayStart = Math.floor(created / DAY) * DAY;
  return dayStart + 20 * DAY - 1;
}

function buildDispute(emulator: Emulator, charge: Stripe.Charge, spec: DisputeSpec): Dispute {
  const created = now(emulator, idOf(charge.customer));
  const paymentMethod = charge.payment_method
    ? emulator.store.get(COLLECTIONS.paymentMethod, charge.payment_method)
    : undefined;
  const brand = paymentMethod?.card?.brand ?? 'visa';
  return {
    id: id('du'),
    object: 'dispute',
    amount: charge.amount,
    balance_transactions: [],
    charge: charge.id,
    created,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: emptyEvidence(),
    evidence_details: {
      due_by: dueBy(created),
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: 'not_submitted',
    },
    intended_submission_method: null,
    is_charge_refundable: spec.inquiry,
    livemode: false,
    metadata: {},
    payment_intent: idOf(charge.payment_intent),
    payment_method_details: {
      card: {
        brand,
        case_type: spec.inquiry ? 'inquiry' : 'chargeback',
        network: brand,
        network_reason_code: null,
      },
      type: 'card',
    },
    reason: spec.reason,
    status: spec.inquiry ? 'warning_needs_response' : 'needs_response',
  };
}

function openDispute(emulator: Emulator, chargeId: string, spec: DisputeSpec): void {
  const charge = emulator.store.get(COLLECTIONS.charge, chargeId);
  if (!charge) return; // gone (reset) before the issuer acted
  const dispute = buildDispute(emulator, charge, spec);
  emulator.store.insert(COLLECTIONS.dispute, dispute);
  emulator.store.update(COLLECTIONS.charge, charge.id, (ch) => {
    ch.disputed = true;
  });
  emit(emulator, 'charge.dispute.created', dispute);
  if (!spec.inquiry) emit(emulator, 'charge.dispute.funds_withdrawn', dispute);
}

/**
 * Called for every succeeded charge: on a dispute test card, the issuer opens the dispute right
 * after the current request (or clock step) is done, dated at the charge.
 */
export function disputeIfTestCard(emulator: Emulator, charge: Stripe.Charge): void {
  const spec = charge.payment_method ? disputeAfterCharge(emulator, charge.payment_method) : null;
  if (!spec) return;
  asTheIssuer(emulator, idOf(charge.customer), charge.created, () => openDispute(emulator, charge.id, spec));
}

/**
 * Runs what the card's issuer does on its own: once the current request (or clock step) is done
 * and before the next request is read, outside any request (`event.request` nulls), at `at` on
 * the customer's clock.
 */
function asTheIssuer(emulator: Emulator, customer: string | null, at: number, act: () => void): void {
  setImmediate(() => {
    try {
      emulator.timeDriven(() => (customer ? withTimeAt(emulator, customer, at, act) : act()));
    } catch (e) {
      // Nobody awaits this step: report it instead of taking the process down.
      emulator.log(`emulator: dispute step failed: ${e instanceof Error ? e.stack : String(e)}`);
    }
  });
}

function customerOfDispute(emulator: Emulator, d: Dispute): string | null {
  const charge = emulator.store.get(COLLECTIONS.charge, idOf(d.charge) ?? '');
  return idOf(charge?.customer ?? null);
}

/** The text and file evidence of an update, `''` clearing a field. */
function readEvidence(input: ParamReader): Partial<Record<(typeof EVIDENCE_FIELDS)[number], string | null>> {
  const out: Partial<Record<(typeof EVIDENCE_FIELDS)[number], string | null>> = {};
  for (const field of EVIDENCE_FIELDS) {
    if (input.has(field)) out[field] = input.strOrNull(field) ?? null;
  }
  return out;
}

/** Test-mode outcome of submitted evidence (https://docs.stripe.com/testing#disputes). */
function testOutcome(d: Dispute): 'won' | 'lost' | null {
  if (d.status !== 'under_review') return null;
  if (d.evidence.uncategorized_text === 'winning_evidence') return 'won';
  if (d.evidence.uncategorized_text === 'losing_evidence') return 'lost';
  return null;
}

function submit(d: Dispute): void {
  d.evidence_details.submission_count += 1;
  d.evidence_details.submission_method = 'manual';
  if (d.status === 'needs_response') d.status = 'under_review';
  if (d.status === 'warning_needs_response') d.status = 'warning_under_review';
}

function updateDispute({ emulator, input, pathParams }: ApiRequest): Dispute {
  const current = requireDispute(emulator, pathParams.id);
  const evidence = input.obj('evidence');
  const submitNow = input.bool('submit') ?? true;
  if ((evidence || input.bool('submit') === true) && !OPEN_STATUSES.includes(current.status)) {
    throw invalidRequest(
      `This dispute is ${current.status} and can no longer take evidence.`,
      evidence ? 'evidence' : 'submit',
    );
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.dispute, current.id, (d) => {
    d.metadata = input.metadata(d.metadata);
    const method = input.oneOf('intended_submission_method', [
      'manual',
      'prefer_manual',
      'prefer_smart_disputes',
      'smart_disputes',
    ] as const);
    if (method) d.intended_submission_method = method;
    if (evidence) {
      d.evidence = { ...d.evidence, ...readEvidence(evidence) };
      d.evidence_details.has_evidence = true;
    }
    if ((evidence && submitNow) || input.bool('submit') === true) submit(d);
  });
  if (Object.keys(previous).length > 0) emit(emulator, 'charge.dispute.updated', obj, previous);
  const outcome = testOutcome(obj);
  // The bank decides after the submission: the answer shows `under_review`, the outcome follows.
  if (outcome) {
    const customer = customerOfDispute(emulator, obj);
    asTheIssuer(emulator, customer, now(emulator, customer), () => {
      const current = emulator.store.get(COLLECTIONS.dispute, obj.id);
      if (current?.status === 'under_review') closeDispute(emulator, current, outcome);
    });
  }
  return obj;
}

/** Ends a dispute: `charge.dispute.closed`, and for a won chargeback the funds come back. */
function closeDispute(emulator: Emulator, d: Dispute, status: 'won' | 'lost' | 'warning_closed'): Dispute {
  const { obj, previous } = emulator.store.update(COLLECTIONS.dispute, d.id, (x) => {
    x.status = status;
  });
  emit(emulator, 'charge.dispute.closed', obj, previous);
  if (status === 'won') emit(emulator, 'charge.dispute.funds_reinstated', obj);
  return obj;
}

function acceptDispute({ emulator, pathParams }: ApiRequest): Dispute {
  const d = requireDispute(emulator, pathParams.id);
  if (CLOSED_STATUSES.includes(d.status)) {
    throw invalidRequest(`This dispute is already closed (${d.status}).`);
  }
  const inquiry = d.status.startsWith('warning_');
  return closeDispute(emulator, d, inquiry ? 'warning_closed' : 'lost');
}

function listDisputes(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const charge = input.str('charge');
  const paymentIntent = input.str('payment_intent');
  const created = input.range('created');
  const items = emulator.store
    .all(COLLECTIONS.dispute)
    .filter(
      (d) =>
        (!charge || idOf(d.charge) === charge) &&
        (!paymentIntent || idOf(d.payment_intent) === paymentIntent) &&
        (!created || created(d.created)),
    );
  return paginate(items, input, req.path);
}

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/v1/disputes',
    params: ['charge', 'created', 'payment_intent', 'limit', 'starting_after', 'ending_before'],
    handler: listDisputes,
  },
  {
    method: 'GET',
    path: '/v1/disputes/:id',
    params: [],
    handler: ({ emulator, pathParams }) => requireDispute(emulator, pathParams.id),
  },
  {
    method: 'POST',
    path: '/v1/disputes/:id',
    params: ['evidence', 'intended_submission_method', 'metadata', 'submit'],
    handler: updateDispute,
  },
  { method: 'POST', path: '/v1/disputes/:id/close', params: [], handler: acceptDispute },
];
