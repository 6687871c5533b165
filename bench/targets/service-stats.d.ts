/** Types of service-stats.js (plain JavaScript, loaded by the compiled service too). */
export function countStatements(pg: { Client: { prototype: { query: unknown } } }): void;
export function printStatsOnSignal(app: {
  services: { stripe?: { stripe: { statistics(): Iterable<[string, { calls: number }]> } } | null };
}): void;
