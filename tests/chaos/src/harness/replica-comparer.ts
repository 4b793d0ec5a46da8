import { DoveadmClient } from '@dovewarden/doveadm-client';
import {
  type ReplicaSnapshot,
  compareReplicas,
  emptySnapshot,
  readReplicaSnapshot,
} from '@dovewarden/shared';
import { type DovecotServer, sleep } from '@dovewarden/testkit';

export interface Comparison {
  equal: boolean;
  /** One line per difference, "user mailbox: what". */
  differences: string[];
}

/**
 * Compares A and B with the product's strict comparison (compareReplicas, as `dovewarden
 * verify` does: folder tree, mailbox GUID, UIDVALIDITY, UIDNEXT, count, every UID's GUID and
 * flags, subscriptions) through both servers' Doveadm HTTP APIs: 50 users in well under a
 * second, where the doveadm CLI in the chroot would spawn hundreds of processes per round.
 */
export class ReplicaComparer {
  readonly #a: DoveadmClient;
  readonly #b: DoveadmClient;

  constructor(
    private readonly serverA: DovecotServer,
    private readonly serverB: DovecotServer,
  ) {
    this.#a = new DoveadmClient({ url: serverA.doveadmHttpUrl, password: serverA.doveadmPassword });
    this.#b = new DoveadmClient({ url: serverB.doveadmHttpUrl, password: serverB.doveadmPassword });
  }

  private async snapshot(
    client: DoveadmClient,
    server: DovecotServer,
    user: string,
  ): Promise<ReplicaSnapshot> {
    // Asking a server about a user it never saw would create that user's INBOX there.
    if (!server.hasHome(user)) return emptySnapshot();
    return readReplicaSnapshot(client, user, { timeoutMs: 15_000 });
  }

  async compareUser(user: string): Promise<string[]> {
    const [a, b] = await Promise.all([
      this.snapshot(this.#a, this.serverA, user),
      this.snapshot(this.#b, this.serverB, user),
    ]);
    return compareReplicas(user, a, b).map((difference) => difference.text);
  }

  async compare(users: readonly string[]): Promise<Comparison> {
    const differences: string[] = [];
    // A few at a time: every request is a new doveadm process, and the workers need the CPU.
    for (let i = 0; i < users.length; i += 5) {
      const batch = await Promise.all(
        users.slice(i, i + 5).map((u) =>
          // A server that just reloaded drops kept-alive connections: not converged yet, ask again.
          this.compareUser(u).catch((error: unknown) => [`${u}: cannot compare: ${String(error)}`]),
        ),
      );
      differences.push(...batch.flat());
    }
    return { equal: differences.length === 0, differences };
  }

  /**
   * Waits until B matches A for every user, or the time is up. Returns the ms it took (from
   * the call) and the last comparison, so a failing scenario shows what still differed.
   *
   * It loads the machine as little as it can, since the syncs it waits for share the CPU with
   * it (a round over 50 users is 400 Doveadm requests, four per user and server, each a new
   * doveadm process; at 200 it took 2.2 s of both cores, during which a sync took 6 times
   * longer): while `pending` says syncs are still
   * queued or running it only watches the queue; then it compares only the users that still
   * differed, and once none does, every user once more. That last round must be equal too.
   */
  async waitForConvergence(
    users: readonly string[],
    timeoutMs: number,
    options: { pending?: () => Promise<number> } = {},
  ): Promise<{ ms: number; last: Comparison }> {
    const started = Date.now();
    let todo = [...users];
    let last: Comparison = { equal: false, differences: ['not compared yet'] };
    for (;;) {
      const elapsed = Date.now() - started;
      if (elapsed >= timeoutMs) return { ms: elapsed, last: await this.compare(users) };
      const pending = await options.pending?.().catch(() => 0);
      if (pending !== undefined && pending > 0) {
        await sleep(100);
        continue;
      }
      const round = await this.compare(todo);
      const ms = Date.now() - started;
      todo = [...new Set(round.differences.map((line) => line.split(/[ :]/)[0] ?? ''))].filter(
        (user) => users.includes(user),
      );
      if (todo.length === 0) todo = [...users];
      if (round.equal) {
        last = await this.compare(users);
        if (last.equal) return { ms, last };
        todo = [...new Set(last.differences.map((line) => line.split(/[ :]/)[0] ?? ''))];
      } else last = round;
      await sleep(250);
    }
  }

  /** A's mailboxes of one user with their message counts, through A's Doveadm API. */
  async mailboxesOnA(user: string): Promise<Map<string, number>> {
    const statuses = await this.#a.mailboxStatus(user, ['messages'], '*', { timeoutMs: 15_000 });
    return new Map(statuses.map((status) => [status.mailbox, Number(status.messages)]));
  }

  close(): void {
    this.#a.close();
    this.#b.close();
  }
}
