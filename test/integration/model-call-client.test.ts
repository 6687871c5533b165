import {
  BillingClient,
  BillingClientError,
  meteredModelCall,
  meteredStream,
  ModelCallTimeoutError,
} from '../../src/client';
import { startTestService, type TestService } from '../support/service';

/**
 * The token form of coditect-billing/client against the running service (docs/usage-middleware.md "Model
 * calls"): the estimate is reserved before the model is called, the actual tokens committed after (a stream on
 * its end), the hold released when the call fails or times out, and a call the credits cannot pay is refused
 * before the model runs.
 */

let service: TestService;
let client: BillingClient;
const BALANCE = '{ viewer { balance { credits held } } }';

beforeAll(async () => {
  service = await startTestService();
  client = new BillingClient({
    url: `${service.url}/graphql`,
    token: () => service.token('svc_ai_gateway', { roles: ['service'] }),
  });
});
afterAll(async () => {
  await service.stop();
});

async function balanceOf(accountId: string) {
  const answer = await service.graphql<{ viewer: { balance: { credits: number; held: number } } }>(BALANCE, {
    token: await service.token(accountId),
  });
  return answer.data?.viewer.balance;
}

const estimate = (accountId: string) => ({
  accountId,
  model: 'claude-sonnet-4',
  inputTokens: 1200,
  maxOutputTokens: 300,
});

it('reserves before the call and commits the tokens the answer reports', async () => {
  const account = 'acct_model_call_ok';
  const result = await meteredModelCall(client, estimate(account), async (reservation) => {
    expect(reservation.credits).toBe(9);
    expect(await balanceOf(account)).toEqual({ credits: 1000, held: 9 });
    return { value: 'answer', usage: { inputTokens: 1000, outputTokens: 100 } };
  });
  expect(result.value).toBe('answer');
  expect(result.credits).toEqual({ duplicate: false, credits: 5, burned: 5, uncovered: 0 });
  expect(await balanceOf(account)).toEqual({ credits: 995, held: 0 });
});

it('releases the hold when the call throws or times out', async () => {
  const account = 'acct_model_call_failed';
  await expect(
    meteredModelCall(client, estimate(account), async () => {
      throw new Error('model down');
    }),
  ).rejects.toThrow('model down');
  let aborted = false;
  await expect(
    meteredModelCall(
      client,
      estimate(account),
      (_reservation, signal) =>
        new Promise<{ value: string; usage: { inputTokens: number; outputTokens: number } }>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
          });
          setTimeout(() => resolve({ value: 'late', usage: { inputTokens: 1, outputTokens: 1 } }), 2000);
        }),
      { timeoutMs: 100 },
    ),
  ).rejects.toBeInstanceOf(ModelCallTimeoutError);
  expect(aborted).toBe(true);
  expect(await balanceOf(account)).toEqual({ credits: 1000, held: 0 });
});

it('refuses a call the credits cannot pay before the model runs', async () => {
  let called = false;
  const refused = meteredModelCall(
    client,
    { ...estimate('acct_model_call_poor'), maxOutputTokens: 1_000_000 },
    async () => {
      called = true;
      return { value: null, usage: { inputTokens: 0, outputTokens: 0 } };
    },
  );
  await expect(refused).rejects.toBeInstanceOf(BillingClientError);
  await expect(refused).rejects.toMatchObject({ code: 'USAGE_LIMIT_EXCEEDED' });
  expect(called).toBe(false);
});

it('commits a stream on its end with the usage its chunks reported, and a stream broken off with what it did', async () => {
  const account = 'acct_model_call_stream';
  async function* chunks() {
    yield { text: 'Hel', usage: { inputTokens: 1000 } };
    yield { text: 'lo', usage: undefined };
    yield { text: '', usage: { outputTokens: 100 } };
  }
  const texts: string[] = [];
  const stream = meteredStream(
    client,
    estimate(account),
    () => chunks(),
    (chunk) => chunk.usage,
  );
  let step = await stream.next();
  while (!step.done) {
    texts.push(step.value.text);
    step = await stream.next();
  }
  expect(texts.join('')).toBe('Hello');
  expect(step.value).toEqual({ duplicate: false, credits: 5, burned: 5, uncovered: 0 });
  expect(await balanceOf(account)).toEqual({ credits: 995, held: 0 });

  // Broken off after the first chunk: the input was reported, the output not yet: the estimate's 300 are paid.
  for await (const chunk of meteredStream(
    client,
    estimate(account),
    () => chunks(),
    (c) => c.usage,
  )) {
    expect(chunk.text).toBe('Hel');
    break;
  }
  // 1,000 × 3,000 + 300 × 15,000 = 7.5 → 8 credits.
  expect(await balanceOf(account)).toEqual({ credits: 987, held: 0 });
});
