import { PassSchedule } from '../../src/services/time/pass-schedule';

/** The timer behind the overage reporter's passes, without a database. */
describe('PassSchedule', () => {
  it('runs a pass after each delay, one after another, and stops', async () => {
    let passes = 0;
    let inPass = 0;
    let overlapped = false;
    let resolveThird: () => void = () => undefined;
    const third = new Promise<void>((resolve) => {
      resolveThird = resolve;
    });
    const schedule = new PassSchedule(
      async () => 5,
      async () => {
        inPass += 1;
        if (inPass > 1) overlapped = true;
        await new Promise((resolve) => setTimeout(resolve, 5));
        passes += 1;
        inPass -= 1;
        if (passes === 3) resolveThird();
      },
    );
    schedule.start();
    schedule.start();
    await third;
    await schedule.stop();
    const afterStop = passes;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(overlapped).toBe(false);
    expect(schedule.stopped).toBe(true);
    expect(passes).toBe(afterStop);
  });

  it('waits in stop() for the pass in progress to finish', async () => {
    let finished = false;
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const schedule = new PassSchedule(
      async () => 1,
      async () => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 20));
        finished = true;
      },
    );
    schedule.start();
    await running;
    expect(schedule.stopped).toBe(false);
    await schedule.stop();
    expect(finished).toBe(true);
  });

  it('never starts after stop()', async () => {
    let passes = 0;
    const schedule = new PassSchedule(
      async () => 1,
      async () => {
        passes += 1;
      },
    );
    await schedule.stop();
    schedule.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(passes).toBe(0);
  });
});
