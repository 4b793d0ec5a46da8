import { SyncPriority, type SyncReason } from '@dovewarden/shared';

/**
 * IMAP commands that change a mailbox, from the original dovewarden, plus the ones that change
 * what dsync also carries (subscriptions, ACLs, metadata, quota). Dovecot sends cmd_name in
 * upper case, with "UID " before the UID variants.
 */
export const DEFAULT_IMAP_COMMANDS: readonly string[] = [
  'APPEND',
  'COPY',
  'CLOSE',
  'CREATE',
  'DELETE',
  'EXPUNGE',
  'MOVE',
  'RENAME',
  'STORE',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'SETACL',
  'DELETEACL',
  'SETMETADATA',
  'SETQUOTA',
  'UID COPY',
  'UID EXPUNGE',
  'UID MOVE',
  'UID STORE',
];

export interface FilterSettings {
  imapCommands: ReadonlySet<string>;
}

export const DEFAULT_FILTER: FilterSettings = { imapCommands: new Set(DEFAULT_IMAP_COMMANDS) };

export type EventDecision =
  | { kind: 'sync'; user: string; reason: SyncReason; priority: SyncPriority }
  | { kind: 'ignore'; why: string }
  | { kind: 'invalid'; why: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(fields: Record<string, unknown>, key: string): string | undefined {
  const value = fields[key];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Decides what a Dovecot event means for replication. Pure, so the whole filter is unit
 * tested against the events captured from real Dovecot 2.3 and 2.4 servers.
 */
export function classifyEvent(
  body: unknown,
  settings: FilterSettings = DEFAULT_FILTER,
): EventDecision {
  if (!isRecord(body)) return { kind: 'invalid', why: 'body is not a JSON object' };
  const event = body['event'];
  if (typeof event !== 'string' || event === '') {
    return { kind: 'invalid', why: 'missing "event"' };
  }
  const fields = body['fields'];
  if (!isRecord(fields)) return { kind: 'invalid', why: 'missing "fields"' };

  let decision: EventDecision;
  switch (event) {
    case 'imap_command_finished': {
      const command = (stringField(fields, 'cmd_name') ?? '').toUpperCase();
      const state = stringField(fields, 'tagged_reply_state');
      if (state !== 'OK') {
        return { kind: 'ignore', why: `tagged_reply_state is ${state ?? 'missing'}` };
      }
      if (!settings.imapCommands.has(command)) {
        return { kind: 'ignore', why: `command ${command || '(none)'} does not change mail` };
      }
      const mailbox = stringField(fields, 'mailbox');
      decision = {
        kind: 'sync',
        user: '',
        reason:
          mailbox === undefined ? { kind: 'imap', command } : { kind: 'imap', command, mailbox },
        // As the old replicator: new mail is urgent, flag changes and mailbox operations less so.
        priority: command === 'APPEND' ? SyncPriority.High : SyncPriority.Normal,
      };
      break;
    }
    case 'mail_delivery_finished':
      decision = {
        kind: 'sync',
        user: '',
        reason: { kind: 'delivery' },
        priority: SyncPriority.High,
      };
      break;
    default:
      return { kind: 'ignore', why: `event ${event} is not replicated` };
  }

  const user = fields['user'];
  if (typeof user !== 'string' || user.trim() === '') {
    return { kind: 'invalid', why: 'missing or empty "fields.user"' };
  }
  return { ...decision, user };
}
