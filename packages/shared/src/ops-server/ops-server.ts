import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Readiness } from './readiness';

/**
 * /metrics, /healthz and /readyz, on METRICS_ADDR, apart from the app's own port so that a
 * slow scrape never competes with Dovecot's event posts.
 */
export function createOpsApp(deps: { registry: Registry; readiness: Readiness }): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.status(200).type('text/plain').send('ok\n');
  });

  app.get('/readyz', async (_req, res) => {
    const report = await deps.readiness.evaluate();
    res.status(report.ready ? 200 : 503).json(report);
  });

  app.get('/metrics', async (_req, res) => {
    try {
      const body = await deps.registry.metrics();
      res.status(200).type(deps.registry.contentType).send(body);
    } catch (error: unknown) {
      res
        .status(500)
        .type('text/plain')
        .send(`metrics failed: ${String(error)}\n`);
    }
  });

  return app;
}
