import { Registry } from 'prom-client';
import { Readiness } from '@dovewarden/shared';
import { registerReadinessMetric } from './readiness-metrics';

async function checks(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('dovewarden_ready')?.get();
  return Object.fromEntries(
    (metric?.values ?? []).map((entry) => [String(entry.labels['check']), entry.value]),
  );
}

describe('dovewarden_ready', () => {
  it('reports every readiness check as /readyz sees it at scrape time', async () => {
    const readiness = new Readiness();
    let redisUp = true;
    readiness.add('ingest-listener', () => true);
    readiness.add('ingest-redis', () => redisUp);
    readiness.add('doveadm-accepts-us', () => ({ ready: false, reason: 'HTTP 401' }));
    const registry = new Registry();
    registerReadinessMetric(registry, readiness);

    expect(await checks(registry)).toEqual({
      'ingest-listener': 1,
      'ingest-redis': 1,
      'doveadm-accepts-us': 0,
    });
    redisUp = false;
    expect((await checks(registry))['ingest-redis']).toBe(0);
    expect(await registry.metrics()).toContain('dovewarden_ready{check="ingest-redis"} 0');
  });

  it('counts a check that throws as failing, like /readyz', async () => {
    const readiness = new Readiness();
    readiness.add('broken', () => {
      throw new Error('boom');
    });
    const registry = new Registry();
    registerReadinessMetric(registry, readiness);
    expect(await checks(registry)).toEqual({ broken: 0 });
  });
});
