import { AuthenticationError } from '../errors/authentication-error';
import { BadRequestError } from '../errors/bad-request-error';
import type { DoveadmError } from '../errors/doveadm-error';
import { EndpointNotFoundError } from '../errors/endpoint-not-found-error';
import { HttpServerError } from '../errors/http-server-error';
import { UnexpectedResponseError } from '../errors/unexpected-response-error';
import { bodyPreview } from '../http/body-preview';
import type { HttpAnswer } from '../http/http-transport';
import { describeRequest, type RequestContext } from '../request-context';
import type { DoveadmParams } from './doveadm-params';
import { errorForDoveadmFailure } from './error-for-doveadm-failure';
import { isRecord } from './is-record';

export function encodeCommandRequest(command: string, params: DoveadmParams, tag: string): Buffer {
  return Buffer.from(JSON.stringify([[command, params, tag]]), 'utf8');
}

/**
 * Doveadm answers most failures with HTTP 200 and an error entry; the HTTP status only speaks
 * for the transport (auth, unreadable body, wrong path) or for a proxy in front of it.
 */
export function errorForHttpStatus(
  answer: HttpAnswer,
  context: RequestContext,
): DoveadmError | undefined {
  const { status } = answer;
  if (status === 200) return undefined;
  const about = describeRequest(context);
  const details = { command: context.command, status, bodyPreview: bodyPreview(answer.body) };
  if (status === 401 || status === 403) {
    return new AuthenticationError(
      `${about}: HTTP ${status} from ${context.endpoint}; check the doveadm password or API key`,
      details,
    );
  }
  if (status === 400) {
    return new BadRequestError(`${about}: HTTP 400: ${details.bodyPreview.trim()}`, details);
  }
  if (status === 404) {
    return new EndpointNotFoundError(
      `${about}: HTTP 404 from ${context.endpoint}; is this the doveadm HTTP listener and path?`,
      details,
    );
  }
  if (status >= 500 && status <= 599) {
    return new HttpServerError(`${about}: HTTP ${status} from ${context.endpoint}`, details);
  }
  return new UnexpectedResponseError(
    `${about}: unexpected HTTP ${status} from ${context.endpoint}: ${JSON.stringify(details.bodyPreview)}`,
    details,
  );
}

/** Parses a JSON answer, or explains what came instead. */
export function parseJsonAnswer(answer: HttpAnswer, context: RequestContext): unknown {
  const statusError = errorForHttpStatus(answer, context);
  if (statusError !== undefined) throw statusError;
  try {
    return JSON.parse(answer.body.toString('utf8'));
  } catch (cause) {
    throw unexpected(answer, context, 'the answer is not JSON', cause);
  }
}

/**
 * Finds the entry answering our tag in `[[type, payload, tag], ...]` and returns its payload,
 * or throws the error it carries.
 */
export function payloadForTag(answer: HttpAnswer, tag: string, context: RequestContext): unknown {
  const entries = parseJsonAnswer(answer, context);
  if (!Array.isArray(entries)) {
    throw unexpected(answer, context, 'the answer is not a JSON array');
  }
  const entry: unknown = entries.find(
    (candidate) => Array.isArray(candidate) && candidate[2] === tag,
  );
  if (!Array.isArray(entry)) {
    throw unexpected(answer, context, `the answer holds no entry for tag ${JSON.stringify(tag)}`);
  }
  const [type, payload] = entry as unknown[];
  if (type === 'doveadmResponse') return payload;
  if (type === 'error' && isRecord(payload) && typeof payload.type === 'string') {
    const exitCode = typeof payload.exitCode === 'number' ? payload.exitCode : undefined;
    throw errorForDoveadmFailure({ type: payload.type, exitCode }, context);
  }
  throw unexpected(answer, context, `unknown answer entry type ${JSON.stringify(type)}`);
}

export function unexpected(
  answer: HttpAnswer,
  context: RequestContext,
  problem: string,
  cause?: unknown,
): UnexpectedResponseError {
  const preview = bodyPreview(answer.body);
  return new UnexpectedResponseError(
    `${describeRequest(context)}: ${problem}; it starts with ${JSON.stringify(preview)}`,
    { command: context.command, status: answer.status, bodyPreview: preview, cause },
  );
}
