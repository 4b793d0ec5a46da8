import { Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'dovewarden_';

/**
 * One registry per process, with Node's default process metrics. Each app registers its own
 * metrics on it; the ops server exposes it at /metrics.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}
