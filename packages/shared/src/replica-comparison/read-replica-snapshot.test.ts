import { NotFoundError } from '@dovewarden/doveadm-client';
import { readReplicaSnapshot, type SnapshotSource } from './read-replica-snapshot';

interface Answers {
  tree: string[];
  subscriptions: string[];
  statuses: Array<Record<'mailbox' | 'messages' | 'uidnext' | 'uidvalidity' | 'guid', string>>;
  messages: Array<Record<'mailbox' | 'uid' | 'guid' | 'flags', string>>;
}

/** What Dovecot 2.4.1 answers after `mailbox create a/b`, two saves to INBOX and a subscribe. */
function settled(): Answers {
  return {
    tree: ['a', 'a/b', 'INBOX'],
    subscriptions: ['INBOX', 'ghost', 'a/b'],
    statuses: [
      { mailbox: 'a/b', messages: '0', uidnext: '1', uidvalidity: '1796511452', guid: 'gab' },
      { mailbox: 'INBOX', messages: '2', uidnext: '3', uidvalidity: '1796511453', guid: 'gin' },
    ],
    messages: [
      { mailbox: 'INBOX', uid: '2', guid: 'm2', flags: '\\Recent' },
      { mailbox: 'INBOX', uid: '1', guid: 'm1', flags: '\\Flagged \\Seen \\Recent $Label1 Junk' },
    ],
  };
}

/**
 * A source answering each read from `reads` in turn (the last one again when they run out).
 * A read is one readMany() with its four commands; an Error fails all four, or only the
 * commands named in `failing`.
 */
function source(
  reads: Array<Answers | Error>,
  failing?: Partial<Record<'tree' | 'subscriptions' | 'statuses' | 'messages', Error>>,
): { source: SnapshotSource; reads: () => number } {
  let read = 0;
  const fake = {
    readMany: (_user: string, queries: Record<string, unknown>) =>
      Promise.resolve().then(() => {
        const answers = reads[Math.min(read, reads.length - 1)];
        read += 1;
        const settle = (name: keyof Answers, key: string): PromiseSettledResult<unknown> => {
          const failure = answers instanceof Error ? answers : failing?.[key as 'tree'];
          if (failure !== undefined) return { status: 'rejected', reason: failure };
          return { status: 'fulfilled', value: (answers as Answers)[name] };
        };
        expect(Object.keys(queries)).toEqual(['tree', 'subscriptions', 'statuses', 'messages']);
        return {
          tree: settle('tree', 'tree'),
          subscriptions: settle('subscriptions', 'subscriptions'),
          statuses: settle('statuses', 'statuses'),
          messages: settle('messages', 'messages'),
        };
      }),
  } as unknown as SnapshotSource;
  return { source: fake, reads: () => read };
}

const expected = {
  folders: [
    {
      name: 'INBOX',
      selectable: true,
      guid: 'gin',
      uidvalidity: 1796511453,
      uidnext: 3,
      messageCount: 2,
      messages: [
        { uid: 1, guid: 'm1', flags: ['$Label1', 'Junk', '\\Flagged', '\\Seen'] },
        { uid: 2, guid: 'm2', flags: [] },
      ],
    },
    { name: 'a', selectable: false },
    {
      name: 'a/b',
      selectable: true,
      guid: 'gab',
      uidvalidity: 1796511452,
      uidnext: 1,
      messageCount: 0,
      messages: [],
    },
  ],
  subscriptions: ['INBOX', 'a/b', 'ghost'],
};

describe('readReplicaSnapshot', () => {
  it('reads the tree, marks a child-only parent, sorts messages and flags, drops \\Recent', async () => {
    await expect(readReplicaSnapshot(source([settled()]).source, 'user1')).resolves.toEqual(
      expected,
    );
  });

  it('reads again when a mailbox vanished between the listing and its lookup (exit 68)', async () => {
    const vanished = new NotFoundError('doveadm mailboxStatus: exit 68', { exitCode: 68 });
    const { source: racing, reads } = source([vanished, vanished, settled()]);

    await expect(readReplicaSnapshot(racing, 'user1', { retryDelayMs: 1 })).resolves.toEqual(
      expected,
    );
    expect(reads()).toBe(3);
  });

  it('reads again when the listing, the status and the messages disagree', async () => {
    const renamed = settled();
    // Listed, then renamed away before the status: no child, so not a parent.
    renamed.tree.push('Old');
    const created = settled();
    created.statuses.push({
      mailbox: 'New',
      messages: '0',
      uidnext: '1',
      uidvalidity: '1',
      guid: 'gn',
    });
    const delivered = settled();
    delivered.messages.push({ mailbox: 'INBOX', uid: '3', guid: 'm3', flags: '' });
    const { source: racing, reads } = source([renamed, created, delivered, settled()]);

    await expect(readReplicaSnapshot(racing, 'user1', { retryDelayMs: 1 })).resolves.toEqual(
      expected,
    );
    expect(reads()).toBe(4);
  });

  it('leaves out an INBOX that is listed but was never created (sdbox)', async () => {
    const unborn = settled();
    unborn.statuses = unborn.statuses.filter((status) => status.mailbox !== 'INBOX');
    unborn.messages = [];
    const { source: sdbox, reads } = source([unborn]);

    const snapshot = await readReplicaSnapshot(sdbox, 'user1');
    expect(snapshot.folders.map((folder) => folder.name)).toEqual(['a', 'a/b']);
    expect(reads()).toBe(1);
  });

  it('takes a read that keeps disagreeing as it is on the last attempt', async () => {
    const childless = settled();
    childless.tree.push('Old');
    const { source: stuck } = source([childless]);

    const snapshot = await readReplicaSnapshot(stuck, 'user1', { attempts: 3, retryDelayMs: 1 });
    expect(snapshot.folders.map((folder) => [folder.name, folder.selectable])).toEqual([
      ['INBOX', true],
      ['Old', false],
      ['a', false],
      ['a/b', true],
    ]);
  });

  it('throws any other failure at once, and exit 68 on the last attempt', async () => {
    const { source: broken, reads } = source([new Error('exit 75')]);
    await expect(readReplicaSnapshot(broken, 'user1')).rejects.toThrow('exit 75');
    expect(reads()).toBe(1);

    const { source: gone } = source([new NotFoundError('exit 68', { exitCode: 68 })]);
    await expect(
      readReplicaSnapshot(gone, 'user1', { attempts: 2, retryDelayMs: 1 }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('asks for the whole read in one readMany with the four commands', async () => {
    const calls: unknown[][] = [];
    const fake = {
      readMany: (...args: unknown[]) => {
        calls.push(args);
        return source([settled()]).source.readMany('user1', args[1] as never);
      },
    } as unknown as SnapshotSource;

    await readReplicaSnapshot(fake, 'user1', { timeoutMs: 5000 });

    expect(calls).toEqual([
      [
        'user1',
        {
          tree: { mailboxList: {} },
          subscriptions: { mailboxList: { subscriptions: true } },
          statuses: {
            mailboxStatus: { fields: ['messages', 'uidnext', 'uidvalidity', 'guid'], mask: '*' },
          },
          messages: { fetch: { fields: ['mailbox', 'uid', 'guid', 'flags'], query: ['all'] } },
        },
        { timeoutMs: 5000 },
      ],
    ]);
  });

  it('reads again when only the status hit exit 68, and throws another failure of the same read', async () => {
    const vanished = new NotFoundError('doveadm mailboxStatus: exit 68', { exitCode: 68 });
    const { source: racing, reads } = source([settled()], { statuses: vanished });
    await expect(
      readReplicaSnapshot(racing, 'user1', { attempts: 3, retryDelayMs: 1 }),
    ).rejects.toBe(vanished);
    expect(reads()).toBe(3);

    const busy = new Error('exit 75');
    const { source: mixed, reads: mixedReads } = source([settled()], {
      statuses: vanished,
      messages: busy,
    });
    await expect(readReplicaSnapshot(mixed, 'user1', { retryDelayMs: 1 })).rejects.toBe(busy);
    expect(mixedReads()).toBe(1);
  });

  it('refuses a UID that is not a number', async () => {
    const odd = settled();
    odd.messages[0] = { mailbox: 'INBOX', uid: 'x', guid: 'm2', flags: '' };
    await expect(readReplicaSnapshot(source([odd]).source, 'user1')).rejects.toThrow('uid="x"');
  });
});
