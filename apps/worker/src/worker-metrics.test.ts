import { Registry } from 'prom-client';
import { createLogger } from '@dovewarden/shared';
import { ConfigurationGate } from './configuration-gate';
import { WorkerMetrics } from './worker-metrics';

async function gaugeValue(registry: Registry, name: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values[0]?.value;
}

describe('dovewarden_worker_configuration_paused', () => {
  it('follows the configuration gate: 0, then 1 once tripped, then 0 when doveadm answers again', async () => {
    jest.useFakeTimers();
    try {
      let probeWorks = false;
      const worker = { pause: jest.fn(() => Promise.resolve()), resume: jest.fn() };
      const gate = new ConfigurationGate(
        worker,
        () => (probeWorks ? Promise.resolve() : Promise.reject(new Error('401'))),
        createLogger('error', { silent: true }),
      );
      const registry = new Registry();
      new WorkerMetrics(
        registry,
        () => Promise.resolve(0),
        () => gate.paused,
      );
      const name = 'dovewarden_worker_configuration_paused';

      expect(await gaugeValue(registry, name)).toBe(0);
      gate.trip('HTTP 401 from doveadm');
      expect(await gaugeValue(registry, name)).toBe(1);
      expect(await registry.metrics()).toContain(`${name} 1`);

      probeWorks = true;
      await jest.advanceTimersByTimeAsync(gate.handBackDelayMs);
      expect(worker.resume).toHaveBeenCalled();
      expect(await gaugeValue(registry, name)).toBe(0);
      gate.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  it('defaults to 0 for callers that have no gate', async () => {
    const registry = new Registry();
    new WorkerMetrics(registry, () => Promise.resolve(3));
    expect(await gaugeValue(registry, 'dovewarden_worker_configuration_paused')).toBe(0);
    expect(await gaugeValue(registry, 'dovewarden_failed_users')).toBe(3);
  });
});
