import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import {
  type OperatorActions,
  basicAuthChecker,
  isLoopbackHost,
  refuseAndClose,
  syncPriorityNamed,
  usernameProblem,
} from '@dovewarden/shared';
import { jobData, jobTitle, redactForDisplay } from './job-formatters';
import { OPENAPI_DOCUMENT } from './openapi';

export interface AdminAppOptions {
  queues: readonly Queue[];
  actions: OperatorActions;
  thresholdMs: number;
  auth: { user: string; password: string } | undefined;
  readOnly: boolean;
}

function basicAuth(auth: { user: string; password: string }) {
  const authorised = basicAuthChecker(auth);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (authorised(req.headers.authorization)) {
      next();
      return;
    }
    refuseAndClose(
      req,
      res,
      401,
      { error: 'authentication required' },
      { 'WWW-Authenticate': 'Basic realm="dovewarden admin"' },
    );
  };
}

/**
 * Without a password (the all-in-one, bound to loopback), the admin takes only requests whose
 * Host is a loopback name or address. A web page in the operator's browser can reach a loopback
 * port through DNS rebinding (a hostname of its own that resolves to 127.0.0.1); the browser
 * then sends that hostname as Host, and its Origin matches it, so the same-origin check alone
 * would let it replicate or remove users.
 */
function loopbackHostOnly(req: Request, res: Response, next: NextFunction): void {
  if (isLoopbackHost(req.headers.host)) {
    next();
    return;
  }
  refuseAndClose(req, res, 403, {
    error: 'without an admin password, only localhost, 127.0.0.1 or [::1] may be used as Host',
  });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Basic auth rides along with every request a browser makes, so a page on another site could
 * make an operator's browser retry or replicate. State-changing requests must therefore come
 * from this origin: the browser's Origin (or Referer) header has to name this host.
 */
function sameOriginOnly(req: Request, res: Response, next: NextFunction): void {
  if (SAFE_METHODS.has(req.method)) {
    next();
    return;
  }
  const source = req.headers.origin ?? req.headers.referer;
  if (source === undefined) {
    // Not a browser (curl, the CLI): no ambient credentials to abuse.
    next();
    return;
  }
  let host = '';
  try {
    host = new URL(source).host;
  } catch {
    host = '';
  }
  if (host !== '' && host === req.headers.host) {
    next();
    return;
  }
  refuseAndClose(req, res, 403, { error: 'cross-site request refused' });
}

function readOnlyGuard(readOnly: boolean) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!readOnly || SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    refuseAndClose(
      req,
      res,
      405,
      { error: 'the admin UI is read-only (DOVEWARDEN_ADMIN_READ_ONLY)' },
      { Allow: 'GET, HEAD' },
    );
  };
}

/** body-parser's own errors carry a 4xx status and a type; anything else is ours, a 500. */
function clientErrorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('status' in error)) return undefined;
  const status = Number(error.status);
  return status >= 400 && status < 500 ? status : undefined;
}

function clientErrorMessage(error: unknown): string {
  const type =
    typeof error === 'object' && error !== null && 'type' in error ? String(error.type) : '';
  switch (type) {
    case 'entity.parse.failed':
      return 'malformed JSON';
    case 'entity.too.large':
      return 'request body too large (16 KiB at most)';
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'unsupported body encoding';
    default:
      // Never the error's own message: it may quote the request or internals.
      return clientErrorStatus(error) === undefined ? 'internal error' : 'bad request';
  }
}

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;

/** offset and limit of a list request: whole numbers, limit 1 to 1,000 (default 100). */
function pageOf(query: Request['query']): { offset: number; limit: number } | { error: string } {
  const read = (name: string, fallback: number): number | undefined => {
    const value = query[name];
    if (value === undefined) return fallback;
    return typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
  };
  const offset = read('offset', 0);
  const limit = read('limit', DEFAULT_PAGE);
  if (offset === undefined || limit === undefined || limit < 1 || limit > MAX_PAGE)
    return { error: `offset must be a whole number and limit one from 1 to ${MAX_PAGE}` };
  return { offset, limit };
}

/** Bull Board and the JSON API, apart from listen() so that supertest drives it. */
export function createAdminApp(options: AdminAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(options.auth === undefined ? loopbackHostOnly : basicAuth(options.auth));
  app.use(sameOriginOnly);
  app.use(readOnlyGuard(options.readOnly));

  const api = express.Router();
  api.use(express.json({ limit: '16kb' }));
  api.get('/status', async (_req, res) => {
    res.json(await options.actions.overall(options.thresholdMs));
  });
  api.get('/syncs', async (_req, res) => {
    res.json({ syncs: await options.actions.active() });
  });
  api.get('/openapi.json', (_req, res) => {
    res.json(OPENAPI_DOCUMENT);
  });
  // Before /users/:user: these names are lists, not users.
  api.get('/users/failed', async (req, res) => {
    const page = pageOf(req.query);
    if ('error' in page) {
      res.status(400).json(page);
      return;
    }
    res.json(await options.actions.failedUsers(page.offset, page.limit));
  });
  api.get('/users/stale', async (req, res) => {
    const page = pageOf(req.query);
    if ('error' in page) {
      res.status(400).json(page);
      return;
    }
    res.json({
      ...(await options.actions.staleUsers(options.thresholdMs, page.offset, page.limit)),
      thresholdMs: options.thresholdMs,
    });
  });
  api.delete('/users/:user', async (req, res) => {
    const user = String(req.params['user']);
    if (usernameProblem(user) !== undefined) {
      res.status(400).json({ error: `invalid username: ${usernameProblem(user)}` });
      return;
    }
    res.json({ removed: user, ...(await options.actions.remove(user)) });
  });
  api.get('/users/:user', async (req, res) => {
    const user = String(req.params['user']);
    if (usernameProblem(user) !== undefined) {
      res.status(400).json({ error: `invalid username: ${usernameProblem(user)}` });
      return;
    }
    res.json(await options.actions.user(user));
  });
  api.post('/users/:user/replicate', async (req, res) => {
    const user = String(req.params['user']);
    const body: unknown = req.body;
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      res.status(400).json({ error: 'the body must be a JSON object such as {"full":true}' });
      return;
    }
    const fields = (body ?? {}) as Record<string, unknown>;
    const full = fields['full'] === true;
    const priority = syncPriorityNamed(
      typeof fields['priority'] === 'string' ? fields['priority'] : 'high',
    );
    if (usernameProblem(user) !== undefined || priority === undefined) {
      res.status(400).json({
        error: priority === undefined ? 'priority must be high, normal or low' : 'invalid username',
      });
      return;
    }
    await options.actions.replicate([user], { full, priority });
    res.status(202).json({ queued: user, full });
  });
  app.use('/api', api);

  const board = new ExpressAdapter();
  board.setBasePath('/');
  createBullBoard({
    queues: options.queues.map((queue) => {
      const adapter = new BullMQAdapter(queue, { readOnlyMode: options.readOnly });
      adapter.setFormatter('name', jobTitle);
      adapter.setFormatter('data', jobData);
      adapter.setFormatter('returnValue', (value: unknown) => redactForDisplay(value));
      return adapter;
    }),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'dovewarden' } },
  });
  app.use('/', board.getRouter() as express.Router);

  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    res.status(clientErrorStatus(error) ?? 500).json({ error: clientErrorMessage(error) });
  });
  return app;
}
