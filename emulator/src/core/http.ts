import type { IncomingHttpHeaders } from 'node:http';
import type { Emulator } from './emulator';
import type { Params, ParamReader } from './params';

export type Method = 'GET' | 'POST' | 'DELETE';

/** What a handler receives. */
export interface ApiRequest {
  emulator: Emulator;
  method: Method;
  /** Path without query string, e.g. `/v1/customers/cus_123`; also the `url` of lists. */
  path: string;
  /** `:name` segments of the route pattern. */
  pathParams: Record<string, string>;
  /** Decoded body (POST) or query string (GET/DELETE), `expand` included. */
  params: Params;
  /** Validating reader over `params`. */
  input: ParamReader;
  /** `expand[]` values of the request (the router applies them to the returned object). */
  expand: string[];
  headers: IncomingHttpHeaders;
  requestId: string;
  idempotencyKey: string | null;
  /** The secret key used, or null on routes without auth. */
  apiKey: string | null;
  rawBody: string;
}

/**
 * Return a plain object to answer 200 JSON (rendered: includables dropped, `expand[]` applied);
 * return an HttpResponse for anything else (HTML pages, redirects, other statuses);
 * throw a StripeApiError for Stripe errors.
 */
export type Handler = (req: ApiRequest) => unknown | Promise<unknown>;

export interface Route {
  method: Method;
  /** Pattern with `:param` segments: `/v1/customers/:id`. Literal segments win over params. */
  path: string;
  handler: Handler;
  /** Require a secret key. Default: true for `/v1/…` and `/v2/…`, false elsewhere. */
  auth?: boolean;
  /**
   * Top-level parameters the endpoint accepts (`expand` is always allowed). When given, any
   * other parameter is Stripe's 400 `parameter_unknown` ("Received unknown parameter: x").
   */
  params?: readonly string[];
}

export class HttpResponse {
  constructor(
    readonly status: number,
    readonly body: string | Buffer,
    readonly headers: Record<string, string> = {},
  ) {}

  static json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
    return new HttpResponse(status, JSON.stringify(value, null, 2), {
      'Content-Type': 'application/json',
      ...headers,
    });
  }

  static html(html: string, status = 200): HttpResponse {
    return new HttpResponse(status, html, { 'Content-Type': 'text/html; charset=utf-8' });
  }

  static redirect(location: string, status = 303): HttpResponse {
    return new HttpResponse(status, '', { Location: location });
  }
}

/** A resource file exports one of these; `emulator/src/registry.ts` lists them. */
export interface ResourceModule {
  routes?: Route[];
  /** Called once per emulator instance: register includables, time sources, advance runners. */
  setup?: (emulator: Emulator) => void;
}
