/**
 * The collector's tuning the service sets at start-up (src/app/heap-tuning.ts). V8 is the boundary: what is
 * checked is the flag handed to it, the way Node lets a process set it after start (NODE_OPTIONS refuses it).
 */
import { execFileSync } from 'node:child_process';

describe('the service’s heap tuning', () => {
  it('hands V8 the growing factor the image is measured with', () => {
    const setFlags = jest.fn();
    jest.isolateModules(() => {
      jest.doMock('node:v8', () => ({ setFlagsFromString: setFlags }));
      const { tuneHeap, HEAP_GROWING_PERCENT } =
        require('../../src/app/heap-tuning') as typeof import('../../src/app/heap-tuning');
      tuneHeap();
      expect(HEAP_GROWING_PERCENT).toBe(50);
    });
    expect(setFlags).toHaveBeenCalledTimes(1);
    expect(setFlags).toHaveBeenCalledWith('--heap-growing-percent=50');
  });

  it('is a flag Node refuses in NODE_OPTIONS, so it cannot live in the image’s environment', () => {
    const refused = () =>
      execFileSync(process.execPath, ['-e', '0'], {
        env: { ...process.env, NODE_OPTIONS: '--heap-growing-percent=50' },
        stdio: 'pipe',
      });
    expect(refused).toThrow(/not allowed in NODE_OPTIONS/);
  });
});
