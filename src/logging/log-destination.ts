import pino, { type DestinationStream } from 'pino';

/** How long a log line may wait in the buffer when traffic is too light to fill it. */
export const LOG_FLUSH_INTERVAL_MS = 1000;
/** Lines are written once this many bytes wait (about 15 access lines). */
const LOG_BUFFER_BYTES = 4096;

export interface LogDestination {
  stream: DestinationStream;
  /** Writes what waits in the buffer (at shutdown). */
  close(): void;
}

/**
 * Standard output, written in batches. pino's default writes every line with its own `write(2)`: at the
 * default `info` level that was the largest single cost of a request (14 % of the no-op's CPU profile,
 * bench/README.md). Here lines wait in a 4 KiB buffer and leave together in one synchronous write. Not
 * sonic-boom's asynchronous mode: under load it hands a small write to libuv's thread pool as soon as the last
 * one completes, which cost the request path more than the batched synchronous write does. What is buffered is
 * written within LOG_FLUSH_INTERVAL_MS, at shutdown and when the process exits; a process killed outright
 * (SIGKILL, out of memory) can lose up to one buffer of lines, the usual trade of a buffered log.
 */
export function bufferedStdout(fileDescriptor = 1): LogDestination {
  const stream = pino.destination({
    dest: fileDescriptor,
    sync: true,
    minLength: LOG_BUFFER_BYTES,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
  });
  const flush = () => {
    try {
      stream.flushSync();
    } catch {
      // Nothing to flush to (stdout closed): the process goes on stopping.
    }
  };
  process.once('exit', flush);
  return {
    stream,
    close: () => {
      process.removeListener('exit', flush);
      flush();
    },
  };
}
