import { GroupCommitter, type Settled } from '../../src/database/group-committer';

/**
 * The group commit's queueing, with a flush that stands in for the transaction (the unit boundary): the
 * integration tests run it against PostgreSQL (test/integration/usage-group-commit.test.ts).
 */

/** A flush the test finishes by hand, recording the groups it was given. */
function manualFlush() {
  const groups: number[][] = [];
  const pending: Array<() => void> = [];
  const flush = (requests: number[]): Promise<Array<Settled<string>>> => {
    groups.push(requests);
    return new Promise((resolve) => {
      pending.push(() =>
        resolve(
          requests.map((request) =>
            request < 0
              ? { ok: false, error: new Error(`refused ${request}`) }
              : { ok: true, value: `done ${request}` },
          ),
        ),
      );
    });
  };
  return { groups, flush, finishNext: () => pending.shift()?.() };
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('GroupCommitter', () => {
  it('writes the first request at once, alone, and groups those that arrive while it is written', async () => {
    const { groups, flush, finishNext } = manualFlush();
    const sizes: number[] = [];
    const committer = new GroupCommitter(flush, 100, (size) => sizes.push(size));
    const first = committer.submit(1);
    // No timer: the idle committer's flush has started before anyone else arrives.
    expect(groups).toEqual([[1]]);
    const rest = [2, 3, 4].map((request) => committer.submit(request));
    expect(groups).toEqual([[1]]);
    finishNext();
    expect(await first).toBe('done 1');
    await settle();
    expect(groups).toEqual([[1], [2, 3, 4]]);
    finishNext();
    expect(await Promise.all(rest)).toEqual(['done 2', 'done 3', 'done 4']);
    expect(committer.stats()).toEqual({ groups: 2, requests: 4 });
    expect(sizes).toEqual([1, 3]);
  });

  it('bounds a group, and the rest goes out in the next', async () => {
    const { groups, flush, finishNext } = manualFlush();
    const committer = new GroupCommitter(flush, 2);
    const answers = [1, 2, 3, 4, 5].map((request) => committer.submit(request));
    for (let group = 0; group < 3; group++) {
      await settle();
      finishNext();
    }
    expect(await Promise.all(answers)).toHaveLength(5);
    expect(groups).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('answers each request with its own outcome: one refusal fails no other', async () => {
    const { flush, finishNext } = manualFlush();
    const committer = new GroupCommitter(flush, 10);
    const first = committer.submit(0);
    const group = [7, -1, 8].map((request) =>
      committer.submit(request).catch((error: Error) => error.message),
    );
    finishNext();
    await first;
    await settle();
    finishNext();
    expect(await Promise.all(group)).toEqual(['done 7', 'refused -1', 'done 8']);
  });

  it('fails every request of a group whose transaction failed, and goes on with the next group', async () => {
    let calls = 0;
    const committer = new GroupCommitter<number, number>(async (requests) => {
      calls += 1;
      if (calls === 1) throw new Error('connection lost');
      return requests.map((value) => ({ ok: true, value }));
    }, 10);
    const failed = committer.submit(1).catch((error: Error) => error.message);
    expect(await failed).toBe('connection lost');
    expect(await committer.submit(2)).toBe(2);
  });

  it('refuses a group size below one, and a flush that leaves a request unanswered fails that request', async () => {
    expect(() => new GroupCommitter(async () => [], 0)).toThrow('maxGroup must be at least 1');
    const committer = new GroupCommitter<number, number>(async () => [], 5);
    await expect(committer.submit(1)).rejects.toThrow('gave no answer');
  });
});
