import {
  describeWithDovecot,
  startDovecotPair,
  waitForConvergence,
  type DovecotPair,
} from '../dovecot';
import { hangGuard } from '../timing';
import {
  addFlags,
  appendMessage,
  closeImap,
  connectImap,
  createMailbox,
  deleteMailbox,
  expungeMessages,
  listSubjects,
  renameMailbox,
} from '.';

describeWithDovecot('2.4')('IMAP helpers against Dovecot 2.4', () => {
  let pair: DovecotPair;

  beforeAll(async () => {
    pair = await startDovecotPair({ version: '2.4', users: ['user1'] });
  }, hangGuard(750).ms);

  afterAll(async () => {
    await pair?.stop();
  });

  it('makes every kind of change, and each one replicates', async () => {
    const { a, b } = pair;
    const imap = await connectImap(a, 'user1');
    try {
      await createMailbox(imap, 'Work');
      await createMailbox(imap, 'Trash-me');
      const id = await appendMessage(imap, 'Work', { subject: 'one' });
      expect(id).toMatch(/^<[0-9a-f]+@dovewarden\.test>$/);
      await appendMessage(imap, 'Work', { subject: 'two' });
      await addFlags(imap, 'Work', '1', ['\\Flagged']);
      await expungeMessages(imap, 'Work', '2');
      await renameMailbox(imap, 'Work', 'Projects');
      await deleteMailbox(imap, 'Trash-me');
      expect(await listSubjects(imap, 'Projects')).toEqual(['one']);
      expect(await listSubjects(imap, 'INBOX')).toEqual([]);
    } finally {
      await closeImap(imap);
    }
    await a.doveadm(['sync', '-u', 'user1', b.dsyncDestination]);
    expect((await waitForConvergence(a, b, ['user1'])).differences).toEqual([]);
    const flags = await b.doveadm([
      '-f',
      'tab',
      'fetch',
      '-u',
      'user1',
      'flags',
      'mailbox',
      'Projects',
      'all',
    ]);
    expect(flags).toContain('\\Flagged');
  });
});
