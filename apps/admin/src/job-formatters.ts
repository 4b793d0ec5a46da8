import { type SyncReason, parseSyncUserJobData } from '@dovewarden/shared';

const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|authorization|state/i;

/** Why the sync was asked for, in a few words. */
export function reasonLabel(reason: SyncReason): string {
  switch (reason.kind) {
    case 'imap':
      return `IMAP ${reason.command}${reason.mailbox === undefined ? '' : ` ${reason.mailbox}`}`;
    case 'pop3':
      return `POP3 ${reason.command}`;
    case 'managesieve':
      return `ManageSieve ${reason.command}`;
    case 'delivery':
      return 'delivery';
    case 'sync-wait':
      return 'delivery waiting for B (sync-wait)';
    case 'event':
      return `event ${reason.name}`;
    case 'background':
      return 'background';
    case 'manual':
      return 'manual';
    case 'verification':
      return 'verification found B different';
  }
}

/**
 * Hides secrets anywhere in a value shown on the board. dsync states count: they are opaque
 * but let anyone who reads them replay a sync position, so the board never shows them.
 */
export function redactForDisplay(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactForDisplay(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      SECRET_KEY.test(key) ? '[redacted]' : redactForDisplay(inner, depth + 1),
    ]),
  );
}

/** The job's title on the board: the user and why, instead of "sync-user". */
export function jobTitle(job: unknown): string {
  const data =
    typeof job === 'object' && job !== null && 'data' in job
      ? parseSyncUserJobData(job.data)
      : undefined;
  if (data === undefined) {
    return typeof job === 'object' && job !== null && 'name' in job ? String(job.name) : 'job';
  }
  return `${data.user} · ${reasonLabel(data.reason)}${data.fullSync === true ? ' · full' : ''}`;
}

/** The job's data on the board, with the change time readable. */
export function jobData(data: unknown): unknown {
  const parsed = parseSyncUserJobData(data);
  if (parsed === undefined) return redactForDisplay(data);
  return {
    user: parsed.user,
    reason: reasonLabel(parsed.reason),
    fullSync: parsed.fullSync === true,
    firstChangeAt: new Date(parsed.requestedAt).toISOString(),
  };
}
