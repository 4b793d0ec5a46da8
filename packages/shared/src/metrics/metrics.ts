import { Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'dovewarden_';

/**
 * The event-loop lag histogram's sampling timer. prom-client's default (10 ms) wakes an idle
 * process 100 times a second; on a small VM each wake-up of a Node process costs 0.1-0.4 ms of
 * CPU (bench/src/cost.bench.ts), so an idle dovewarden would burn 1-4 % of a core on it alone.
 * Ten samples a second still catch every stall that matters to a queue consumer.
 */
export const EVENT_LOOP_MONITORING_PRECISION_MS = 100;

/**
 * One registry per process, with Node's default process metrics. Each app registers its own
 * metrics on it; the ops server exposes it at /metrics.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({
    register: registry,
    prefix: METRIC_PREFIX,
    eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS,
  });
  return registry;
}
