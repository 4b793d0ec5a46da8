import { connectImap, type DovecotServer } from '@dovewarden/testkit';
import { now, sleep } from './util';

type ImapClient = Awaited<ReturnType<typeof connectImap>>;

/** What B shows of one mailbox; null when the mailbox does not exist there (yet). */
export type ReplicaStatus = { messages: number; uidNext: number; unseen: number } | null;

interface Expectation {
  mailbox: string;
  satisfied(status: ReplicaStatus): boolean;
  deadline: number;
  resolve(seenAt: number): void;
}

/**
 * One persistent IMAP connection to B per user, polling STATUS while something is expected.
 * STATUS (never SELECT) makes Dovecot read the mailbox index afresh on every call, so a change
 * dsync wrote from another process shows at the next poll; it is cheap enough to repeat every
 * few milliseconds, unlike a doveadm request, which costs B a process start each time.
 */
export class ReplicaWatcher {
  #pending: Expectation[] = [];
  #loop: Promise<void> | null = null;
  #closed = false;

  private constructor(
    private readonly client: ImapClient,
    readonly user: string,
    public intervalMs: number,
  ) {}

  static async open(b: DovecotServer, user: string, intervalMs: number): Promise<ReplicaWatcher> {
    return new ReplicaWatcher(await connectImap(b, user), user, intervalMs);
  }

  async status(mailbox: string): Promise<ReplicaStatus> {
    try {
      const s = await this.client.status(mailbox, { messages: true, uidNext: true, unseen: true });
      if (s === false) return null;
      return { messages: s.messages ?? 0, uidNext: s.uidNext ?? 0, unseen: s.unseen ?? 0 };
    } catch (error: unknown) {
      // A dead connection must not read as "mailbox missing", or a rename would never resolve.
      if (!this.client.usable) throw error;
      return null;
    }
  }

  /**
   * Resolves with the time B first answered a STATUS that satisfies `satisfied`, or Infinity when
   * it did not within limitMs. The time is when the answer arrived: an upper bound, at most one
   * poll interval plus a round trip late.
   */
  waitFor(
    mailbox: string,
    satisfied: (status: ReplicaStatus) => boolean,
    limitMs: number,
  ): Promise<number> {
    return new Promise((resolve) => {
      this.#pending.push({ mailbox, satisfied, deadline: now() + limitMs, resolve });
      this.#loop ??= this.poll().finally(() => {
        this.#loop = null;
      });
    });
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  private async poll(): Promise<void> {
    while (this.#pending.length > 0 && !this.#closed) {
      const mailboxes = [...new Set(this.#pending.map((e) => e.mailbox))];
      for (const mailbox of mailboxes) {
        const status = await this.status(mailbox);
        const seenAt = now();
        this.#pending = this.#pending.filter((e) => {
          if (e.mailbox !== mailbox) return true;
          if (e.satisfied(status)) e.resolve(seenAt);
          else if (seenAt > e.deadline) e.resolve(Number.POSITIVE_INFINITY);
          else return true;
          return false;
        });
      }
      if (this.#pending.length > 0) await sleep(this.intervalMs);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const e of this.#pending) e.resolve(Number.POSITIVE_INFINITY);
    this.#pending = [];
    try {
      await this.client.logout();
    } catch {
      this.client.close();
    }
  }
}
