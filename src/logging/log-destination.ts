import pino, { type DestinationStream } from 'pino';

type SonicBoom = ReturnType<typeof pino.destination>;

/** How long a log line may wait in the buffer when traffic is too light to fill it. */
export const LOG_FLUSH_INTERVAL_MS = 1000;
/** Lines are written once about this many bytes wait (about 15 access lines). */
const LOG_BUFFER_BYTES = 4096;

export interface LogDestination {
  stream: DestinationStream;
  /** Writes what waits in the buffer (at shutdown). */
  close(): void;
}

/**
 * Standard output, written in batches. pino's default writes every line with its own `write(2)`: at the
 * default `info` level that was the largest single cost of a request (14 % of the no-op's CPU profile,
 * bench/README.md). Here lines wait until about 4 KiB are pending and leave together in one synchronous write.
 * Not sonic-boom's asynchronous mode: under load it hands a small write to libuv's thread pool as soon as the
 * last one completes, which cost the request path more than the batched synchronous write does. What is
 * buffered is written within LOG_FLUSH_INTERVAL_MS, at shutdown and when the process exits; a process killed
 * outright (SIGKILL, out of memory) can lose up to one buffer of lines, the usual trade of a buffered log.
 */
export function bufferedStdout(fileDescriptor = 1): LogDestination {
  // sonic-boom does the writing (partial writes, EAGAIN on a non-blocking pipe), one batch at a time.
  const output = pino.destination({ dest: fileDescriptor, sync: true });
  const stream = new LineBatch(output);
  const flush = () => {
    try {
      stream.flushSync();
    } catch {
      // Nothing to flush to (stdout closed): the process goes on.
    }
  };
  // Our own timer, not sonic-boom's `periodicFlush`: that one runs until the stream is destroyed, and destroying
  // the stream would close standard output itself. The timer only writes what waits; sonic-boom's `flushSync`
  // also calls fsync(2), which on a file blocked the event loop every second (about 1 % of the no-op's wall
  // time in a CPU profile, bench/README.md 2026-12-06 18:25), so it is kept for shutdown and exit.
  const timer = setInterval(() => {
    try {
      stream.writePending();
    } catch {
      // As above.
    }
  }, LOG_FLUSH_INTERVAL_MS);
  timer.unref();
  process.once('exit', flush);
  return {
    stream,
    close: () => {
      clearInterval(timer);
      process.removeListener('exit', flush);
      flush();
    },
  };
}

/**
 * Lines kept in an array until a batch is full, then handed to `output` as one string. Not sonic-boom's own
 * `minLength` buffer: it appends each line to one growing string and measures that string's byte length on
 * every write, which copies the whole pending batch once per line (about 2 KB of garbage per request at the
 * no-op's rate, bench/README.md 2026-12-06 06:00 UTC).
 */
class LineBatch implements DestinationStream {
  private pending: string[] = [];
  /** UTF-16 units pending: close enough to bytes to decide when a batch is full. */
  private size = 0;

  constructor(private readonly output: SonicBoom) {}

  write(line: string): void {
    this.pending.push(line);
    this.size += line.length;
    if (this.size >= LOG_BUFFER_BYTES) this.writeBatch();
  }

  /** Writes what is pending now, and sonic-boom's own leftovers (a partial write), synced: shutdown, exit. */
  flushSync(): void {
    this.writeBatch();
    this.output.flushSync();
  }

  /** Writes what is pending now, without fsync (the timer). */
  writePending(): void {
    this.writeBatch();
  }

  private writeBatch(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending.join('');
    this.pending = [];
    this.size = 0;
    this.output.write(batch);
  }
}
