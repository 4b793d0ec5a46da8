import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  type EnqueueResult,
  type IngestSettings,
  type Logger,
  type SyncPriority,
  type SyncUserJobData,
  refuseAndClose,
} from '@dovewarden/shared';
import { changeTime } from './event-time';
import { classifyEvent, needsSecondPass } from './event-filter';
import type { EventOutcome, IngestMetrics } from './ingest-metrics';
import { createAccessCheck, looksLikeRedisOutage, readBody } from './request-access';

export interface IngestDeps {
  syncQueue: { enqueue(data: SyncUserJobData, priority: SyncPriority): Promise<EnqueueResult> };
  /**
   * With sync-wait on: whether every wait of this delivery (Dovecot's session id of one
   * recipient) ended with its mail on B. Its mail_delivery_finished event then asks for nothing.
   */
  deliveryOnReplica?: (session: string, user: string) => Promise<boolean>;
  /** Records users that changed on the replica (events posted with `?server=replica`). */
  replicaService: { noteServed(users: readonly string[], at: number): Promise<void> };
  /** POST /sync-wait (sync-wait-handler); 404 without it. */
  syncWait?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** True while the producer's Redis link is up; false answers 503 without trying. */
  redisReady: () => boolean;
  logger: Logger;
  metrics: IngestMetrics;
  settings: IngestSettings;
  /** Told each event (its body) that could not be queued because Redis is down. */
  onRedisUnavailable?: (body: string) => void;
  /** Told each event (its body) that was queued: a retry of a refused one, maybe. */
  onQueued?: (body: string) => void;
  now?: () => number;
}

/**
 * Which server posted the event: `?server=replica` is B's own Dovecot (a change made on B, which
 * the backup sync mode must not destroy); no parameter, or `source`, is A. Anything else is a
 * configuration mistake and refused, so that it is seen at once rather than read as A's events.
 */
type EventServer = 'source' | 'replica';

function serverOf(url: string): EventServer | undefined {
  const query = url.indexOf('?');
  if (query < 0) return 'source';
  const server = new URLSearchParams(url.slice(query + 1)).get('server');
  if (server === null || server === 'source') return 'source';
  return server === 'replica' ? 'replica' : undefined;
}

/** Dovecot retries a 503 only when it carries Retry-After (verified on 2.4.1). */
const RETRY_AFTER_SECONDS = '1';
const LOGGED_BODY_BYTES = 300;

/**
 * POST /events as a bare node:http handler: this is the hot path that must answer Dovecot well
 * inside its 250 ms default, and the fewer layers the better. It is apart from listen() so
 * that tests drive it with supertest. 202 only after Redis has acknowledged the job: a yes
 * from us is a promise not to lose the change.
 */
export function createIngestHandler(deps: IngestDeps): RequestListener {
  const { settings, metrics, logger } = deps;
  const now = deps.now ?? Date.now;
  const access = createAccessCheck(settings);

  const answer = (
    res: ServerResponse,
    stopTimer: (labels: { code: string }) => number,
    status: number,
    body?: Record<string, string>,
    headers: Record<string, string> = {},
  ): void => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      ...(body === undefined
        ? {}
        : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
    });
    res.end(payload);
    stopTimer({ code: String(status) });
  };

  /** A refusal: answered without reading the body, and the connection closed. */
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    stopTimer: (labels: { code: string }) => number,
    status: number,
    body: Record<string, string>,
    headers: Record<string, string> = {},
  ): void => {
    refuseAndClose(req, res, status, body, headers);
    stopTimer({ code: String(status) });
  };

  const count = (outcome: EventOutcome, reason: string): void => {
    metrics.events.inc({ outcome, reason });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/sync-wait' && deps.syncWait !== undefined) {
      // Not an event: its own checks, metrics and answers (a delivery waiting for B).
      await deps.syncWait(req, res);
      return;
    }
    const stopTimer = metrics.requestSeconds.startTimer();
    const receivedAt = now();
    if (path !== '/events') {
      refuse(req, res, stopTimer, 404, { error: 'not found' });
      return;
    }
    const server = serverOf(req.url ?? '');
    if (server === undefined) {
      count('rejected', 'server');
      refuse(req, res, stopTimer, 400, { error: 'server must be source or replica' });
      return;
    }
    if (req.method === 'POST') metrics.goCompatible.received.inc();
    const refusal = access(req);
    if (refusal !== undefined) {
      if (refusal.reason !== undefined) count('rejected', refusal.reason);
      if (refusal.reason === 'source-not-allowed') {
        logger.warn('event from a source outside DOVEWARDEN_INGEST_ALLOW', {
          peer: req.socket.remoteAddress,
        });
      }
      refuse(req, res, stopTimer, refusal.status, refusal.body, refusal.headers);
      return;
    }

    const body = await readBody(req, settings.bodyLimitBytes);
    if (!body.ok) {
      count('rejected', body.status === 413 ? 'too-large' : 'unreadable');
      // Not a byte more of a huge body: answered, and the connection closed.
      refuse(req, res, stopTimer, body.status, { error: body.error });
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.text);
    } catch {
      count('rejected', 'malformed-json');
      logger.warn('rejected event: malformed JSON', {
        body: body.text.slice(0, LOGGED_BODY_BYTES),
      });
      answer(res, stopTimer, 400, { error: 'malformed JSON' });
      return;
    }

    const decision = classifyEvent(parsed, settings);
    switch (decision.kind) {
      case 'invalid':
        count('rejected', decision.why);
        logger.warn('rejected event', {
          why: decision.detail,
          body: body.text.slice(0, LOGGED_BODY_BYTES),
        });
        answer(res, stopTimer, 400, { error: decision.detail });
        return;
      case 'ignore':
        count('filtered', decision.why);
        if (logger.isDebugEnabled()) {
          logger.debug('filtered event', {
            why: decision.detail,
            body: body.text.slice(0, LOGGED_BODY_BYTES),
          });
        }
        answer(res, stopTimer, 204);
        return;
      case 'sync':
        break;
    }
    const fields = (parsed as { fields: Record<string, unknown> }).fields;
    const session = fields['session'];
    if (
      decision.reason.kind === 'delivery' &&
      server === 'source' &&
      deps.deliveryOnReplica !== undefined &&
      typeof session === 'string' &&
      session !== ''
    ) {
      // The delivery waited for B (sync-wait) and its mail is there: a sync now would carry
      // nothing. On any doubt (a wait that timed out, Redis away) the sync is asked for.
      const covered = await deps.deliveryOnReplica(session, decision.user).catch(() => false);
      if (covered) {
        count('filtered', 'delivery-on-replica');
        answer(res, stopTimer, 204);
        return;
      }
    }
    metrics.goCompatible.passedFilter.inc();

    const unavailable = (): void => {
      // The outage ledger is about A's changes, whose loss the sweep must make up for.
      if (server === 'source') deps.onRedisUnavailable?.(body.text);
      count('unavailable', 'redis');
      metrics.enqueueErrors.inc({ kind: 'unavailable' });
      metrics.goCompatible.enqueueErrors.inc();
      metrics.goCompatible.redisErrors.inc();
      answer(
        res,
        stopTimer,
        503,
        { error: 'queue unavailable: Redis is not reachable' },
        { 'Retry-After': RETRY_AFTER_SECONDS },
      );
    };
    if (!deps.redisReady()) {
      unavailable();
      return;
    }
    const requestedAt = changeTime(
      (parsed as { end_time?: unknown }).end_time ?? fields['end_time'],
      receivedAt,
    );
    if (server === 'replica') {
      // A change on B is not replicated from A; it is remembered, so that no backup removes it.
      try {
        await deps.replicaService.noteServed([decision.user], requestedAt);
      } catch (error: unknown) {
        logger.warn('could not record a change on the replica', {
          user: decision.user,
          error: String(error),
        });
        unavailable();
        return;
      }
      count('accepted', 'replica');
      answer(res, stopTimer, 202, { recorded: decision.user });
      return;
    }
    try {
      const result = await deps.syncQueue.enqueue(
        {
          user: decision.user,
          reason: decision.reason,
          requestedAt,
          ...(needsSecondPass(decision.reason) ? { secondPass: true } : {}),
        },
        decision.priority,
      );
      if (result.merged) metrics.merged.inc();
      if (result.raised) metrics.priorityRaised.inc();
      count('accepted', decision.reason.kind);
      metrics.goCompatible.enqueued.inc();
      deps.onQueued?.(body.text);
      answer(res, stopTimer, 202, { queued: decision.user });
    } catch (error: unknown) {
      if (looksLikeRedisOutage(error)) {
        logger.warn('could not queue sync: Redis unavailable', {
          user: decision.user,
          error: String(error),
        });
        unavailable();
        return;
      }
      count('failed', 'enqueue');
      metrics.enqueueErrors.inc({ kind: 'failed' });
      metrics.goCompatible.enqueueErrors.inc();
      logger.error('could not queue sync', { user: decision.user, error });
      answer(res, stopTimer, 500, { error: 'could not queue the sync' });
    }
  };

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error('unexpected error in ingest', { error });
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: 'internal error' }));
      } else {
        res.destroy();
      }
    });
  };
}
