import fc from 'fast-check';
import Stripe from 'stripe';
import {
  InvalidWebhookError,
  SIGNATURE_TOLERANCE_SECONDS,
  verifyWebhook,
} from '../../src/webhooks/pipeline/signature';

const SECRET = 'whsec_unit_current';
const OLD_SECRET = 'whsec_unit_previous';
const NOW_MS = 1_800_000_000_000;
const NOW_SECONDS = NOW_MS / 1000;

function eventBody(id = 'evt_sig_1'): string {
  return JSON.stringify({
    id,
    object: 'event',
    created: NOW_SECONDS - 10,
    type: 'customer.subscription.updated',
    data: { object: { id: 'sub_1', object: 'subscription', customer: 'cus_1', note: 'é ✓' } },
  });
}

function header(body: string, secret: string, timestamp = NOW_SECONDS): string {
  return Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
}

/** What the SDK decides for the same delivery: the event, or its error. */
function sdkAccepts(body: Buffer, signature: string, secrets: string[]): boolean {
  return secrets.some((secret) => {
    try {
      Stripe.webhooks.constructEvent(body, signature, secret, SIGNATURE_TOLERANCE_SECONDS, undefined, NOW_MS);
      return true;
    } catch {
      return false;
    }
  });
}

function ours(body: Buffer, signature: string, secrets: string[]): boolean {
  try {
    verifyWebhook(body, signature, secrets, NOW_MS);
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidWebhookError);
    return false;
  }
}

describe('verifyWebhook (the SDK’s check of each configured secret, the body’s text kept)', () => {
  it('answers the event and the exact text of the body it was signed over', () => {
    const body = eventBody();
    const verified = verifyWebhook(Buffer.from(body), header(body, SECRET), [SECRET], NOW_MS);
    expect(verified.text).toBe(body);
    expect(verified.event.id).toBe('evt_sig_1');
    expect(verified.event.data.object).toMatchObject({ note: 'é ✓' });
  });

  it('accepts the old secret during a rotation, and several v1 signatures of which one matches', () => {
    const body = eventBody();
    const signed = header(body, OLD_SECRET);
    expect(ours(Buffer.from(body), signed, [SECRET, OLD_SECRET])).toBe(true);
    const forged = `${'0'.repeat(64)}`;
    const two = `${signed.replace(/v1=/, `v1=${forged},v1=`)}`;
    expect(ours(Buffer.from(body), two, [OLD_SECRET])).toBe(true);
  });

  it('refuses a missing header, a forged, stale or unknown signature, a changed body and a non-event', () => {
    const body = eventBody();
    const raw = Buffer.from(body);
    expect(ours(raw, '', [SECRET])).toBe(false);
    expect(ours(raw, header(body, 'whsec_someone_else'), [SECRET])).toBe(false);
    expect(ours(raw, header(body, SECRET, NOW_SECONDS - SIGNATURE_TOLERANCE_SECONDS - 1), [SECRET])).toBe(
      false,
    );
    expect(ours(Buffer.from(body.replace('cus_1', 'cus_2')), header(body, SECRET), [SECRET])).toBe(false);
    expect(ours(raw, header(body, SECRET).replace(/v1=/, 'v0='), [SECRET])).toBe(false);
    expect(ours(raw, header(body, SECRET), [])).toBe(false);
    const notEvent = JSON.stringify({ id: 'evt_x', object: 'charge' });
    expect(ours(Buffer.from(notEvent), header(notEvent, SECRET), [SECRET])).toBe(false);
    const notJson = '{"id": "evt_x", ';
    expect(ours(Buffer.from(notJson), header(notJson, SECRET), [SECRET])).toBe(false);
  });

  it('decides as Stripe.webhooks.constructEvent does for any signer, timestamp, body change and header', () => {
    fc.assert(
      fc.property(
        fc.record({
          signer: fc.constantFrom(SECRET, OLD_SECRET, 'whsec_other'),
          secrets: fc.subarray([SECRET, OLD_SECRET, ' '], { minLength: 0 }),
          age: fc.integer({ min: -600, max: 900 }),
          tamper: fc.boolean(),
          mangle: fc.constantFrom('none', 'extra-v1', 'v0-only', 'no-t', 't-suffix', 'uppercase', 'reorder'),
          id: fc.stringMatching(/^evt_[A-Za-z0-9]{1,12}$/),
        }),
        ({ signer, secrets, age, tamper, mangle, id }) => {
          const body = eventBody(id);
          let signature = header(body, signer, NOW_SECONDS - age);
          const [t, v1] = signature.split(',');
          if (mangle === 'extra-v1') signature = `${t},v1=${'a'.repeat(64)},${v1},v0=abc`;
          if (mangle === 'v0-only') signature = `${t},${v1.replace('v1=', 'v0=')}`;
          if (mangle === 'no-t') signature = v1;
          if (mangle === 't-suffix') signature = `${t}abc,${v1}`;
          if (mangle === 'uppercase')
            signature = `${t},${v1.replace(/=(.*)$/, (_m, hex: string) => `=${hex.toUpperCase()}`)}`;
          if (mangle === 'reorder') signature = `${v1},${t}`;
          const raw = Buffer.from(tamper ? body.replace('"sub_1"', '"sub_2"') : body);
          expect(ours(raw, signature, secrets)).toBe(sdkAccepts(raw, signature, secrets));
        },
      ),
      { numRuns: 400 },
    );
  });
});
