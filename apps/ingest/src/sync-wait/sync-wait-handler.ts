import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type EnqueueResult,
  type IngestSettings,
  type Logger,
  type SyncUserJobData,
  type SyncWaitOutcome,
  type SyncWaiterToken,
  SyncPriority,
  refuseAndClose,
  normaliseUsername,
  usernameProblem,
} from '@dovewarden/shared';
import { type AccessRefusal, looksLikeRedisOutage, readBody } from '../request-access';
import type { SyncWaitMetrics } from './sync-wait-metrics';
import type { SyncWaiters } from './sync-waiters';

export interface SyncWaitDeps {
  syncQueue: {
    enqueue(
      data: SyncUserJobData,
      priority: SyncPriority,
      waiter?: SyncWaiterToken,
    ): Promise<EnqueueResult>;
  };
  waiters: SyncWaiters;
  /** The same checks as POST /events (source, credentials, method, type). */
  access: (req: IncomingMessage) => AccessRefusal | undefined;
  /** True while Redis takes requests and the synced-waiters subscription is up. */
  ready: () => boolean;
  /**
   * The namespace's tally for `dovewarden status` (written without waiting), and each
   * delivery's waits, by which its own event is known to be covered (SyncWaitLedger).
   */
  ledger: {
    note(outcome: SyncWaitOutcome, at: number): Promise<void>;
    waitStarted(session: string, user: string): Promise<void>;
    waitSynced(session: string, user: string): Promise<void>;
  };
  logger: Logger;
  metrics: SyncWaitMetrics;
  settings: Pick<IngestSettings, 'usernameFormat' | 'bodyLimitBytes' | 'syncWait'>;
  now?: () => number;
}

/** What the delivery's Lua hook posts (dovewarden-sync-wait.lua); only `user` is required. */
interface SyncWaitRequest {
  user: string;
  /** Dovecot's session id of this recipient's delivery, as its mail_delivery_finished names it. */
  session?: string;
  mailbox?: string;
  uid?: number;
  /** The hook's own timeout: ingest answers before it, so that the delivery logs why. */
  timeoutMs?: number;
}

/** Answer this much before the hook's request gives up (at most a tenth of the wait). */
const ANSWER_MARGIN_MS = 200;
/** Dovecot's session ids are about 30 characters (with ":R<n>" per further recipient). */
const MAX_SESSION_CHARS = 200;
/** One warning per this long about deliveries that waited in vain, with the count since. */
const TIMEOUT_WARNING_EVERY_MS = 10_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseRequest(
  text: string,
  settings: SyncWaitDeps['settings'],
): SyncWaitRequest | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: 'malformed JSON' };
  }
  if (!isRecord(parsed)) return { error: 'expected a JSON object' };
  const rawUser = parsed['user'];
  if (typeof rawUser !== 'string') return { error: '"user" must be a string' };
  const user = normaliseUsername(rawUser, settings.usernameFormat);
  const problem = user === '' ? 'empty' : usernameProblem(user);
  if (problem !== undefined) return { error: `"user" is ${problem.replace(/-/g, ' ')}` };
  const { mailbox, uid, session } = parsed;
  if (session !== undefined && (typeof session !== 'string' || session.length > MAX_SESSION_CHARS))
    return { error: `"session" must be a string of at most ${MAX_SESSION_CHARS} characters` };
  const timeout = parsed['timeout_ms'];
  if (mailbox !== undefined && typeof mailbox !== 'string')
    return { error: '"mailbox" must be a string' };
  if (uid !== undefined && !isCount(uid)) return { error: '"uid" must be a UID' };
  if (timeout !== undefined && (!isCount(timeout) || timeout === 0))
    return { error: '"timeout_ms" must be a positive integer' };
  return {
    user,
    ...(session === undefined || session === '' ? {} : { session }),
    ...(mailbox === undefined ? {} : { mailbox }),
    ...(uid === undefined ? {} : { uid }),
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
  };
}

/**
 * POST /sync-wait: answers once the user's new mail is on the replica, so that the delivery on A
 * (LMTP or LDA, through dovewarden-sync-wait.lua) says "250" only then, as Dovecot 2.3's
 * replication_sync_timeout did. It joins the user's replication rather than racing it: it asks
 * for a sync like any event (one pending job per user, so several waiting deliveries share one
 * sync), above every other priority, and its token is answered only by a sync that claimed it,
 * one that started after the delivery was committed (SyncRequests). 200 when that sync
 * succeeded; 504 at the timeout; 503 at once without Redis or above the waiter cap. Every
 * answer lets the delivery go on: its mail is on A and reaches B by the follow-up sync.
 */
export function createSyncWaitHandler(
  deps: SyncWaitDeps,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { settings, metrics, logger, waiters } = deps;
  const now = deps.now ?? Date.now;
  let lastTimeoutWarning = 0;
  let timeoutsSinceWarning = 0;

  const answer = (
    res: ServerResponse,
    startedAt: number,
    outcome: SyncWaitOutcome,
    status: number,
    body: Record<string, string | number>,
  ): void => {
    const at = now();
    metrics.observe(outcome, Math.max(0, at - startedAt) / 1000);
    deps.ledger.note(outcome, at).catch(() => undefined);
    if (res.writableEnded || res.destroyed) return;
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(payload),
    });
    res.end(payload);
  };

  const noteTimeout = (request: SyncWaitRequest, waitedMs: number): void => {
    timeoutsSinceWarning += 1;
    const at = now();
    if (at - lastTimeoutWarning < TIMEOUT_WARNING_EVERY_MS) return;
    logger.warn('deliveries answered before their mail was on the replica (sync-wait timeout)', {
      user: request.user,
      mailbox: request.mailbox,
      uid: request.uid,
      waitedMs,
      since: lastTimeoutWarning === 0 ? undefined : new Date(lastTimeoutWarning).toISOString(),
      deliveries: timeoutsSinceWarning,
    });
    lastTimeoutWarning = at;
    timeoutsSinceWarning = 0;
  };

  return async (req, res) => {
    const startedAt = now();
    const refusal = deps.access(req);
    if (refusal !== undefined) {
      metrics.observe('rejected', 0);
      deps.ledger.note('rejected', startedAt).catch(() => undefined);
      refuseAndClose(req, res, refusal.status, refusal.body, refusal.headers);
      return;
    }
    const limits = settings.syncWait;
    if (limits === undefined) {
      // Dovecot has the hook but this ingest does not wait: answered at once, nothing held.
      req.resume();
      answer(res, startedAt, 'off', 404, {
        error: 'sync-wait is off here (DOVEWARDEN_SYNC_WAIT_TIMEOUT is 0)',
      });
      return;
    }
    const body = await readBody(req, Math.min(settings.bodyLimitBytes, 64 * 1024));
    if (!body.ok) {
      answer(res, startedAt, 'invalid', body.status, { error: body.error });
      return;
    }
    const request = parseRequest(body.text, settings);
    if ('error' in request) {
      logger.warn('rejected sync-wait request', { why: request.error });
      answer(res, startedAt, 'invalid', 400, { error: request.error });
      return;
    }
    if (!deps.ready()) {
      answer(res, startedAt, 'unavailable', 503, {
        error: 'cannot wait: Redis is not reachable',
      });
      return;
    }
    const budget = Math.min(request.timeoutMs ?? limits.timeoutMs, limits.timeoutMs);
    const waitMs = Math.max(1, budget - Math.min(ANSWER_MARGIN_MS, Math.floor(budget / 10)));
    const wait = waiters.open(waitMs);
    if (wait === undefined) {
      answer(res, startedAt, 'refused', 503, {
        error: `too many deliveries waiting (${limits.maxWaiters}); not waiting for this one`,
      });
      return;
    }
    res.once('close', () => wait.end('abandoned'));
    const { session } = request;
    try {
      await Promise.all([
        deps.syncQueue.enqueue(
          { user: request.user, reason: { kind: 'sync-wait' }, requestedAt: startedAt },
          SyncPriority.DeliveryWait,
          { token: wait.token, deadline: wait.deadline },
        ),
        session === undefined ? undefined : deps.ledger.waitStarted(session, request.user),
      ]);
    } catch (error: unknown) {
      wait.end('abandoned');
      if (!looksLikeRedisOutage(error))
        logger.error('could not queue a sync-wait', { user: request.user, error });
      answer(res, startedAt, 'unavailable', 503, { error: 'cannot wait: the sync was not queued' });
      return;
    }
    const outcome = await wait.outcome;
    const waitedMs = now() - startedAt;
    switch (outcome) {
      case 'synced':
        // Before the answer: the delivery's event, which follows it, then finds it.
        if (session !== undefined)
          await deps.ledger.waitSynced(session, request.user).catch(() => undefined);
        answer(res, startedAt, 'synced', 200, { synced: request.user, waited_ms: waitedMs });
        return;
      case 'timeout':
        noteTimeout(request, waitedMs);
        answer(res, startedAt, 'timeout', 504, {
          error: `the mail was not on the replica within ${waitMs} ms; it follows asynchronously`,
        });
        return;
      case 'shutdown':
        answer(res, startedAt, 'shutdown', 503, { error: 'ingest is stopping; not waiting' });
        return;
      case 'abandoned':
        answer(res, startedAt, 'abandoned', 499, { error: 'the delivery went away' });
        return;
    }
  };
}
