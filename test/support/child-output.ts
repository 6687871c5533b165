import type { ChildProcess } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  output: string;
}

/**
 * Everything `child` writes (stdout and stderr together) and its exit code; the child is killed and the test
 * failed, with what it printed, if it has not finished within `timeoutMs`.
 */
export function outputOf(child: ChildProcess, what: string, timeoutMs: number): Promise<ChildResult> {
  return new Promise((done, fail) => {
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${what} did not finish in ${timeoutMs / 1000} s:\n${output}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(deadline);
      done({ code, output });
    });
  });
}
