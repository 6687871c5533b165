import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * What every log line written while serving one HTTP request carries (the logger's mixin reads it): Fastify's
 * request id, and once known the caller's account id and the Stripe request id of a failed Stripe call. Kept in
 * an AsyncLocalStorage, so services log through the one process logger and still say which request it was.
 */
export interface RequestScope {
  reqId: string;
  accountId?: string;
  stripeRequestId?: string;
}

const storage = new AsyncLocalStorage<RequestScope>();
const scopes = new WeakMap<IncomingMessage, RequestScope>();

/** The scope of the request being served, if any. */
export function currentRequestScope(): RequestScope | undefined {
  return storage.getStore();
}

/** Runs `work` inside `scope`: what it logs, directly or after any await, carries the scope's ids. */
export function runInRequestScope<T>(scope: RequestScope, work: () => T): T {
  return storage.run(scope, work);
}

/** The caller's account, for the rest of the request's log lines. */
export function noteAccount(accountId: string): void {
  const scope = storage.getStore();
  if (scope) scope.accountId = accountId;
}

/** Stripe's id of a request (a failed call): support finds it in Stripe's logs. */
export function noteStripeRequest(requestId: string): void {
  const scope = storage.getStore();
  if (scope) scope.stripeRequestId = requestId;
}

/**
 * Opens a scope for each request at `onRequest`, and enters it again at `preValidation`: reading the body runs in
 * the socket's async context, which would otherwise lose it before the handler.
 */
export function registerRequestScope(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const scope: RequestScope = { reqId: request.id };
    scopes.set(request.raw, scope);
    runInRequestScope(scope, done);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const scope = scopes.get(request.raw);
    if (scope) runInRequestScope(scope, done);
    else done();
  });
}
