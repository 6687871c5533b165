import perfHooks, { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { BillingMetrics } from '../../src/observability/metrics';
import { METRIC_KEYS } from '../../src/services/plans/plan.types';

/**
 * prom-client's process metrics watch the whole process (a `gc` PerformanceObserver, an event-loop-delay
 * monitor) and give no way to stop (prom-client issues #494, #500). Left running after `app.stop()`, they kept
 * every stopped app reachable: in one Jest worker each test file's app, ~30 MB a file.
 */
describe('BillingMetrics.close', () => {
  const probe = monitorEventLoopDelay();
  afterEach(() => jest.restoreAllMocks());

  it('disconnects the gc observer and disables the event-loop monitor it started', () => {
    const disconnect = jest.spyOn(PerformanceObserver.prototype, 'disconnect');
    // The prototype from a monitor enabled once: a monitor never enabled keeps its libuv timer referenced, and once
    // collected it crashes Node 20 and 24 in `process._getActiveHandles()` (prom-client's process_active_handles:
    // "Assertion failed: !obj.IsEmpty()"), which took down a Jest worker in CI on 2026-12-07.
    probe.enable();
    probe.disable();
    const histogramPrototype = Object.getPrototypeOf(probe) as { disable(): boolean };
    const disable = jest.spyOn(histogramPrototype, 'disable');

    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS, defaultMetrics: true });
    expect(disconnect).not.toHaveBeenCalled();
    metrics.close();

    expect(disconnect).toHaveBeenCalledTimes(1);
    expect(disable).toHaveBeenCalledTimes(1);
  });

  it('still exposes the process metrics while open', async () => {
    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS, defaultMetrics: true });
    const { body } = await metrics.exposition();
    metrics.close();
    expect(body).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    expect(body).toContain('# TYPE nodejs_eventloop_lag_p99_seconds gauge');
    expect(body).toContain('# TYPE process_cpu_user_seconds_total counter');
  });

  it('leaves perf_hooks as it found it', () => {
    const before = { observer: perfHooks.PerformanceObserver, monitor: perfHooks.monitorEventLoopDelay };
    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS, defaultMetrics: true });
    metrics.close();
    expect(perfHooks.PerformanceObserver).toBe(before.observer);
    expect(perfHooks.monitorEventLoopDelay).toBe(before.monitor);
  });
});
