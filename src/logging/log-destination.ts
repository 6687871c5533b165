import pino, { type DestinationStream } from 'pino';

/** How long a log line may wait in the buffer when traffic is too light to fill it. */
export const LOG_FLUSH_INTERVAL_MS = 1000;
/** Lines are written once this many bytes wait (about 15 access lines). */
const LOG_BUFFER_BYTES = 4096;

export interface LogDestination {
  stream: DestinationStream;
  /** Writes what waits in the buffer, synchronously (at shutdown). */
  close(): void;
}

/**
 * Standard output, written asynchronously in batches. pino's default writes every line with its own blocking
 * `write(2)`: at the default `info` level that was the largest single cost of a request (a writev per line, 14 %
 * of the no-op's CPU profile, bench/README.md). Buffered, many lines leave in one write, off the request's path.
 * What is buffered is written within LOG_FLUSH_INTERVAL_MS, at shutdown, and at `process.exit` (pino registers
 * a synchronous flush for its asynchronous destinations); a crash of the process itself (SIGKILL, out of
 * memory) can lose the last second of lines, which is the usual trade of a buffered log.
 */
export function bufferedStdout(fileDescriptor = 1): LogDestination {
  const stream = pino.destination({ dest: fileDescriptor, sync: false, minLength: LOG_BUFFER_BYTES });
  const timer = setInterval(() => stream.flush(), LOG_FLUSH_INTERVAL_MS);
  timer.unref();
  return {
    stream,
    close: () => {
      clearInterval(timer);
      try {
        stream.flushSync();
      } catch {
        // Nothing to flush to (stdout closed or not yet open): shutdown goes on.
      }
    },
  };
}
