import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { addFlags, appendMessage, closeImap, connectImap, createMailbox } from '../imap';
import { describeWithDovecot } from './availability';
import { hangGuard } from '../timing';
import { compareMailboxes } from './compare-mailboxes';
import { startDovecotPair, type DovecotPair } from './dovecot-pair';
import { EventSink } from './event-sink';
import { isAlive } from './processes';

describeWithDovecot('2.3')('Dovecot 2.3 pair', () => {
  let pair: DovecotPair;
  let sink: EventSink;

  beforeAll(async () => {
    sink = await EventSink.start();
    const t0 = performance.now();
    pair = await startDovecotPair({
      version: '2.3',
      users: ['user1', { name: 'user2', password: 'other' }],
      eventsUrl: sink.url,
    });
    console.log(`2.3 pair started in ${Math.round(performance.now() - t0)} ms`);
  }, hangGuard(750).ms);

  afterAll(async () => {
    await pair?.stop();
    await sink?.close();
  });

  it('reaches B through A doveadm sync, and compareMailboxes sees the difference until then', async () => {
    const { a, b } = pair;
    const imap = await connectImap(a, 'user1');
    await createMailbox(imap, 'Archive');
    await appendMessage(imap, 'Archive', { subject: 'archived' });
    await appendMessage(imap, 'INBOX', { subject: 'first' });
    await closeImap(imap);

    const before = await compareMailboxes(a, b, 'user1');
    expect(before.equal).toBe(false);
    expect(b.hasHome('user1')).toBe(false);

    const t0 = performance.now();
    await a.doveadm(['sync', '-u', 'user1', b.dsyncDestination]);
    console.log(
      `2.3 doveadm sync (CLI, 2 mailboxes) took ${Math.round(performance.now() - t0)} ms`,
    );
    expect(await compareMailboxes(a, b, 'user1')).toEqual({ equal: true, differences: [] });

    // One more message on A is a difference again, down to its UID; so is a flag. Both read
    // through 2.3's Doveadm HTTP API, which answers like 2.4's.
    const again = await connectImap(a, 'user1');
    await appendMessage(again, 'INBOX', { subject: 'second' });
    await addFlags(again, 'Archive', '1', ['\\Flagged']);
    await closeImap(again);
    const after = await compareMailboxes(a, b, 'user1');
    expect(after.differences).toEqual([
      'user1 Archive: UID 1 flags: \\Flagged only on A',
      'user1 INBOX: uidnext A=3 B=2',
      'user1 INBOX: messages A=2 B=1',
      expect.stringMatching(/^user1 INBOX: UID 2 \(GUID \S+\) missing on B$/),
    ]);
  });

  it('uses per-user passwords and exports events with the 2.3 exporter syntax', async () => {
    const imap = await connectImap(pair.a, 'user2');
    await appendMessage(imap, 'INBOX', { subject: 'evented' });
    await closeImap(imap);
    const event = await sink.waitFor(
      (e) => e.event === 'imap_command_finished' && e.fields.user === 'user2',
    );
    expect(event.fields).toMatchObject({ cmd_name: 'APPEND', tagged_reply_state: 'OK' });
    await expect(connectImap(pair.a, 'user2', 'secret')).rejects.toThrow();
  });

  it('stops without leaving a process or a folder', async () => {
    const { a, b } = pair;
    expect([...a.logProblems(), ...b.logProblems()]).toEqual([]);
    const pids = [...a.processes(), ...b.processes()];
    expect(pids.length).toBeGreaterThan(4);
    const t0 = performance.now();
    await pair.stop();
    console.log(`2.3 pair stopped in ${Math.round(performance.now() - t0)} ms`);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(fs.existsSync(a.hostDir)).toBe(false);
    await pair.stop();
  });
});
