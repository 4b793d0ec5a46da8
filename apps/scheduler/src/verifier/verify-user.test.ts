import {
  ConnectionError,
  NotFoundError,
  UnexpectedResponseError,
  UnknownUserError,
} from '@dovewarden/doveadm-client';
import type { SnapshotSource } from '@dovewarden/shared';
import { verifyUser } from './verify-user';

type Message = { uid: number; guid: string; flags: string };

/** A server holding one INBOX, answering readMany as Doveadm does; counts its reads. */
function server(messages: Message[], fail?: () => Error) {
  const reads: string[][] = [];
  /** HIGHESTMODSEQ: a test bumps it to change the mailbox. */
  const modseq = { value: 1 };
  const source: SnapshotSource = {
    readMany: ((_user: string, queries: Record<string, unknown>) => {
      reads.push(Object.keys(queries));
      if (fail !== undefined) return Promise.reject(fail());
      const value: Record<string, unknown> = {
        tree: ['INBOX'],
        subscriptions: ['INBOX'],
        statuses: [
          {
            mailbox: 'INBOX',
            highestmodseq: String(modseq.value),
            messages: String(messages.length),
            uidnext: String(Math.max(0, ...messages.map((m) => m.uid)) + 1),
            uidvalidity: '1',
            guid: 'box',
          },
        ],
        messages: messages.map((m) => ({
          mailbox: 'INBOX',
          uid: String(m.uid),
          guid: m.guid,
          flags: m.flags,
        })),
      };
      return Promise.resolve(
        Object.fromEntries(
          Object.keys(queries).map((name) => [name, { status: 'fulfilled', value: value[name] }]),
        ),
      );
    }) as SnapshotSource['readMany'],
  };
  return { source, reads, modseq };
}

/** An in-memory digest store, as the ledger keeps them. */
function digestStore() {
  const stored = new Map<string, number>();
  return {
    equalDigest: (user: string) => Promise.resolve(stored.get(user)),
    storeEqualDigest: (user: string, digest: number) => {
      stored.set(user, digest);
      return Promise.resolve();
    },
  };
}

const MAIL: Message[] = [
  { uid: 1, guid: 'g1', flags: '\\Seen' },
  { uid: 2, guid: 'g2', flags: '' },
];
const deps = (a: SnapshotSource, b: SnapshotSource, samplePercent = 0) => ({
  source: a,
  replica: b,
  budget: () => Promise.resolve(),
  samplePercent,
  sampleSeed: 'seed',
});

describe('verifyUser', () => {
  it('reads the message lists again only when a side changed since they were last equal', async () => {
    const a = server(MAIL);
    const b = server(MAIL);
    const digests = digestStore();
    const check = () => verifyUser({ ...deps(a.source, b.source), digests }, 'u');
    const STATUS = ['tree', 'subscriptions', 'statuses'];
    const FULL = [...STATUS, 'messages'];
    // First: nothing stored, so the lists are compared, and the digest stored.
    expect(await check()).toEqual({ result: 'equal', messagesCompared: true });
    expect(await check()).toEqual({ result: 'equal', messagesCompared: false });
    expect(a.reads).toEqual([STATUS, FULL, STATUS]);
    // A flag changed on B bumps B's HIGHESTMODSEQ: read again, and found.
    b.modseq.value += 1;
    const flagged = server([{ ...MAIL[0], flags: '\\Seen \\Flagged' }, MAIL[1]]);
    flagged.modseq.value = b.modseq.value;
    expect(await verifyUser({ ...deps(a.source, flagged.source), digests }, 'u')).toMatchObject({
      result: 'differs',
      differences: [{ kind: 'flags' }],
    });
  });

  it('without a stored digest, compares the message lists every time', async () => {
    const b = server([{ ...MAIL[0], flags: '' }, MAIL[1]]);
    expect(await verifyUser(deps(server(MAIL).source, b.source), 'u')).toMatchObject({
      result: 'differs',
      differences: [{ kind: 'flags' }],
      replicaOnlyMail: false,
    });
  });

  it('tells mail on B alone (a GUID A has nowhere) from a UID conflict of A’s own mail', async () => {
    const bOnly = server([...MAIL, { uid: 3, guid: 'delivered-to-b', flags: '' }]);
    expect(await verifyUser(deps(server(MAIL).source, bOnly.source), 'u')).toMatchObject({
      result: 'differs',
      replicaOnlyMail: true,
    });
    const swapped = server([
      { uid: 1, guid: 'g2', flags: '' },
      { uid: 2, guid: 'g1', flags: '\\Seen' },
    ]);
    const found = await verifyUser(deps(server(MAIL).source, swapped.source, 100), 'u');
    expect(found).toMatchObject({ result: 'differs', replicaOnlyMail: false });
  });

  it('makes a result of each read failure, never a divergence or a throw', async () => {
    const cases: [Error, string][] = [
      new ConnectionError('refused', 'refused'),
      new UnknownUserError('no such user', { exitCode: 67 }),
      new NotFoundError('vanished', { exitCode: 68 }),
      new UnexpectedResponseError('cut short', { command: 'fetch', bodyPreview: '' }),
    ].map((error, i) => [error, ['unreachable', 'unknown-user', 'vanished', 'error'][i] ?? '']);
    for (const [error, result] of cases) {
      const down = server(MAIL, () => error);
      expect(await verifyUser(deps(server(MAIL).source, down.source), 'u')).toMatchObject({
        result,
      });
    }
  });
});
