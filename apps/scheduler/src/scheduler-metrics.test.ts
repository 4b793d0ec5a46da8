import { Registry } from 'prom-client';
import { SchedulerMetrics } from './scheduler-metrics';

describe('scheduler metrics', () => {
  it('exports the sweep interval in seconds, next to the last sweep time it bounds', async () => {
    const registry = new Registry();
    const metrics = new SchedulerMetrics(registry, 90 * 60_000);
    const text = await registry.metrics();
    expect(text).toContain('dovewarden_sweep_interval_seconds 5400');
    // Never swept yet: 0, which the "no sweep within 2 intervals" alert treats as overdue.
    expect(text).toContain('dovewarden_sweep_last_success_timestamp_seconds 0');
    metrics.lastSweep.set(1_700_000_000);
    expect(await registry.metrics()).toContain(
      'dovewarden_sweep_last_success_timestamp_seconds 1700000000',
    );
  });
});
