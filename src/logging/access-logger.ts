import { hostname } from 'node:os';
import pino, { type DestinationStream } from 'pino';
import type { Config } from '../config';

/**
 * The access log's writer: one JSON line per request, in exactly the shape pino writes (`level`, `time`, `pid`,
 * `hostname`, the fields in this order, `msg` last), on the process logger's destination.
 *
 * Not a pino logger: pino builds a line generically (every key of the object looked up among serializers and
 * stringifiers, one string concatenation per field) and left about 3 KB of garbage per request for a 250-byte
 * line, the largest single allocation of the no-op after Apollo's own (bench/README.md, 2026-12-06 06:00 UTC).
 * The fields are fixed and chosen by the service, so the line is one template: no redaction or scrubbing is
 * needed, because no field ever carries a header, a body or a query string.
 */
export class AccessLogger {
  /** False below `info` (`LOG_LEVEL=warn` and above): then nothing is written and no hook is installed. */
  readonly enabled: boolean;
  private readonly bindings = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`;

  constructor(
    level: Config['logLevel'],
    private readonly destination: DestinationStream,
  ) {
    this.enabled = (pino.levels.values[level] ?? Number.POSITIVE_INFINITY) <= pino.levels.values.info;
  }

  /**
   * Writes one request's line. `url` is the path only (never the query string); `accountId` is left out when
   * the caller was anonymous, as pino leaves out an undefined field.
   */
  write(
    reqId: string,
    method: string,
    url: string,
    statusCode: number,
    responseTime: number,
    accountId: string | null,
  ): void {
    const account = accountId === null ? '' : `,"accountId":${JSON.stringify(accountId)}`;
    this.destination.write(
      `{"level":30,"time":${Date.now()}${this.bindings},"reqId":${JSON.stringify(reqId)},"method":${JSON.stringify(method)},"url":${JSON.stringify(url)},"statusCode":${statusCode},"responseTime":${Number.isFinite(responseTime) ? responseTime : null}${account},"msg":"request"}\n`,
    );
  }
}
