import type { ReplicaDifference, ReplicaDifferenceKind } from './replica-difference';
import type {
  ReplicaFolder,
  ReplicaMailbox,
  ReplicaMessage,
  ReplicaSnapshot,
} from './replica-snapshot';

/**
 * Every way replica B differs from primary A for one user: the folder tree (`\Noselect`
 * parents included), each mailbox's GUID, UIDVALIDITY, UIDNEXT and message count, which
 * message GUID each UID holds and its flags and keywords, and the subscriptions. An empty list
 * means B is A, exactly as far as replication must preserve.
 *
 * Not highestmodseq: it differs between replicas whose contents match. Pure: both snapshots
 * are read beforehand, so a caller decides when and how often to read.
 */
export function compareReplicas(
  user: string,
  a: ReplicaSnapshot,
  b: ReplicaSnapshot,
): ReplicaDifference[] {
  const differences: ReplicaDifference[] = [];
  const say = (kind: ReplicaDifferenceKind, mailbox: string, what: string): void => {
    differences.push({ kind, text: `${user} ${mailbox}: ${what}` });
  };
  const onA = byName(a.folders);
  const onB = byName(b.folders);
  for (const name of sortedUnion(onA.keys(), onB.keys())) {
    compareFolder(name, onA.get(name), onB.get(name), say);
  }
  const subscribedOnB = new Set(b.subscriptions);
  const subscribedOnA = new Set(a.subscriptions);
  for (const name of sortedUnion(subscribedOnA, subscribedOnB)) {
    if (!subscribedOnB.has(name)) say('subscription-missing', name, 'subscribed on A, not on B');
    else if (!subscribedOnA.has(name)) say('subscription-extra', name, 'subscribed on B, not on A');
  }
  return differences;
}

type Say = (kind: ReplicaDifferenceKind, mailbox: string, what: string) => void;

function compareFolder(
  name: string,
  a: ReplicaFolder | undefined,
  b: ReplicaFolder | undefined,
  say: Say,
): void {
  if (a === undefined) {
    say('folder-extra', name, `${describe(b)} only on B`);
    return;
  }
  if (b === undefined) {
    say('folder-missing', name, `${describe(a)} on A, missing on B`);
    return;
  }
  // A mailbox on one side and a bare parent on the other: the mailbox, with all it holds, is
  // what the other side lacks.
  if (a.selectable && !b.selectable) {
    say('folder-missing', name, 'mailbox on A, only a \\Noselect parent on B');
    return;
  }
  if (!a.selectable && b.selectable) {
    say('folder-extra', name, 'mailbox on B, only a \\Noselect parent on A');
    return;
  }
  if (a.selectable && b.selectable) compareMailbox(name, a, b, say);
}

function describe(folder: ReplicaFolder | undefined): string {
  return folder?.selectable === false ? '\\Noselect parent' : 'folder';
}

function compareMailbox(name: string, a: ReplicaMailbox, b: ReplicaMailbox, say: Say): void {
  if (a.guid !== b.guid) say('mailbox-guid', name, `mailbox GUID A=${a.guid} B=${b.guid}`);
  if (a.uidvalidity !== b.uidvalidity)
    say('uidvalidity', name, `uidvalidity A=${a.uidvalidity} B=${b.uidvalidity}`);
  if (a.uidnext !== b.uidnext) say('uidnext', name, `uidnext A=${a.uidnext} B=${b.uidnext}`);
  if (a.messageCount !== b.messageCount)
    say('message-count', name, `messages A=${a.messageCount} B=${b.messageCount}`);
  const onB = new Map(b.messages.map((message) => [message.uid, message]));
  const onA = new Map(a.messages.map((message) => [message.uid, message]));
  const uids = [...new Set([...onA.keys(), ...onB.keys()])].sort((x, y) => x - y);
  for (const uid of uids) compareMessage(name, uid, onA.get(uid), onB.get(uid), say);
}

function compareMessage(
  name: string,
  uid: number,
  a: ReplicaMessage | undefined,
  b: ReplicaMessage | undefined,
  say: Say,
): void {
  if (b === undefined) {
    say('message-missing', name, `UID ${uid} (GUID ${a?.guid ?? '?'}) missing on B`);
    return;
  }
  if (a === undefined) {
    say('message-extra', name, `UID ${uid} (GUID ${b.guid}) only on B`);
    return;
  }
  if (a.guid !== b.guid) {
    say('uid-guid', name, `UID ${uid} holds GUID ${a.guid} on A, ${b.guid} on B`);
    return;
  }
  const onlyA = a.flags.filter((flag) => !b.flags.includes(flag));
  const onlyB = b.flags.filter((flag) => !a.flags.includes(flag));
  if (onlyA.length === 0 && onlyB.length === 0) return;
  const parts = [
    ...(onlyA.length > 0 ? [`${onlyA.join(' ')} only on A`] : []),
    ...(onlyB.length > 0 ? [`${onlyB.join(' ')} only on B`] : []),
  ];
  say('flags', name, `UID ${uid} flags: ${parts.join(', ')}`);
}

function byName(folders: readonly ReplicaFolder[]): Map<string, ReplicaFolder> {
  return new Map(folders.map((folder) => [folder.name, folder]));
}

function sortedUnion(a: Iterable<string>, b: Iterable<string>): string[] {
  return [...new Set([...a, ...b])].sort();
}
