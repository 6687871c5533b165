import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

/** A server the benchmark starts in its own process; `url` is what its ready line printed. */
export interface Child {
  url: string;
  process: ChildProcess;
}

/**
 * Starts `script` (under swc when it is TypeScript) and resolves once its output matches `ready` (whose group 1 is the URL).
 * `nodeArgs` go to node itself, e.g. `--cpu-prof` (which NODE_OPTIONS does not allow). With `logFile`, the
 * child's stdout goes to that file, as a container runtime takes a service's log lines off its hands; the ready
 * line then comes on stderr (the bench targets print it there when `READY_ON_STDERR` is set).
 */
export function startChild(
  script: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  nodeArgs: string[] = [],
  logFile?: string,
): Promise<Child> {
  return new Promise((done, fail) => {
    // TypeScript runs under swc; plain JavaScript (a compiled target) runs as it is.
    const compiler = script.endsWith('.ts') ? ['-r', '@swc-node/register'] : [];
    const logFd = logFile ? openSync(logFile, 'w') : null;
    const child = spawn(process.execPath, [...nodeArgs, ...compiler, script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...(logFd === null ? {} : { READY_ON_STDERR: '1' }) },
      stdio: logFd === null ? ['ignore', 'pipe', 'inherit'] : ['ignore', logFd, 'pipe'],
    });
    if (logFd !== null) closeSync(logFd); // the child holds its own copy
    const readyStream = logFd === null ? child.stdout : child.stderr;
    let output = '';
    const timer = setTimeout(
      () => fail(new Error(`${script} did not start within 60 s:\n${output}`)),
      60_000,
    );
    let started = false;
    readyStream?.on('data', (chunk) => {
      if (started) {
        if (logFd !== null) process.stderr.write(chunk); // the child's own errors, passed on
        return;
      }
      output += chunk;
      const match = ready.exec(output);
      if (match) {
        started = true;
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
