import {
  type IngestSettings,
  SyncPriority,
  type SyncReason,
  normaliseUsername,
  usernameProblem,
} from '@dovewarden/shared';
import { fetchSetsSeen } from './fetch-sets-seen';

/** Why an event was filtered out; a bounded set, since it becomes a metric label. */
export type IgnoreReason =
  'event-not-replicated' | 'reply-not-ok' | 'command-not-replicated' | 'fetch-without-seen';

/** Why a body was rejected with 400. */
export type InvalidReason =
  'not-an-object' | 'missing-event' | 'missing-fields' | 'missing-user' | 'invalid-user';

/** Changes after which one dsync leaves the replica behind; see SyncUserJobData.secondPass. */
export function needsSecondPass(reason: SyncReason): boolean {
  return reason.kind === 'imap' && reason.command === 'RENAME';
}

export type EventDecision =
  | { kind: 'sync'; user: string; reason: SyncReason; priority: SyncPriority }
  | { kind: 'ignore'; why: IgnoreReason; detail: string }
  | { kind: 'invalid'; why: InvalidReason; detail: string };

export type FilterSettings = Pick<
  IngestSettings,
  'events' | 'imapCommands' | 'pop3Commands' | 'managesieveCommands' | 'usernameFormat'
>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(fields: Record<string, unknown>, key: string): string | undefined {
  const value = fields[key];
  return typeof value === 'string' ? value : undefined;
}

/** New mail is urgent, as under the old replicator; flags, expunges and mailbox changes less so. */
const NEW_MAIL_COMMANDS = new Set(['APPEND', 'COPY', 'UID COPY', 'MOVE', 'UID MOVE']);

type Trigger =
  { reason: SyncReason; priority: SyncPriority } | { ignore: IgnoreReason; detail: string };

function imapTrigger(fields: Record<string, unknown>, settings: FilterSettings): Trigger {
  const command = (stringField(fields, 'cmd_name') ?? '').toUpperCase();
  const state = stringField(fields, 'tagged_reply_state');
  if (state !== 'OK')
    return { ignore: 'reply-not-ok', detail: `tagged_reply_state ${state ?? 'missing'}` };
  const mailbox = stringField(fields, 'mailbox');
  const reason: SyncReason =
    mailbox === undefined ? { kind: 'imap', command } : { kind: 'imap', command, mailbox };
  if (command === 'FETCH' || command === 'UID FETCH') {
    return fetchSetsSeen(stringField(fields, 'cmd_args') ?? '')
      ? { reason, priority: SyncPriority.Normal }
      : { ignore: 'fetch-without-seen', detail: `${command} does not set \\Seen` };
  }
  if (!settings.imapCommands.has(command)) {
    return { ignore: 'command-not-replicated', detail: `IMAP ${command || '(none)'}` };
  }
  return {
    reason,
    priority: NEW_MAIL_COMMANDS.has(command) ? SyncPriority.High : SyncPriority.Normal,
  };
}

function commandTrigger(
  protocol: 'pop3' | 'managesieve',
  fields: Record<string, unknown>,
  commands: ReadonlySet<string>,
): Trigger {
  const command = (stringField(fields, 'cmd_name') ?? '').toUpperCase();
  // pop3 and managesieve events carry the reply state under the same name as IMAP's when
  // they carry one at all; only a reply that says otherwise filters the event out.
  const state = stringField(fields, 'tagged_reply_state') ?? stringField(fields, 'reply_state');
  if (state !== undefined && state !== 'OK' && state !== '+OK') {
    return { ignore: 'reply-not-ok', detail: `reply state ${state}` };
  }
  if (!commands.has(command)) {
    return { ignore: 'command-not-replicated', detail: `${protocol} ${command || '(none)'}` };
  }
  return { reason: { kind: protocol, command }, priority: SyncPriority.Normal };
}

/**
 * Decides what a Dovecot event means for replication. Pure, so the whole filter is unit
 * tested against the events captured from real Dovecot 2.3 and 2.4 servers.
 */
export function classifyEvent(body: unknown, settings: FilterSettings): EventDecision {
  if (!isRecord(body))
    return { kind: 'invalid', why: 'not-an-object', detail: 'body is not a JSON object' };
  const event = body['event'];
  if (typeof event !== 'string' || event === '') {
    return { kind: 'invalid', why: 'missing-event', detail: 'missing "event"' };
  }
  const fields = body['fields'];
  if (!isRecord(fields))
    return { kind: 'invalid', why: 'missing-fields', detail: 'missing "fields"' };
  if (!settings.events.has(event)) {
    return { kind: 'ignore', why: 'event-not-replicated', detail: `event ${event}` };
  }

  let trigger: Trigger;
  switch (event) {
    case 'imap_command_finished':
      trigger = imapTrigger(fields, settings);
      break;
    case 'pop3_command_finished':
      trigger = commandTrigger('pop3', fields, settings.pop3Commands);
      break;
    case 'managesieve_command_finished':
      trigger = commandTrigger('managesieve', fields, settings.managesieveCommands);
      break;
    case 'mail_delivery_finished':
      trigger = { reason: { kind: 'delivery' }, priority: SyncPriority.High };
      break;
    default:
      // An event an operator added to DOVEWARDEN_EVENTS: it names a user whose mail changed.
      trigger = { reason: { kind: 'event', name: event }, priority: SyncPriority.Normal };
  }
  if ('ignore' in trigger) return { kind: 'ignore', why: trigger.ignore, detail: trigger.detail };

  const rawUser = fields['user'];
  const user =
    typeof rawUser === 'string' ? normaliseUsername(rawUser, settings.usernameFormat) : '';
  if (user === '')
    return { kind: 'invalid', why: 'missing-user', detail: 'missing or empty "fields.user"' };
  const problem = usernameProblem(user);
  if (problem !== undefined) {
    return {
      kind: 'invalid',
      why: 'invalid-user',
      detail: `"fields.user" is ${problem.replace(/-/g, ' ')}`,
    };
  }
  return { kind: 'sync', user, reason: trigger.reason, priority: trigger.priority };
}
