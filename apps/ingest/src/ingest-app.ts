import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger, SyncQueue } from '@dovewarden/shared';
import { type FilterSettings, classifyEvent } from './event-filter';
import type { IngestMetrics } from './ingest-metrics';

export interface IngestDeps {
  syncQueue: SyncQueue;
  /** True while the producer's Redis link is up; false answers 503 without trying. */
  redisReady: () => boolean;
  logger: Logger;
  metrics: IngestMetrics;
  filter?: FilterSettings;
  bodyLimitBytes?: number;
  now?: () => number;
}

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

/** Dovecot retries a 503 only when it carries Retry-After (verified on 2.4.1). */
const RETRY_AFTER_SECONDS = '1';

function isJsonContentType(header: string | undefined): boolean {
  // Treat a missing type as JSON: the body is still checked by the parser.
  if (header === undefined || header.trim() === '') return true;
  const mediaType = header.split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

function looksLikeRedisOutage(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Command timed out|MaxRetriesPerRequest|LOADING|READONLY/i.test(
    message,
  );
}

/** One JSON line that says what was wrong, so that an operator reading Dovecot's log sees why. */
function reject(res: Response, status: number, error: string): void {
  res.status(status).json({ error });
}

/**
 * The events endpoint, apart from listen() so that tests drive it with supertest.
 * 202 only after Redis has acknowledged the job: a yes from us is a promise not to lose it.
 */
export function createIngestApp(deps: IngestDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  const now = deps.now ?? Date.now;
  const log = deps.logger;

  app.post(
    '/events',
    (req: Request, res: Response, next: NextFunction) => {
      if (!isJsonContentType(req.headers['content-type'])) {
        deps.metrics.count('unknown', 'invalid');
        reject(res, 415, 'content type must be application/json');
        return;
      }
      next();
    },
    express.json({
      limit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
      strict: false,
      type: () => true,
    }),
    async (req: Request, res: Response) => {
      const body: unknown = req.body;
      const decision = classifyEvent(body, deps.filter);
      const eventName =
        typeof body === 'object' &&
        body !== null &&
        'event' in body &&
        typeof body.event === 'string'
          ? body.event
          : 'unknown';
      switch (decision.kind) {
        case 'invalid':
          deps.metrics.count(eventName, 'invalid');
          reject(res, 400, decision.why);
          return;
        case 'ignore':
          deps.metrics.count(eventName, 'filtered');
          res.status(204).end();
          return;
        case 'sync':
          break;
      }
      if (!deps.redisReady()) {
        deps.metrics.count(eventName, 'unavailable');
        res.setHeader('Retry-After', RETRY_AFTER_SECONDS);
        reject(res, 503, 'queue unavailable: Redis is not reachable');
        return;
      }
      const stopTimer = deps.metrics.enqueueSeconds.startTimer();
      try {
        await deps.syncQueue.enqueue(
          { user: decision.user, reason: decision.reason, requestedAt: now() },
          decision.priority,
        );
        stopTimer();
        deps.metrics.count(eventName, 'queued');
        res.status(202).json({ queued: decision.user });
      } catch (error: unknown) {
        stopTimer();
        if (looksLikeRedisOutage(error)) {
          deps.metrics.count(eventName, 'unavailable');
          log.warn('could not queue sync: Redis unavailable', {
            user: decision.user,
            error: String(error),
          });
          res.setHeader('Retry-After', RETRY_AFTER_SECONDS);
          reject(res, 503, 'queue unavailable: Redis is not reachable');
          return;
        }
        deps.metrics.count(eventName, 'failed');
        log.error('could not queue sync', { user: decision.user, error });
        reject(res, 500, 'could not queue the sync');
      }
    },
  );

  app.all('/events', (_req, res) => {
    res.setHeader('Allow', 'POST');
    reject(res, 405, 'use POST');
  });

  app.use((_req: Request, res: Response) => reject(res, 404, 'not found'));

  // Body parser failures: malformed JSON, too large, bad charset.
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const type =
      typeof error === 'object' && error !== null && 'type' in error ? String(error.type) : '';
    switch (type) {
      case 'entity.parse.failed':
        deps.metrics.count('unknown', 'invalid');
        reject(res, 400, 'malformed JSON');
        return;
      case 'entity.too.large':
        deps.metrics.count('unknown', 'invalid');
        reject(
          res,
          413,
          `body larger than ${deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES} bytes`,
        );
        return;
      case 'encoding.unsupported':
      case 'charset.unsupported':
        deps.metrics.count('unknown', 'invalid');
        reject(res, 415, 'unsupported body encoding or charset');
        return;
      default:
        log.error('unexpected error in ingest', { error });
        reject(res, 500, 'internal error');
    }
  });

  return app;
}
