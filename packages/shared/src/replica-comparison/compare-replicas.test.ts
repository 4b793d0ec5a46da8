import { compareReplicas } from './compare-replicas';
import type { ReplicaDifferenceKind } from './replica-difference';
import {
  emptySnapshot,
  type ReplicaMailbox,
  type ReplicaMessage,
  type ReplicaSnapshot,
} from './replica-snapshot';

function mailbox(
  name: string,
  messages: ReplicaMessage[] = [],
  over: Partial<ReplicaMailbox> = {},
): ReplicaMailbox {
  return {
    name,
    selectable: true,
    guid: `guid-${name}`,
    uidvalidity: 100,
    uidnext: (messages.at(-1)?.uid ?? 0) + 1,
    messageCount: messages.length,
    messages,
    ...over,
  };
}

const m = (uid: number, guid: string, ...flags: string[]): ReplicaMessage => ({ uid, guid, flags });

/** A user with an INBOX of two messages, a `\Noselect` parent `a` of `a/b`, and subscriptions. */
function primary(): ReplicaSnapshot {
  return {
    folders: [
      mailbox('INBOX', [m(1, 'g1', '\\Seen'), m(2, 'g2', '$Label1', '\\Flagged')]),
      { name: 'a', selectable: false },
      mailbox('a/b'),
    ],
    subscriptions: ['INBOX', 'a/b'],
  };
}

const kinds = (a: ReplicaSnapshot, b: ReplicaSnapshot): ReplicaDifferenceKind[] =>
  compareReplicas('user1', a, b).map((difference) => difference.kind);

describe('compareReplicas', () => {
  it('finds nothing when B is A', () => {
    expect(compareReplicas('user1', primary(), primary())).toEqual([]);
    expect(compareReplicas('user1', emptySnapshot(), emptySnapshot())).toEqual([]);
  });

  it('reports a folder missing on B, and one only on B', () => {
    const b = primary();
    b.folders = b.folders.filter((folder) => folder.name !== 'a/b' && folder.name !== 'a');
    b.folders.push(mailbox('Trash'));

    expect(compareReplicas('user1', primary(), b)).toEqual([
      // Names in code-unit order, as IMAP servers do not agree on any other.
      { kind: 'folder-extra', text: 'user1 Trash: folder only on B' },
      { kind: 'folder-missing', text: 'user1 a: \\Noselect parent on A, missing on B' },
      { kind: 'folder-missing', text: 'user1 a/b: folder on A, missing on B' },
    ]);
  });

  it('tells a mailbox from a bare parent of the same name', () => {
    const b = primary();
    b.folders[1] = mailbox('a');
    const a = primary();
    a.folders[0] = { name: 'INBOX', selectable: false };

    expect(compareReplicas('user1', a, b)).toEqual([
      { kind: 'folder-extra', text: 'user1 INBOX: mailbox on B, only a \\Noselect parent on A' },
      { kind: 'folder-extra', text: 'user1 a: mailbox on B, only a \\Noselect parent on A' },
    ]);
    expect(compareReplicas('user1', b, a).map((d) => d.kind)).toEqual([
      'folder-missing',
      'folder-missing',
    ]);
  });

  it('reports every folder of A when B has nothing for the user', () => {
    expect(kinds(primary(), emptySnapshot())).toEqual([
      'folder-missing',
      'folder-missing',
      'folder-missing',
      'subscription-missing',
      'subscription-missing',
    ]);
  });

  it('compares the mailbox GUID, UIDVALIDITY, UIDNEXT and message count', () => {
    const b = primary();
    b.folders[2] = mailbox('a/b', [], {
      guid: 'other',
      uidvalidity: 7,
      uidnext: 5,
      messageCount: 1,
    });

    expect(compareReplicas('user1', primary(), b)).toEqual([
      { kind: 'mailbox-guid', text: 'user1 a/b: mailbox GUID A=guid-a/b B=other' },
      { kind: 'uidvalidity', text: 'user1 a/b: uidvalidity A=100 B=7' },
      { kind: 'uidnext', text: 'user1 a/b: uidnext A=1 B=5' },
      { kind: 'message-count', text: 'user1 a/b: messages A=0 B=1' },
    ]);
  });

  it('compares message by message: missing, extra, another GUID under the same UID', () => {
    const a = primary();
    a.folders[0] = mailbox('INBOX', [m(1, 'g1'), m(2, 'g2'), m(3, 'g3')]);
    const b = primary();
    // Same count, same UIDNEXT: only the UIDs tell.
    b.folders[0] = mailbox('INBOX', [m(1, 'g1'), m(3, 'gX'), m(4, 'g4')], { uidnext: 4 });

    expect(compareReplicas('user1', a, b)).toEqual([
      { kind: 'message-missing', text: 'user1 INBOX: UID 2 (GUID g2) missing on B' },
      { kind: 'uid-guid', text: 'user1 INBOX: UID 3 holds GUID g3 on A, gX on B' },
      { kind: 'message-extra', text: 'user1 INBOX: UID 4 (GUID g4) only on B' },
    ]);
  });

  it('names the flags and keywords that differ', () => {
    const b = primary();
    b.folders[0] = mailbox('INBOX', [m(1, 'g1', '\\Seen'), m(2, 'g2', '$Junk', '\\Flagged')]);

    expect(compareReplicas('user1', primary(), b)).toEqual([
      { kind: 'flags', text: 'user1 INBOX: UID 2 flags: $Label1 only on A, $Junk only on B' },
    ]);
    const unseen = primary();
    unseen.folders[0] = mailbox('INBOX', [m(1, 'g1'), m(2, 'g2', '$Label1', '\\Flagged')]);
    expect(compareReplicas('user1', primary(), unseen)).toEqual([
      { kind: 'flags', text: 'user1 INBOX: UID 1 flags: \\Seen only on A' },
    ]);
  });

  it('compares subscriptions, also of names that are no folder', () => {
    const b = primary();
    b.subscriptions = ['INBOX', 'ghost'];

    expect(compareReplicas('user1', primary(), b)).toEqual([
      { kind: 'subscription-missing', text: 'user1 a/b: subscribed on A, not on B' },
      { kind: 'subscription-extra', text: 'user1 ghost: subscribed on B, not on A' },
    ]);
  });

  it('starts every line with the user, for callers that compare many', () => {
    const lines = compareReplicas('me@example.org', primary(), emptySnapshot());
    expect(lines.every((d) => d.text.split(/[ :]/)[0] === 'me@example.org')).toBe(true);
  });
});
