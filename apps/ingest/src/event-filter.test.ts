import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SyncPriority } from '@dovewarden/shared';
import { classifyEvent } from './event-filter';
import { fetchSetsSeen } from './fetch-sets-seen';
import { changeTime } from './event-time';
import { ingestSettings } from './__tests__/settings';

const FIXTURES = join(__dirname, '..', '..', '..', 'fixtures', 'events');
const settings = ingestSettings();

function imap(cmd: string, state = 'OK', extra: Record<string, unknown> = {}): unknown {
  return {
    event: 'imap_command_finished',
    fields: { user: 'user1', cmd_name: cmd, tagged_reply_state: state, ...extra },
  };
}

const CHANGING = [
  'APPEND',
  'STORE',
  'UID STORE',
  'EXPUNGE',
  'UID EXPUNGE',
  'COPY',
  'UID COPY',
  'MOVE',
  'UID MOVE',
  'CREATE',
  'DELETE',
  'RENAME',
  'CLOSE',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'SETACL',
  'DELETEACL',
  'SETMETADATA',
  'SETQUOTA',
];

describe('classifyEvent', () => {
  it.each(CHANGING)('syncs after %s', (cmd) =>
    expect(classifyEvent(imap(cmd), settings)).toMatchObject({
      kind: 'sync',
      user: 'user1',
      reason: { kind: 'imap', command: cmd },
    }),
  );

  it.each(['SELECT', 'EXAMINE', 'SEARCH', 'NOOP', 'LOGOUT', 'LIST', 'STATUS', 'IDLE'])(
    'ignores read-only %s',
    (cmd) =>
      expect(classifyEvent(imap(cmd), settings)).toMatchObject({
        kind: 'ignore',
        why: 'command-not-replicated',
      }),
  );

  it('ignores commands that failed', () => {
    expect(classifyEvent(imap('APPEND', 'NO'), settings)).toMatchObject({
      kind: 'ignore',
      why: 'reply-not-ok',
    });
    expect(classifyEvent(imap('APPEND', 'BAD'), settings)).toMatchObject({
      kind: 'ignore',
      why: 'reply-not-ok',
    });
  });

  it('gives new mail high priority and other changes normal', () => {
    for (const cmd of ['APPEND', 'COPY', 'UID COPY', 'MOVE', 'UID MOVE']) {
      expect(classifyEvent(imap(cmd), settings)).toMatchObject({ priority: SyncPriority.High });
    }
    for (const cmd of ['STORE', 'EXPUNGE', 'RENAME', 'CREATE']) {
      expect(classifyEvent(imap(cmd), settings)).toMatchObject({ priority: SyncPriority.Normal });
    }
    expect(
      classifyEvent({ event: 'mail_delivery_finished', fields: { user: 'u' } }, settings),
    ).toEqual({
      kind: 'sync',
      user: 'u',
      reason: { kind: 'delivery' },
      priority: SyncPriority.High,
    });
  });

  it('syncs after a FETCH that sets \\Seen, and only then', () => {
    expect(classifyEvent(imap('FETCH', 'OK', { cmd_args: '1 (BODY[])' }), settings)).toMatchObject({
      kind: 'sync',
      priority: SyncPriority.Normal,
    });
    expect(
      classifyEvent(imap('UID FETCH', 'OK', { cmd_args: '5 RFC822' }), settings),
    ).toMatchObject({ kind: 'sync' });
    expect(
      classifyEvent(imap('FETCH', 'OK', { cmd_args: '1 (BODY.PEEK[])' }), settings),
    ).toMatchObject({ kind: 'ignore', why: 'fetch-without-seen' });
    expect(classifyEvent(imap('FETCH', 'NO', { cmd_args: '1 (BODY[])' }), settings)).toMatchObject({
      kind: 'ignore',
      why: 'reply-not-ok',
    });
  });

  it('handles POP3 DELE and ManageSieve script changes', () => {
    expect(
      classifyEvent(
        { event: 'pop3_command_finished', fields: { user: 'p', cmd_name: 'DELE' } },
        settings,
      ),
    ).toMatchObject({ kind: 'sync', reason: { kind: 'pop3', command: 'DELE' } });
    expect(
      classifyEvent(
        { event: 'pop3_command_finished', fields: { user: 'p', cmd_name: 'RETR' } },
        settings,
      ),
    ).toMatchObject({ kind: 'ignore' });
    for (const cmd of ['PUTSCRIPT', 'DELETESCRIPT', 'SETACTIVE', 'RENAMESCRIPT']) {
      expect(
        classifyEvent(
          { event: 'managesieve_command_finished', fields: { user: 's', cmd_name: cmd } },
          settings,
        ),
      ).toMatchObject({ kind: 'sync', reason: { kind: 'managesieve', command: cmd } });
    }
    expect(
      classifyEvent(
        { event: 'managesieve_command_finished', fields: { user: 's', cmd_name: 'GETSCRIPT' } },
        settings,
      ),
    ).toMatchObject({ kind: 'ignore' });
  });

  it('reads the event and command lists from config', () => {
    const narrow = ingestSettings({
      events: 'imap_command_finished',
      'imap-commands': 'append, uid  move',
    });
    expect(classifyEvent(imap('APPEND'), narrow).kind).toBe('sync');
    expect(classifyEvent(imap('UID MOVE'), narrow).kind).toBe('sync');
    expect(classifyEvent(imap('STORE'), narrow).kind).toBe('ignore');
    expect(
      classifyEvent({ event: 'mail_delivery_finished', fields: { user: 'u' } }, narrow),
    ).toMatchObject({ kind: 'ignore', why: 'event-not-replicated' });
    const extra = ingestSettings({ events: 'mail_delivery_finished,mail_expunged' });
    expect(classifyEvent({ event: 'mail_expunged', fields: { user: 'u' } }, extra)).toMatchObject({
      kind: 'sync',
      reason: { kind: 'event', name: 'mail_expunged' },
    });
  });

  it('normalises usernames as configured', () => {
    const delivery = { event: 'mail_delivery_finished', fields: { user: 'User1@Example.COM' } };
    expect(classifyEvent(delivery, settings)).toMatchObject({ user: 'User1@Example.COM' });
    expect(
      classifyEvent(delivery, ingestSettings({ 'username-format': 'localpart,lowercase' })),
    ).toMatchObject({ user: 'user1' });
    expect(
      classifyEvent(delivery, ingestSettings({ 'username-format': 'lowercase' })),
    ).toMatchObject({ user: 'user1@example.com' });
    expect(
      classifyEvent(imap('APPEND'), ingestSettings({ 'username-format': 'domain:example.com' })),
    ).toMatchObject({ user: 'user1@example.com' });
    expect(() => ingestSettings({ 'username-format': 'upper' })).toThrow(
      /DOVEWARDEN_USERNAME_FORMAT/,
    );
  });

  it('rejects bodies that are not events, saying why', () => {
    expect(classifyEvent([], settings)).toMatchObject({ kind: 'invalid', why: 'not-an-object' });
    expect(classifyEvent('x', settings)).toMatchObject({ kind: 'invalid', why: 'not-an-object' });
    expect(classifyEvent({ fields: { user: 'u' } }, settings)).toMatchObject({
      kind: 'invalid',
      detail: 'missing "event"',
    });
    expect(classifyEvent({ event: 'imap_command_finished' }, settings)).toMatchObject({
      kind: 'invalid',
      why: 'missing-fields',
    });
    expect(classifyEvent(imap('APPEND', 'OK', { user: '' }), settings)).toMatchObject({
      kind: 'invalid',
      detail: 'missing or empty "fields.user"',
    });
    expect(classifyEvent(imap('APPEND', 'OK', { user: 42 }), settings)).toMatchObject({
      kind: 'invalid',
      why: 'missing-user',
    });
    expect(classifyEvent(imap('APPEND', 'OK', { user: 'a'.repeat(300) }), settings)).toMatchObject({
      kind: 'invalid',
      why: 'invalid-user',
    });
    expect(classifyEvent(imap('APPEND', 'OK', { user: 'a\nb' }), settings)).toMatchObject({
      kind: 'invalid',
      why: 'invalid-user',
    });
  });

  it.each(['dovecot-2.4.1.jsonl', 'dovecot-2.3.19.jsonl'])(
    'handles every captured event of %s',
    (file) => {
      const events = readFileSync(join(FIXTURES, file), 'utf8')
        .trim()
        .split('\n')
        .map(
          (line) =>
            JSON.parse(line) as {
              event: string;
              fields: { cmd_name?: string; tagged_reply_state?: string; user: string };
            },
        );
      expect(events.length).toBeGreaterThan(0);
      for (const event of events) {
        const decision = classifyEvent(event, settings);
        const changes =
          event.event === 'mail_delivery_finished' ||
          (event.fields.tagged_reply_state === 'OK' &&
            CHANGING.includes(event.fields.cmd_name ?? ''));
        expect({ cmd: event.fields.cmd_name, kind: decision.kind }).toEqual({
          cmd: event.fields.cmd_name,
          kind: changes ? 'sync' : 'ignore',
        });
        if (decision.kind === 'sync') expect(decision.user).toBe(event.fields.user);
      }
    },
  );
});

describe('fetchSetsSeen', () => {
  it.each([
    '1 (BODY[])',
    '1:* BODY[TEXT]',
    '2 (FLAGS BODY[HEADER.FIELDS (SUBJECT)])',
    '1 RFC822',
    '1 (RFC822.TEXT)',
    '3 (UID BINARY[1])',
    '1 body[]',
  ])('%s sets \\Seen', (args) => expect(fetchSetsSeen(args)).toBe(true));
  it.each([
    '1 (BODY.PEEK[])',
    '1 (FLAGS)',
    '1 (RFC822.HEADER)',
    '1 RFC822.SIZE',
    '1 (BODY)',
    '1 BODYSTRUCTURE',
    '1 (ENVELOPE UID)',
    '1 (BINARY.PEEK[1])',
    '1 (BODY.PEEK[HEADER.FIELDS (BODY[])])',
    '',
  ])('%s does not', (args) => expect(fetchSetsSeen(args)).toBe(false));
});

describe('changeTime', () => {
  const now = Date.parse('2026-11-28T17:02:42.000Z');
  it('reads RFC 3339 and unix times', () => {
    expect(changeTime('2026-11-28T17:02:41.978075Z', now)).toBe(
      Date.parse('2026-11-28T17:02:41.978Z'),
    );
    expect(changeTime('1795885361.5', 1795885362000)).toBe(1795885361500);
    expect(changeTime(1795885361.5, 1795885362000)).toBe(1795885361500);
  });
  it('falls back to the receive time when the time is missing or absurd', () => {
    expect(changeTime(undefined, now)).toBe(now);
    expect(changeTime('yesterday', now)).toBe(now);
    expect(changeTime('2030-01-01T00:00:00Z', now)).toBe(now);
    expect(changeTime('2001-01-01T00:00:00Z', now)).toBe(now);
  });
});
