import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

/** A server the benchmark starts in its own process; `url` is what its ready line printed. */
export interface Child {
  url: string;
  process: ChildProcess;
}

/**
 * Starts `script` (under swc when it is TypeScript) and resolves once its output matches `ready` (whose group 1 is the URL).
 * `nodeArgs` go to node itself, e.g. `--cpu-prof` (which NODE_OPTIONS does not allow).
 */
export function startChild(
  script: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<Child> {
  return new Promise((done, fail) => {
    // TypeScript runs under swc; plain JavaScript (a compiled target) runs as it is.
    const compiler = script.endsWith('.ts') ? ['-r', '@swc-node/register'] : [];
    const child = spawn(process.execPath, [...nodeArgs, ...compiler, script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    const timer = setTimeout(
      () => fail(new Error(`${script} did not start within 60 s:\n${output}`)),
      60_000,
    );
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        done({ url: match[1], process: child });
      }
    });
    child.on('exit', (code) => fail(new Error(`${script} exited with ${code}:\n${output}`)));
  });
}

/** SIGTERM, then waits for the exit (nothing to do if it already exited). */
export async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null) return;
  const exited = new Promise((done) => child.process.once('exit', done));
  child.process.kill('SIGTERM');
  await exited;
}
