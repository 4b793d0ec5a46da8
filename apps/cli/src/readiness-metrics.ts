import type { Gauge, Registry } from 'prom-client';
import { MetricFactory, type Readiness } from '@dovewarden/shared';

/**
 * /readyz as a series: a probe's answer is gone once Kubernetes has acted on it, but dashboards
 * and alerts need to see which check of which process failed and for how long. Evaluated at
 * scrape time with the same bounded checks as /readyz.
 */
export function registerReadinessMetric(registry: Registry, readiness: Readiness): Gauge<'check'> {
  return new MetricFactory(registry).gauge(
    'ready',
    'Readiness checks of this process (the ones /readyz runs): 1 passing, 0 failing',
    {
      labelNames: ['check'],
      async collect(gauge) {
        const report = await readiness.evaluate();
        gauge.reset();
        for (const [check, ok] of Object.entries(report.checks)) gauge.set({ check }, ok ? 1 : 0);
      },
    },
  );
}
