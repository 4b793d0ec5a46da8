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

  // `?ignore=a,b`: ready whatever those checks say (still reported). Ingest's probe in the
  // chart ignores its Redis check, so that a Redis blip keeps it in its Service, answering
  // Dovecot 503 with Retry-After rather than leaving it with refused connections.
  app.get('/readyz', async (req, res) => {
    const ignore = typeof req.query['ignore'] === 'string' ? req.query['ignore'].split(',') : [];
    const report = await deps.readiness.evaluate(ignore);
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
