import request from 'supertest';
import { Registry } from 'prom-client';
import { createMetricsRegistry } from '../metrics/metrics';
import { createOpsApp } from './ops-server';
import { Readiness } from './readiness';

describe('ops server', () => {
  it('serves healthz always, and readyz only when every check passes', async () => {
    const readiness = new Readiness();
    let bound = false;
    readiness.add('listener', () => bound);
    readiness.add('slow', () => new Promise<boolean>(() => undefined).then(() => true));
    const app = createOpsApp({ registry: new Registry(), readiness });

    await request(app).get('/healthz').expect(200);
    const notReady = await request(app).get('/readyz').expect(503);
    expect(notReady.body).toEqual({ ready: false, checks: { listener: false, slow: false } });

    bound = true;
    const stillSlow = await request(app).get('/readyz').expect(503);
    expect(stillSlow.body).toEqual({ ready: false, checks: { listener: true, slow: false } });
  });

  it('is ready when all checks pass, and not with none registered', async () => {
    const empty = createOpsApp({ registry: new Registry(), readiness: new Readiness() });
    await request(empty).get('/readyz').expect(503);
    const readiness = new Readiness();
    readiness.add('ok', () => Promise.resolve(true));
    await request(createOpsApp({ registry: new Registry(), readiness }))
      .get('/readyz')
      .expect(200);
    expect(() => readiness.add('ok', () => true)).toThrow(/twice/);
  });

  it('exposes prefixed default process metrics', async () => {
    const app = createOpsApp({ registry: createMetricsRegistry(), readiness: new Readiness() });
    const res = await request(app).get('/metrics').expect(200);
    expect(res.text).toContain('dovewarden_process_cpu_user_seconds_total');
    expect(res.headers['content-type']).toContain('text/plain');
  });
});
