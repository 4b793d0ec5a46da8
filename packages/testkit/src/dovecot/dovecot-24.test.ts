import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { appendMessage, buildMessage, closeImap, connectImap, listSubjects } from '../imap';
import { deliverLmtp } from '../lmtp';
import { describeWithDovecot } from './availability';
import { hangGuard } from '../timing';
import { compareMailboxes, waitForConvergence } from './compare-mailboxes';
import { startDovecotPair, type DovecotPair } from './dovecot-pair';
import { EventSink } from './event-sink';
import { isAlive } from './processes';

describeWithDovecot('2.4')('Dovecot 2.4 pair', () => {
  let pair: DovecotPair;
  let sink: EventSink;

  beforeAll(async () => {
    sink = await EventSink.start();
    const t0 = performance.now();
    pair = await startDovecotPair({
      version: '2.4',
      users: ['user1', 'user2', 'user3'],
      eventsUrl: sink.url,
    });
    console.log(`2.4 pair started in ${Math.round(performance.now() - t0)} ms`);
  }, hangGuard(750).ms);

  afterAll(async () => {
    await pair?.stop();
    await sink?.close();
  });

  it('reaches B through A doveadm sync, and compareMailboxes sees the difference until then', async () => {
    const { a, b } = pair;
    const imap = await connectImap(a, 'user1');
    await appendMessage(imap, 'INBOX', { subject: 'first' });
    await closeImap(imap);

    const before = await compareMailboxes(a, b, 'user1');
    expect(before.equal).toBe(false);
    expect(before.differences).toContain('user1 INBOX: folder on A, missing on B');
    // Comparing must not have touched B: its user1 is still unborn.
    expect(b.hasHome('user1')).toBe(false);

    const t0 = performance.now();
    await a.doveadm(['sync', '-u', 'user1', b.dsyncDestination]);
    console.log(`2.4 doveadm sync (CLI, 1 message) took ${Math.round(performance.now() - t0)} ms`);

    expect(await compareMailboxes(a, b, 'user1')).toEqual({ equal: true, differences: [] });
    const onB = await connectImap(b, 'user1');
    expect(await listSubjects(onB, 'INBOX')).toEqual(['first']);
    await closeImap(onB);
  });

  it('receives the APPEND event that Dovecot A posts to eventsUrl', async () => {
    const imap = await connectImap(pair.a, 'user2');
    await appendMessage(imap, 'INBOX', { subject: 'evented' });
    await closeImap(imap);
    const event = await sink.waitFor(
      (e) => e.event === 'imap_command_finished' && e.fields.user === 'user2',
    );
    expect(event.fields).toMatchObject({
      cmd_name: 'APPEND',
      tagged_reply_state: 'OK',
      mailbox: 'INBOX',
    });
    expect(sink.malformed).toEqual([]);
  });

  it('serves the Doveadm HTTP API, whose sync reaches B with the shared password', async () => {
    const { a, b } = pair;
    const t0 = performance.now();
    const response = await fetch(`${a.doveadmHttpUrl}/doveadm/v1`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`doveadm:${a.doveadmPassword}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify([
        ['sync', { user: 'user2', destination: [b.dsyncDestination], state: '' }, 't1'],
      ]),
    });
    const body: unknown = await response.json();
    console.log(`2.4 sync over the HTTP API took ${Math.round(performance.now() - t0)} ms`);
    expect(body).toEqual([['doveadmResponse', [{ state: expect.any(String) as unknown }], 't1']]);
    expect((await compareMailboxes(a, b, 'user2')).differences).toEqual([]);
  });

  it('delivers over LMTP, which A reports as mail_delivery_finished', async () => {
    const { raw, messageId } = buildMessage({
      subject: 'by lmtp',
      body: '.leading dot\nsecond line',
      to: 'user3@example.com',
    });
    await deliverLmtp(pair.a, 'user3@example.com', raw);
    const imap = await connectImap(pair.a, 'user3');
    expect(await listSubjects(imap, 'INBOX')).toEqual(['by lmtp']);
    await closeImap(imap);
    const event = await sink.waitFor((e) => e.event === 'mail_delivery_finished');
    expect(event.fields.message_id).toBe(messageId);

    await pair.a.doveadm(['sync', '-u', 'user3', pair.b.dsyncDestination]);
    expect((await waitForConvergence(pair.a, pair.b, ['user1', 'user3'])).differences).toEqual([]);
  });

  it('rejects an LMTP recipient that does not exist, naming the stage', async () => {
    await expect(
      deliverLmtp(pair.a, 'nobody@example.com', 'Subject: x\r\n\r\nx\r\n'),
    ).rejects.toMatchObject({
      name: 'LmtpError',
      code: 'LMTP_REJECTED',
      stage: 'RCPT TO',
    });
  });

  it('stops without leaving a process or a folder, and a second stop is harmless', async () => {
    const { a, b } = pair;
    expect(a.logProblems()).toEqual([]);
    expect(b.logProblems()).toEqual([]);
    const pids = [...a.processes(), ...b.processes()];
    expect(pids.length).toBeGreaterThan(4);
    const t0 = performance.now();
    await pair.stop();
    console.log(`2.4 pair stopped in ${Math.round(performance.now() - t0)} ms`);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(a.processes()).toEqual([]);
    expect(fs.existsSync(a.hostDir)).toBe(false);
    expect(fs.existsSync(b.hostDir)).toBe(false);
    expect(a.readLog()).toMatch(/Killed with signal 15/);
    await pair.stop();
  });
});

describeWithDovecot('2.4')('Dovecot 2.4 pair on maildir', () => {
  it('syncs and compares maildir users too', async () => {
    const pair = await startDovecotPair({
      version: '2.4',
      users: ['user1'],
      mailDriver: 'maildir',
    });
    try {
      const imap = await connectImap(pair.a, 'user1');
      await appendMessage(imap, 'INBOX', { subject: 'on maildir' });
      await closeImap(imap);
      expect((await compareMailboxes(pair.a, pair.b, 'user1')).equal).toBe(false);
      await pair.a.doveadm(['sync', '-u', 'user1', pair.b.dsyncDestination]);
      expect((await waitForConvergence(pair.a, pair.b, ['user1'])).differences).toEqual([]);
      expect(fs.existsSync(`${pair.b.hostDir}/home/user1/Maildir`)).toBe(true);
    } finally {
      await pair.stop();
    }
  });
});
