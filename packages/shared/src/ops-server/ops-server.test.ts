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

  it('readyz?ignore= leaves the named checks out of the verdict, and still reports them', async () => {
    const readiness = new Readiness();
    let bound = false;
    readiness.add('ingest-listener', () => bound);
    readiness.add('ingest-redis', () => ({ ready: false, reason: 'Redis does not answer' }));
    const app = createOpsApp({ registry: new Registry(), readiness });
    // The listener still decides: ignoring Redis never makes an unbound ingest ready.
    await request(app).get('/readyz?ignore=ingest-redis').expect(503);
    bound = true;
    const ready = await request(app).get('/readyz?ignore=ingest-redis').expect(200);
    expect(ready.body).toEqual({
      ready: true,
      checks: { 'ingest-listener': true, 'ingest-redis': false },
      reasons: { 'ingest-redis': 'Redis does not answer' },
    });
    await request(app).get('/readyz').expect(503);
    await request(app).get('/readyz?ignore=other,unknown').expect(503);
  });

  it('exposes prefixed default process metrics', async () => {
    const app = createOpsApp({ registry: createMetricsRegistry(), readiness: new Readiness() });
    const res = await request(app).get('/metrics').expect(200);
    expect(res.text).toContain('dovewarden_process_cpu_user_seconds_total');
    expect(res.headers['content-type']).toContain('text/plain');
  });
});
