import perfHooks, { type IntervalHistogram, type PerformanceObserver } from 'node:perf_hooks';
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * Node's process metrics (`process_*`, `nodejs_*`) on `registry`, and how to stop them. prom-client's
 * `collectDefaultMetrics` starts a `gc` PerformanceObserver and an event-loop-delay monitor and returns no way to
 * stop them (prom-client issues #494 and #500, open for prom-client 15). Both stay registered with the process
 * after the service stops, and through their callbacks keep the stopped service reachable: in one Jest worker
 * every test file's app and module registry stayed, ~30 MB a file. So the two are caught as prom-client makes
 * them (synchronously, inside this call) and stopped by the function returned.
 */
export function collectProcessMetrics(registry: Registry): () => void {
  const observers: PerformanceObserver[] = [];
  const monitors: IntervalHistogram[] = [];
  const { PerformanceObserver: Observer, monitorEventLoopDelay } = perfHooks;
  perfHooks.PerformanceObserver = class CaughtObserver extends Observer {
    constructor(callback: ConstructorParameters<typeof Observer>[0]) {
      super(callback);
      observers.push(this);
    }
  };
  perfHooks.monitorEventLoopDelay = (options) => {
    const monitor = monitorEventLoopDelay(options);
    monitors.push(monitor);
    return monitor;
  };
  try {
    collectDefaultMetrics({ register: registry });
  } finally {
    perfHooks.PerformanceObserver = Observer;
    perfHooks.monitorEventLoopDelay = monitorEventLoopDelay;
  }
  return () => {
    for (const observer of observers.splice(0)) observer.disconnect();
    for (const monitor of monitors.splice(0)) monitor.disable();
  };
}
