import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../logging/logger';
import { InvalidWebhookError, type VerifiedDelivery, verifyWebhook } from './signature';
import type { DeliveryOutcome, WebhookQueue } from './webhook-queue';

/** Stripe events are small; anything much larger is not one of them. */
export const WEBHOOK_BODY_LIMIT_BYTES = 512 * 1024;

/** The 200's two bodies, serialised once (the endpoint's hot path: issue 14). */
const ANSWERS: Record<DeliveryOutcome, string> = {
  queued: JSON.stringify({ received: true, outcome: 'queued' }),
  duplicate: JSON.stringify({ received: true, outcome: 'duplicate' }),
};

/**
 * `POST /webhooks/stripe`: the raw body is verified against the signing secret(s) before anything is stored;
 * a bad delivery gets 400 and touches nothing. A good one is answered as soon as it is durable (ADR 0020): 200
 * once the inbox holds it (`queued`, or `duplicate` when it already did: nothing changes), 500 if it could not be
 * stored, so Stripe delivers it again. The queue's workers process it behind the answer.
 */
export function registerWebhookRoutes(
  app: FastifyInstance,
  secrets: () => readonly string[],
  queue: () => WebhookQueue,
  logger: Logger,
): void {
  void app.register(async (scope) => {
    // Raw bytes: the signature is over the exact body Stripe sent, not a re-serialised one.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, body),
    );
    scope.post('/webhooks/stripe', { bodyLimit: WEBHOOK_BODY_LIMIT_BYTES }, async (request, reply) => {
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const header = request.headers['stripe-signature'];
      let verified: VerifiedDelivery;
      try {
        verified = verifyWebhook(raw, typeof header === 'string' ? header : undefined, secrets());
      } catch (error) {
        const reason = error instanceof InvalidWebhookError ? error.message : 'invalid webhook';
        logger.warn({ reason }, 'rejected a webhook delivery');
        return reply.code(400).send({ error: reason });
      }
      try {
        const outcome = await queue().accept(verified.event, verified.text);
        return reply.code(200).type('application/json; charset=utf-8').send(ANSWERS[outcome]);
      } catch (error) {
        logger.error(
          { err: error, eventId: verified.event.id },
          'could not store a webhook event; Stripe will retry',
        );
        return reply.code(500).send({ received: false, error: 'could not store the event; retry later' });
      }
    });
  });
}
