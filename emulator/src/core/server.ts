import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  apiError,
  idempotencyConflict,
  idempotencyMismatch,
  rateLimited,
  StripeApiError,
  unauthorized,
  unknownParam,
  unrecognizedUrl,
} from './errors';
import type { Emulator } from './emulator';
import { requestContext } from './events';
import { type ApiRequest, HttpResponse, type Method, type Route } from './http';
import { fingerprint } from './idempotency';
import { newId } from './ids';
import { decodeForm, fromJson, ParamReader, type Params } from './params';
import type { Router } from './router';

const MAX_BODY = 10 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function isApiPath(path: string): boolean {
  return path.startsWith('/v1/') || path.startsWith('/v2/');
}

/**
 * The secret key from `Authorization: Bearer <key>` or basic auth (key as user name),
 * or an error as Stripe words it.
 */
function authenticate(header: string | undefined, allowPublishable: boolean): string {
  if (!header) {
    throw unauthorized(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    );
  }
  let key = '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  const basic = /^Basic\s+(.+)$/i.exec(header);
  if (bearer) key = bearer[1].trim();
  else if (basic) key = Buffer.from(basic[1], 'base64').toString('utf8').split(':')[0];
  const prefixes = allowPublishable ? /^(sk|rk|pk)_test_/ : /^(sk|rk)_test_/;
  if (!prefixes.test(key) || key.length < 12) {
    const shown = key.length > 4 ? `${key.slice(0, 8)}****${key.slice(-4)}` : key;
    throw unauthorized(`Invalid API Key provided: ${shown}`);
  }
  return key;
}

function errorResponse(e: StripeApiError): HttpResponse {
  return HttpResponse.json(e.status, { error: e.body }, e.headers);
}

/** Parses the body by content type: JSON for v2 (and `/_emulator` callers who like it), else form. */
function parseParams(method: Method, query: string, body: string, contentType: string): Params {
  if (method !== 'POST') return decodeForm(query);
  if (contentType.includes('application/json')) {
    if (!body.trim()) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new StripeApiError(400, { type: 'invalid_request_error', message: 'Invalid JSON body.' });
    }
    const p = fromJson(parsed);
    return typeof p === 'object' && !Array.isArray(p) ? p : {};
  }
  return decodeForm(body);
}

export interface ServerHandle {
  server: http.Server;
  /** Sockets held open by `timeout` faults; destroyed on close. */
  held: Set<Socket>;
}

export function createServer(emulator: Emulator, router: Router): ServerHandle {
  const held = new Set<Socket>();
  const server = http.createServer((req, res) => {
    void handle(emulator, router, held, req, res).catch((e: unknown) => {
      emulator.log(`emulator: unhandled ${e instanceof Error ? e.stack : String(e)}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: apiError().body }));
      }
    });
  });
  return { server, held };
}

/** What every step of a request needs to know about it. */
interface RequestFacts {
  requestId: string;
  url: URL;
  path: string;
  method: Method;
  idempotencyKey: string | null;
  send(response: HttpResponse, extra?: Record<string, string>): void;
}

async function handle(
  emulator: Emulator,
  router: Router,
  held: Set<Socket>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const facts = describeRequest(emulator, req, res);
  const { path, method, send } = facts;
  const api = isApiPath(path);
  const match = router.match(method, path);
  const route: Route | undefined = match.kind === 'found' ? match.route : undefined;
  let apiKey: string | null = null;
  try {
    if (route ? (route.auth ?? api) : api) {
      apiKey = authenticate(req.headers.authorization, path.startsWith('/v1/payment_pages'));
    }
  } catch (e) {
    if (e instanceof StripeApiError) return send(errorResponse(e));
    throw e;
  }
  if (api && injectFault(emulator, held, req, facts)) return;
  if (!route) {
    req.resume();
    return send(errorResponse(unrecognizedUrl(method, path)));
  }

  let params: Params;
  let rawBody = '';
  try {
    rawBody = await readBody(req);
    params = parseParams(
      method,
      facts.url.search.slice(1),
      rawBody,
      String(req.headers['content-type'] ?? ''),
    );
  } catch (e) {
    if (e instanceof StripeApiError) return send(errorResponse(e));
    throw e;
  }

  // Idempotency: POST API requests with a key (the SDK sends one on every POST).
  const idempotentKeys =
    api && method === 'POST' && facts.idempotencyKey !== null && apiKey !== null
      ? { apiKey, idempotencyKey: facts.idempotencyKey }
      : null;
  if (idempotentKeys && answeredBefore(emulator, facts, idempotentKeys, params)) return;

  const apiRequest: ApiRequest = {
    emulator,
    method,
    path,
    pathParams: match.kind === 'found' ? match.pathParams : {},
    params,
    input: new ParamReader(params),
    expand: [],
    headers: req.headers,
    requestId: facts.requestId,
    idempotencyKey: facts.idempotencyKey,
    apiKey,
    rawBody,
  };
  const response = await runRoute(emulator, route, apiRequest);
  if (idempotentKeys) {
    // Stripe saves a result once the endpoint ran; validation failures and 5xx are not saved.
    const save = response.status < 400 || response.status === 402 || response.status === 404;
    emulator.idempotency.finish(
      idempotentKeys.apiKey,
      idempotentKeys.idempotencyKey,
      save
        ? {
            status: response.status,
            body: response.body.toString(),
            headers: response.headers,
            requestId: facts.requestId,
          }
        : null,
    );
  }
  send(response);
}

/** The request's id, path, method and idempotency key, and how to answer it with Stripe's headers. */
function describeRequest(emulator: Emulator, req: IncomingMessage, res: ServerResponse): RequestFacts {
  const requestId = newId('req', 14);
  const url = new URL(req.url ?? '/', 'http://emulator');
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  const method = (req.method ?? 'GET').toUpperCase() as Method;
  const stripeVersion =
    typeof req.headers['stripe-version'] === 'string' ? req.headers['stripe-version'] : emulator.apiVersion;
  const idempotencyHeader = req.headers['idempotency-key'];
  const idempotencyKey =
    typeof idempotencyHeader === 'string' && idempotencyHeader ? idempotencyHeader : null;
  const baseHeaders: Record<string, string> = {
    'Request-Id': requestId,
    'Stripe-Version': stripeVersion,
    'Access-Control-Allow-Origin': '*',
  };
  if (idempotencyKey && method === 'POST') baseHeaders['Idempotency-Key'] = idempotencyKey;
  const started = Date.now();
  const send = (response: HttpResponse, extra: Record<string, string> = {}): void => {
    res.writeHead(response.status, { ...baseHeaders, ...response.headers, ...extra });
    res.end(response.body);
    emulator.log(`${method} ${path} ${response.status} ${Date.now() - started}ms ${requestId}`);
  };
  return { requestId, url, path, method, idempotencyKey, send };
}

/** An injected fault (`/_emulator/faults`) answers instead of the route; true when one did. */
function injectFault(
  emulator: Emulator,
  held: Set<Socket>,
  req: IncomingMessage,
  facts: RequestFacts,
): boolean {
  const fault = emulator.faults.take(facts.path, facts.method);
  if (fault?.status === 'timeout') {
    // Hold the socket without answering, then drop it, as a hung upstream would.
    const socket = req.socket;
    held.add(socket);
    req.resume();
    setTimeout(() => {
      held.delete(socket);
      socket.destroy();
    }, fault.timeout_ms).unref();
    return true;
  }
  if (!fault) return false;
  req.resume();
  facts.send(errorResponse(fault.status === 429 ? rateLimited() : apiError()));
  return true;
}

/**
 * A key already used: the stored answer again (same parameters), or Stripe's error for other parameters, a key
 * still in flight or one too long. True when the request was answered here.
 */
function answeredBefore(
  emulator: Emulator,
  facts: RequestFacts,
  { apiKey, idempotencyKey }: { apiKey: string; idempotencyKey: string },
  params: Params,
): boolean {
  if (idempotencyKey.length > 255) {
    facts.send(
      errorResponse(
        new StripeApiError(400, {
          type: 'invalid_request_error',
          message: 'Idempotency key is too long (maximum 255 characters).',
        }),
      ),
    );
    return true;
  }
  const check = emulator.idempotency.begin(
    apiKey,
    idempotencyKey,
    fingerprint(facts.method, facts.path, params),
  );
  if (check.kind === 'mismatch') facts.send(errorResponse(idempotencyMismatch(idempotencyKey)));
  else if (check.kind === 'in_flight') facts.send(errorResponse(idempotencyConflict()));
  else if (check.kind === 'replay') {
    const stored = check.response;
    facts.send(new HttpResponse(stored.status, stored.body, stored.headers), {
      'Idempotent-Replayed': 'true',
      'Original-Request': stored.requestId,
    });
  } else return false;
  return true;
}

/** Runs the route's handler in the request's context; a thrown Stripe error is its answer, anything else a 500. */
async function runRoute(emulator: Emulator, route: Route, apiRequest: ApiRequest): Promise<HttpResponse> {
  const { method, path, params, input } = apiRequest;
  try {
    if (route.params) {
      const unknown = Object.keys(params).find((k) => k !== 'expand' && !route.params?.includes(k));
      if (unknown !== undefined) throw unknownParam(unknown);
    }
    const expand = input.strArray('expand') ?? [];
    apiRequest.expand = expand;
    const result = await requestContext.run(
      { id: apiRequest.requestId, idempotency_key: apiRequest.idempotencyKey },
      () => route.handler(apiRequest),
    );
    return result instanceof HttpResponse
      ? result
      : HttpResponse.json(200, emulator.renderer.render(result, expand));
  } catch (e) {
    if (e instanceof StripeApiError) return errorResponse(e);
    emulator.log(`emulator: handler error on ${method} ${path}: ${e instanceof Error ? e.stack : String(e)}`);
    return errorResponse(apiError(`Emulator error: ${e instanceof Error ? e.message : String(e)}`));
  }
}
