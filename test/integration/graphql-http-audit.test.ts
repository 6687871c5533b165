import { serverAudits } from 'graphql-http';
import { startTestService, type TestService } from '../support/service';

/**
 * The GraphQL over HTTP audits of graphql-http, run over real HTTP against our `/graphql`. Every MUST passes.
 * The SHOULDs we fail are listed here with the reason; one failing that is not listed fails the test, and so
 * does a listed one that passes again (take it off the list). MAYs are reported, not required.
 */
const SHOULDS_WE_FAIL: Readonly<Record<string, string>> = {
  // Apollo Server answers every request error (a document that does not parse or validate, variables that do
  // not coerce) with 400, whatever the Accept header. For application/json the spec prefers 200 only so that old
  // clients read the errors; ours (Apollo Client, graphql-ws, src/client) read the body of a 400 as well.
  '572B': 'Apollo Server answers a document that does not parse with 400',
  FDE2: 'Apollo Server answers a document that does not validate with 400',
  '7B9B': 'Apollo Server answers variables that do not coerce with 400',
};

/**
 * The MAYs we do not do: a GET without a non-simple Content-Type or `apollo-require-preflight` header is refused
 * by Apollo's CSRF prevention (a browser on another site can send such a GET with the user's cookies).
 */
const MAYS_WE_SKIP: Readonly<Record<string, string>> = {
  '5A70': 'CSRF prevention: a GET needs a preflight header',
  D6D5: 'CSRF prevention: a GET needs a preflight header',
  '6A70': 'CSRF prevention: a GET needs a preflight header',
};

describe('GraphQL over HTTP (graphql-http server audits)', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService();
  });

  afterAll(async () => {
    await service?.stop();
  });

  for (const audit of serverAudits({ url: () => `${service.url}/graphql` })) {
    const level = audit.name.split(' ')[0];
    // Why we fail it, when we expect to; MUSTs are never listed.
    const known =
      level === 'SHOULD' ? SHOULDS_WE_FAIL[audit.id] : level === 'MAY' ? MAYS_WE_SKIP[audit.id] : undefined;
    it(`${audit.id} ${audit.name}${known ? ` (we do not: ${known})` : ''}`, async () => {
      const result = await audit.fn();
      const outcome = result.status === 'ok' ? 'passes' : `fails: ${result.reason}`;
      if (known) expect(outcome).toMatch(/^fails: /);
      else expect(outcome).toBe('passes');
    });
  }
});
