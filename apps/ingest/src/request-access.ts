import type { IncomingMessage } from 'node:http';
import { type IngestSettings, basicAuthChecker, createAllowList } from '@dovewarden/shared';

/** Why a request is refused before its body is read, and how it is answered. */
export interface AccessRefusal {
  status: 401 | 403 | 405 | 415;
  /** The metric reason; undefined for a refusal that is not counted (a wrong method). */
  reason: 'source-not-allowed' | 'unauthorised' | 'content-type' | 'content-encoding' | undefined;
  body: Record<string, string>;
  headers?: Record<string, string>;
}

function isJsonContentType(header: string | undefined): boolean {
  // A missing type is let through: the body is still parsed as JSON and rejected if it is not.
  if (header === undefined || header.trim() === '') return true;
  const mediaType = header.split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

/**
 * The checks every POST of Dovecot's goes through (/events and /sync-wait), in this order: the
 * source address, the credentials, the method, a JSON body that is not compressed. Built once
 * per process from the settings.
 */
export function createAccessCheck(
  settings: Pick<IngestSettings, 'allow' | 'auth'>,
): (req: IncomingMessage) => AccessRefusal | undefined {
  const allowed = createAllowList(settings.allow);
  const authorised =
    settings.auth === undefined
      ? () => true
      : basicAuthChecker({ user: settings.auth.user, password: settings.auth.password.reveal() });
  return (req): AccessRefusal | undefined => {
    if (!allowed(req.socket.remoteAddress)) {
      return {
        status: 403,
        reason: 'source-not-allowed',
        body: { error: 'source address not allowed' },
      };
    }
    if (!authorised(req.headers.authorization)) {
      return {
        status: 401,
        reason: 'unauthorised',
        body: { error: 'authentication required' },
        headers: { 'WWW-Authenticate': 'Basic realm="dovewarden"' },
      };
    }
    if (req.method !== 'POST') {
      return {
        status: 405,
        reason: undefined,
        body: { error: 'use POST' },
        headers: { Allow: 'POST' },
      };
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      return {
        status: 415,
        reason: 'content-type',
        body: { error: 'content type must be application/json' },
      };
    }
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      return {
        status: 415,
        reason: 'content-encoding',
        body: { error: 'compressed bodies are not accepted' },
      };
    }
    return undefined;
  };
}

export type BodyResult =
  { ok: true; text: string } | { ok: false; status: 413 | 400; error: string };

/** Reads the body up to the limit; past it, stops buffering at once. */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      resolve({ ok: false, status: 413, error: `body larger than ${limit} bytes` });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        resolve({ ok: false, status: 413, error: `body larger than ${limit} bytes` });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve({ ok: true, text: Buffer.concat(chunks, size).toString('utf8') });
    });
    req.on('error', () => {
      if (done) return;
      done = true;
      resolve({ ok: false, status: 400, error: 'request body could not be read' });
    });
  });
}

/** An error of the Redis link (ingest answers 503, Dovecot retries) rather than of the request. */
export function looksLikeRedisOutage(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Command timed out|MaxRetriesPerRequest|LOADING|READONLY|MISCONF/i.test(
    message,
  );
}
