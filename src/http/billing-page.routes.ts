import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { signToken } from '../auth/token-signer';
import type { Config } from '../config';
import {
  compileBillingPage,
  type PageFile,
  projectRoot,
  readBuiltBillingPage,
  sourceVersion,
} from './billing-page-files';

/** The addresses that show the page: the page itself, the two Checkout returns to it, and a credit pack's return. */
const VIEWS = ['', 'success', 'cancel', 'credits-success'];
const ACCOUNT_ID = /^[\w.-]{1,64}$/;
/** Development tokens live a working day. */
const DEV_TOKEN_SECONDS = 8 * 3600;

/**
 * `/billing/`: the reference billing page (`web/`), for development and as an example to copy. Outside
 * production it is compiled from `web/` whenever a file there changed, so an edit shows on reload; in
 * production (only with `BILLING_PAGE=on`) the prebuilt `dist/web` of `npm run web:build` is served.
 *
 * Outside production `POST /billing/dev-sign-in` mints a token for any account id with the service's own
 * HS256 secret, so the page can be tried without the CODITECT app. Production never registers it.
 */
export function registerBillingPageRoutes(
  app: FastifyInstance,
  config: Config,
  /** Where the prebuilt page is (production): dist/web unless told. */
  builtFolder?: string,
): void {
  const root = projectRoot();
  const built = builtFolder ?? join(root, 'dist', 'web');
  const byPath = (list: PageFile[]) => new Map(list.map((entry) => [entry.path, entry]));
  // Production reads the built page once, at start: a missing build stops the service, not a visitor.
  if (config.isProduction && !existsSync(join(built, 'index.html')))
    throw new Error(`BILLING_PAGE=on needs the page built: run \`npm run web:build\` (${built} is missing)`);
  const prebuilt = config.isProduction ? byPath(readBuiltBillingPage(built)) : null;
  // Development: compiled again only when a file under web/ changed, so an edit shows on the next reload.
  let compiled: { version: string; files: Map<string, PageFile> } | null = null;
  const files = () => {
    if (prebuilt) return prebuilt;
    const version = sourceVersion(root);
    if (compiled?.version !== version) compiled = { version, files: byPath(compileBillingPage(root)) };
    return compiled.files;
  };
  const send = (reply: FastifyReply, path: string) => {
    const found = files().get(path);
    if (!found) return reply.code(404).send({ error: 'not found' });
    return reply
      .header('content-type', found.contentType)
      .header('cache-control', config.isProduction ? 'public, max-age=300' : 'no-store')
      .header('x-content-type-options', 'nosniff')
      .send(found.body);
  };

  app.get('/billing', (_request, reply) => reply.redirect('/billing/'));
  for (const view of VIEWS) app.get(`/billing/${view}`, (_request, reply) => send(reply, 'index.html'));
  app.get<{ Params: { '*': string } }>('/billing/*', (request, reply) => send(reply, request.params['*']));

  const secret = config.auth.jwtSecret;
  if (!config.billingPage.devSignIn || !secret) return;
  app.get('/billing/dev-sign-in', async () => ({ available: true }));
  app.post<{ Body: { accountId?: unknown; email?: unknown } }>(
    '/billing/dev-sign-in',
    async (request, reply) => {
      const { accountId, email } = request.body ?? {};
      if (typeof accountId !== 'string' || !ACCOUNT_ID.test(accountId))
        return reply.code(400).send({ error: 'accountId: letters, digits, _ . - (at most 64)' });
      const token = await signToken(secret, {
        accountId,
        email: typeof email === 'string' && email.includes('@') ? email : undefined,
        expiresInSeconds: DEV_TOKEN_SECONDS,
        issuer: config.auth.issuer ?? undefined,
        audience: config.auth.audience ?? undefined,
      });
      return { token };
    },
  );
}
