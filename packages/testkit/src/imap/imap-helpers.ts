import type { ImapFlow } from 'imapflow';
import { buildMessage, type TestMessage } from './connect-imap';

/** APPENDs a message (and so triggers an APPEND event); returns its Message-ID. */
export async function appendMessage(
  client: ImapFlow,
  mailbox: string,
  message: TestMessage,
  flags: string[] = [],
): Promise<string> {
  const { raw, messageId } = buildMessage(message);
  const result = await client.append(mailbox, raw, flags);
  if (result === false) throw new Error(`APPEND to ${mailbox} failed`);
  return messageId;
}

/** Runs `fn` with `mailbox` selected, releasing the lock even when fn throws. */
async function inMailbox<T>(client: ImapFlow, mailbox: string, fn: () => Promise<T>): Promise<T> {
  const lock = await client.getMailboxLock(mailbox);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Subjects in UID order. Peeks, so reading does not set \Seen (which would be a change). */
export async function listSubjects(client: ImapFlow, mailbox: string): Promise<string[]> {
  return inMailbox(client, mailbox, async () => {
    // FETCH 1:* on an empty mailbox is an error, so look at EXISTS from the SELECT first.
    if (client.mailbox === false || client.mailbox.exists === 0) return [];
    const messages = await client.fetchAll('1:*', { envelope: true, uid: true });
    return messages.sort((x, y) => x.uid - y.uid).map((m) => m.envelope?.subject ?? '');
  });
}

/** Adds flags to messages by UID (a UID STORE). */
export async function addFlags(
  client: ImapFlow,
  mailbox: string,
  uids: string,
  flags: string[],
): Promise<void> {
  await inMailbox(client, mailbox, async () => {
    await client.messageFlagsAdd(uids, flags, { uid: true });
  });
}

/** Flags messages \Deleted and expunges them by UID. */
export async function expungeMessages(
  client: ImapFlow,
  mailbox: string,
  uids: string,
): Promise<void> {
  await inMailbox(client, mailbox, async () => {
    await client.messageDelete(uids, { uid: true });
  });
}

export async function createMailbox(client: ImapFlow, mailbox: string): Promise<void> {
  await client.mailboxCreate(mailbox);
}

export async function renameMailbox(client: ImapFlow, from: string, to: string): Promise<void> {
  await client.mailboxRename(from, to);
}

export async function deleteMailbox(client: ImapFlow, mailbox: string): Promise<void> {
  await client.mailboxDelete(mailbox);
}

/** Logs out, and drops the connection if the server does not answer. */
export async function closeImap(client: ImapFlow): Promise<void> {
  try {
    await client.logout();
  } catch {
    client.close();
  }
}
