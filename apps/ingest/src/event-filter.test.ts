import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SyncPriority } from '@dovewarden/shared';
import { classifyEvent } from './event-filter';

const FIXTURES = join(__dirname, '..', '..', '..', 'fixtures', 'events');

function imap(cmd: string, state = 'OK', extra: Record<string, unknown> = {}): unknown {
  return {
    event: 'imap_command_finished',
    fields: { user: 'user1', cmd_name: cmd, tagged_reply_state: state, ...extra },
  };
}

describe('classifyEvent', () => {
  it.each([
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
  ])('syncs after %s', (cmd) =>
    expect(classifyEvent(imap(cmd))).toMatchObject({
      kind: 'sync',
      user: 'user1',
      reason: { kind: 'imap', command: cmd },
    }),
  );

  it.each(['SELECT', 'SEARCH', 'NOOP', 'LOGOUT', 'FETCH', 'LIST'])('ignores read-only %s', (cmd) =>
    expect(classifyEvent(imap(cmd)).kind).toBe('ignore'),
  );

  it('ignores commands that failed', () => {
    expect(classifyEvent(imap('APPEND', 'NO')).kind).toBe('ignore');
    expect(classifyEvent(imap('APPEND', 'BAD')).kind).toBe('ignore');
  });

  it('syncs after a delivery, with high priority', () => {
    expect(classifyEvent({ event: 'mail_delivery_finished', fields: { user: 'user2' } })).toEqual({
      kind: 'sync',
      user: 'user2',
      reason: { kind: 'delivery' },
      priority: SyncPriority.High,
    });
  });

  it('rejects bodies that are not events', () => {
    expect(classifyEvent([])).toMatchObject({ kind: 'invalid' });
    expect(classifyEvent('x')).toMatchObject({ kind: 'invalid' });
    expect(classifyEvent({ fields: { user: 'u' } })).toMatchObject({
      kind: 'invalid',
      why: 'missing "event"',
    });
    expect(classifyEvent({ event: 'imap_command_finished' })).toMatchObject({ kind: 'invalid' });
    expect(classifyEvent(imap('APPEND', 'OK', { user: '' }))).toMatchObject({
      kind: 'invalid',
      why: 'missing or empty "fields.user"',
    });
    expect(classifyEvent(imap('APPEND', 'OK', { user: 42 }))).toMatchObject({ kind: 'invalid' });
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
        const decision = classifyEvent(event);
        const changes =
          event.event === 'mail_delivery_finished' ||
          (event.fields.tagged_reply_state === 'OK' &&
            [
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
            ].includes(event.fields.cmd_name ?? ''));
        expect({ cmd: event.fields.cmd_name, kind: decision.kind }).toEqual({
          cmd: event.fields.cmd_name,
          kind: changes ? 'sync' : 'ignore',
        });
        if (decision.kind === 'sync') expect(decision.user).toBe(event.fields.user);
      }
    },
  );
});
