import type { ImapFlow } from 'imapflow';
import {
  type DovecotServer,
  buildMessage,
  closeImap,
  connectImap,
  deliverLmtp,
  sleep,
} from '@dovewarden/testkit';

export const OPERATIONS = [
  'append',
  'deliver',
  'flag',
  'expunge',
  'copy',
  'move',
  'create',
  'rename',
  'delete',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Relative weights: mostly new mail and flags, as on a real server, but every kind often. */
const WEIGHTS: Record<Operation, number> = {
  append: 28,
  deliver: 12,
  flag: 20,
  expunge: 10,
  copy: 8,
  move: 8,
  create: 5,
  rename: 5,
  delete: 4,
};

export interface LoadDriverOptions {
  users: readonly string[];
  /** Changes per second over all users. */
  ratePerSecond: number;
  /** IMAP connections per user, each with its own folders; 1 unless a user is hammered. */
  connectionsPerUser?: number;
  /**
   * Prefix of the lanes' folder names ("L" by default): two drivers of one run (the
   * calibration's and the scenario's) must not reuse each other's names.
   */
  prefix?: string;
  /** Relative weights of the kinds of change; the default mix when absent. */
  weights?: Partial<Record<Operation, number>>;
  /**
   * Every lane runs its next change as soon as the last one is answered, as fast as A allows,
   * instead of `ratePerSecond` over all lanes (folder churn).
   */
  closedLoop?: boolean;
  /** Share of appends that go to INBOX rather than a lane folder (0.7 by default). */
  inboxAppendShare?: number;
}

/** What the lanes left on A: their own folders, each with the messages they put there. */
export interface ExpectedFolders {
  /** user -> folder -> messages, or undefined where a lane could not know the count. */
  byUser: Map<string, Map<string, number | undefined>>;
  /** Folder-name prefixes the lanes own: any other folder but INBOX on A is a stray. */
  prefixes: string[];
}

export interface LoadReport {
  /** Changes A confirmed, by kind. */
  done: Record<Operation, number>;
  /** Changes A refused or that failed on the way: a correct run has none. */
  errors: string[];
  /** Failures while the scenario itself disrupted A (a reload closes every session). */
  tolerated: string[];
  /**
   * CREATEs of a brand-new name that A refused with "Not found": a race inside Dovecot 2.4.1
   * between two processes of one user, which the same machine shows with no replication at
   * all (two IMAP sessions of a user creating and deleting folders; see docs/reliability.md).
   * Nothing was undone: the folder never existed, and the client was told. Counted and shown,
   * never an error; every other refusal is.
   */
  createRaces: string[];
  /**
   * Changes that came due while every lane was still busy with the last one, and so started
   * late: a slow A or a slow machine stretches the load in time, but never drops a change (the
   * backlog is run before the load stops).
   */
  late: number;
  /** The most changes that were due and not started at once. */
  maxBacklog: number;
  /** How long A took to answer a change: the median and the slowest, in ms. */
  answerMs: { p50: number; max: number };
}

/** One IMAP connection of one user, running one change at a time. */
interface Lane {
  user: string;
  index: number;
  client: ImapFlow | undefined;
  busy: boolean;
  folders: string[];
  /** Messages in each folder of the lane, as A confirmed them; undefined once unsure. */
  counts: Map<string, number | undefined>;
  created: number;
  /** The IMAP command of the change under way, for its error line. */
  attempting?: Operation;
}

/**
 * Makes real changes on A, over IMAP and LMTP, at a steady rate spread over the users: every
 * kind of change ingest must see (appends, flags, expunges, copies, moves, creates, renames,
 * deletes and deliveries). Each lane owns its folders, so that 20 clients of one user never
 * rename each other's mailbox away; messages in INBOX are shared and raced over on purpose.
 */
export class LoadDriver {
  readonly #lanes: Lane[];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #report: LoadReport = {
    done: Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<Operation, number>,
    errors: [],
    tolerated: [],
    createRaces: [],
    late: 0,
    maxBacklog: 0,
    answerMs: { p50: 0, max: 0 },
  };
  readonly #answerTimes: number[] = [];
  /** Changes due (rate × time) and not started yet, fractions included. */
  #owed = 0;
  #tolerating = 0;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #next = 0;
  #random: () => number;

  constructor(
    private readonly server: DovecotServer,
    private readonly options: LoadDriverOptions,
    seed = 1,
  ) {
    const perUser = options.connectionsPerUser ?? 1;
    this.#lanes = options.users.flatMap((user) =>
      Array.from({ length: perUser }, (_, index) => ({
        user,
        index,
        client: undefined,
        busy: false,
        folders: [],
        counts: new Map<string, number | undefined>(),
        created: 0,
      })),
    );
    // A small deterministic generator: a failing run can be replayed with the same choices.
    let state = seed >>> 0 || 1;
    this.#random = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 0x100000000;
    };
  }

  get report(): LoadReport {
    return this.#report;
  }

  get changes(): number {
    return Object.values(this.#report.done).reduce((sum, n) => sum + n, 0);
  }

  start(): void {
    if (this.options.closedLoop === true) {
      this.#running = true;
      for (const lane of this.#lanes) {
        const loop = (async () => {
          while (this.#running) await this.runOn(lane);
        })();
        this.#inFlight.add(loop);
        void loop.finally(() => this.#inFlight.delete(loop));
      }
      return;
    }
    const intervalMs = 20;
    this.#timer = setInterval(() => {
      const due = Math.floor(this.#owed);
      this.#owed += (this.options.ratePerSecond * intervalMs) / 1000;
      // Changes owed from earlier ticks that found every lane busy start late, first.
      let started = 0;
      while (this.#owed >= 1 && this.launchOne()) {
        this.#owed -= 1;
        if (started < due) this.#report.late += 1;
        started += 1;
      }
      this.#report.maxBacklog = Math.max(this.#report.maxBacklog, Math.floor(this.#owed));
    }, intervalMs);
  }

  /** Stops making changes and waits for those under way; then closes every connection. */
  async stop(): Promise<LoadReport> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#running = false;
    // The changes that came due and found every lane busy are made now: the load is as many
    // changes as its rate and length say, however slow this machine is.
    const backlog = Math.floor(this.#owed);
    this.#owed = 0;
    this.#report.late += backlog;
    if (backlog > 0) await this.burst(backlog);
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    const sorted = [...this.#answerTimes].sort((a, b) => a - b);
    this.#report.answerMs = {
      p50: sorted[Math.floor(sorted.length / 2)] ?? 0,
      max: sorted[sorted.length - 1] ?? 0,
    };
    await Promise.all(
      this.#lanes.map(async (lane) => {
        if (lane.client !== undefined) await closeImap(lane.client);
        lane.client = undefined;
      }),
    );
    return this.#report;
  }

  /**
   * Runs a fault that disrupts A itself (a config reload ends every IMAP and LMTP session):
   * changes that fail meanwhile, and for `settleMs` after, are tolerated, not errors. What A
   * did apply still has to reach B.
   */
  async disrupting<T>(fault: () => Promise<T>, settleMs = 2000): Promise<T> {
    this.#tolerating += 1;
    try {
      return await fault();
    } finally {
      setTimeout(() => {
        this.#tolerating -= 1;
      }, settleMs);
    }
  }

  /** The folders each lane left on A, with their message counts. */
  expected(): ExpectedFolders {
    const byUser = new Map<string, Map<string, number | undefined>>();
    for (const lane of this.#lanes) {
      const folders = byUser.get(lane.user) ?? new Map<string, number | undefined>();
      for (const folder of lane.folders) folders.set(folder, lane.counts.get(folder));
      byUser.set(lane.user, folders);
    }
    return { byUser, prefixes: [this.prefix] };
  }

  private get prefix(): string {
    return this.options.prefix ?? 'L';
  }

  private folderName(lane: Lane, n: number): string {
    return `${this.prefix}${lane.index}-F${n}`;
  }

  /** Runs `count` changes right away (round-robin over lanes), e.g. to seed every user. */
  async burst(count: number, operation?: Operation): Promise<void> {
    const runs: Array<Promise<void>> = [];
    for (let i = 0; i < count; i += 1) {
      const lane = this.#lanes[i % this.#lanes.length];
      runs.push(this.runOn(lane, operation));
    }
    await Promise.all(runs);
  }

  /** Starts one change on a free lane; false when every lane is busy. */
  private launchOne(): boolean {
    // Round-robin from a moving start, skipping busy lanes, so the rate spreads over users.
    for (let tries = 0; tries < this.#lanes.length; tries += 1) {
      const lane = this.#lanes[this.#next % this.#lanes.length];
      this.#next += 1;
      if (!lane.busy) {
        const run = this.runOn(lane);
        this.#inFlight.add(run);
        void run.finally(() => this.#inFlight.delete(run));
        return true;
      }
    }
    return false;
  }

  private pick(): Operation {
    const weights = { ...WEIGHTS, ...(this.options.weights ?? {}) };
    const total = Object.values(weights).reduce((sum, w) => sum + w, 0);
    let roll = this.#random() * total;
    for (const op of OPERATIONS) {
      roll -= weights[op];
      if (roll < 0) return op;
    }
    return 'append';
  }

  private async runOn(lane: Lane, forced?: Operation): Promise<void> {
    while (lane.busy) await sleep(5);
    lane.busy = true;
    const operation = forced ?? this.pick();
    lane.attempting = undefined;
    const startedAt = Date.now();
    try {
      let done: Operation;
      try {
        done = await this.perform(lane, operation);
      } catch (error) {
        // A session that died under us (the server ended it) gets one retry on a new one.
        if (!/Connection not available|Unexpected close|ECONNRESET|EPIPE/.test(String(error)))
          throw error;
        lane.client?.close();
        lane.client = undefined;
        // The change may have been applied before the session died (an APPEND saved, its OK
        // lost in a reload): the lane's counts are unknown from here on.
        forgetCounts(lane);
        done = await this.perform(lane, operation);
      }
      this.#report.done[done] += 1;
    } catch (error) {
      // imapflow's "Command failed" says nothing; the server's own words are in responseText.
      const said =
        typeof error === 'object' && error !== null && 'responseText' in error
          ? ` (${String(error.responseText)})`
          : '';
      const line = `${lane.user}#${lane.index} ${lane.attempting ?? operation}: ${String(error)}${said}`;
      if (lane.attempting === 'create' && /^ \(Not found \(/.test(said))
        this.#report.createRaces.push(line);
      else (this.#tolerating > 0 ? this.#report.tolerated : this.#report.errors).push(line);
      await this.resyncFolders(lane);
      // A broken connection is reopened for the next change.
      if (lane.client !== undefined) lane.client.close();
      lane.client = undefined;
    } finally {
      this.#answerTimes.push(Date.now() - startedAt);
      lane.busy = false;
    }
  }

  /**
   * After a failure the lane's idea of its folders may be wrong (the server may have applied a
   * change whose answer was lost): ask the server, so one error does not breed more.
   */
  private async resyncFolders(lane: Lane): Promise<void> {
    try {
      const client = await this.client(lane);
      const prefix = `${this.prefix}${lane.index}-F`;
      const listed = await client.list();
      lane.folders = listed.map((m) => m.path).filter((path) => path.startsWith(prefix));
      // What the failed change did to counts is unknown: an APPEND, COPY or MOVE whose answer
      // was lost in a reload may have been applied (scenario 7 once: "L0-F2: 4 messages on A,
      // the client put 3"). No folder of the lane keeps a count; the folders themselves are
      // still checked.
      forgetCounts(lane);
      for (const folder of lane.folders)
        if (!lane.counts.has(folder)) lane.counts.set(folder, undefined);
      for (const folder of [...lane.counts.keys()])
        if (!lane.folders.includes(folder)) lane.counts.delete(folder);
      const numbers = lane.folders.map((path) => Number(path.slice(prefix.length)) || 0);
      lane.created = Math.max(lane.created, ...numbers);
    } catch {
      lane.client?.close();
      lane.client = undefined;
    }
  }

  private async client(lane: Lane): Promise<ImapFlow> {
    // A session the server ended while idle (a reload, say) is reopened, as a mail client does.
    if (lane.client !== undefined && !lane.client.usable) {
      lane.client.close();
      lane.client = undefined;
    }
    lane.client ??= await connectImap(this.server, lane.user);
    return lane.client;
  }

  /** Does the change, or a simpler one when it cannot apply (nothing to flag yet); returns which. */
  private async perform(lane: Lane, operation: Operation): Promise<Operation> {
    const subject = `chaos ${lane.user}#${lane.index} ${operation} ${Date.now()}`;
    if (operation === 'deliver') {
      const { raw } = buildMessage({ subject, to: `${lane.user}@example.com` });
      await deliverLmtp(this.server, `${lane.user}@example.com`, raw);
      return 'deliver';
    }
    const client = await this.client(lane);
    switch (operation) {
      case 'append':
        await this.append(client, lane, subject);
        return 'append';
      case 'create': {
        if (lane.folders.length >= 4) return this.perform(lane, 'delete');
        const name = this.folderName(lane, (lane.created += 1));
        lane.counts.set(name, undefined);
        lane.attempting = 'create';
        await client.mailboxCreate(name);
        lane.folders.push(name);
        lane.counts.set(name, 0);
        return 'create';
      }
      case 'rename': {
        const from = this.folderOf(lane);
        if (from === undefined) return this.perform(lane, 'create');
        const to = this.folderName(lane, (lane.created += 1));
        const count = lane.counts.get(from);
        lane.counts.set(from, undefined);
        lane.attempting = 'rename';
        await client.mailboxRename(from, to);
        lane.folders = lane.folders.map((name) => (name === from ? to : name));
        lane.counts.delete(from);
        lane.counts.set(to, count);
        return 'rename';
      }
      case 'delete': {
        const name = this.folderOf(lane);
        if (name === undefined) return this.perform(lane, 'create');
        lane.counts.set(name, undefined);
        lane.attempting = 'delete';
        await client.mailboxDelete(name);
        lane.folders = lane.folders.filter((folder) => folder !== name);
        lane.counts.delete(name);
        return 'delete';
      }
      case 'flag':
      case 'expunge':
      case 'copy':
      case 'move':
        return this.messageChange(client, lane, operation, subject);
    }
  }

  private async append(client: ImapFlow, lane: Lane, subject: string): Promise<void> {
    const share = this.options.inboxAppendShare ?? 0.7;
    const target = this.#random() < share ? 'INBOX' : (this.folderOf(lane) ?? 'INBOX');
    const { raw } = buildMessage({ subject, to: `${lane.user}@example.com` });
    const flags = this.#random() < 0.3 ? ['\\Seen'] : [];
    const before = lane.counts.get(target);
    if (target !== 'INBOX') lane.counts.set(target, undefined);
    if ((await client.append(target, raw, flags)) === false)
      throw new Error(`APPEND to ${target} refused`);
    if (target !== 'INBOX' && before !== undefined) lane.counts.set(target, before + 1);
  }

  private async messageChange(
    client: ImapFlow,
    lane: Lane,
    operation: 'flag' | 'expunge' | 'copy' | 'move',
    subject: string,
  ): Promise<Operation> {
    const lock = await client.getMailboxLock('INBOX');
    let uids: number[];
    try {
      const found = await client.search({ all: true }, { uid: true });
      uids = found === false || found === undefined ? [] : found;
    } catch (error) {
      lock.release();
      throw error;
    }
    // Keep INBOX from emptying: with few messages, add one instead.
    if (uids.length < 3) {
      lock.release();
      await this.append(client, lane, subject);
      return 'append';
    }
    try {
      const uid = uids[Math.floor(this.#random() * uids.length)];
      const target = this.folderOf(lane);
      switch (operation) {
        case 'flag':
          await client.messageFlagsAdd(
            String(uid),
            [this.#random() < 0.5 ? '\\Flagged' : '$Chaos'],
            {
              uid: true,
            },
          );
          break;
        case 'expunge':
          await client.messageDelete(String(uid), { uid: true });
          break;
        case 'copy':
        case 'move':
          if (target === undefined) {
            await client.messageFlagsAdd(String(uid), ['\\Answered'], { uid: true });
            return 'flag';
          }
          {
            // INBOX is raced over by the user's other lanes: the UID may be gone already, and
            // then nothing is copied. COPYUID says how many arrived.
            const before = lane.counts.get(target);
            lane.counts.set(target, undefined);
            const result =
              operation === 'copy'
                ? await client.messageCopy(String(uid), target, { uid: true })
                : await client.messageMove(String(uid), target, { uid: true });
            const arrived = result === false ? 0 : result.uidMap?.size;
            if (before !== undefined && arrived !== undefined)
              lane.counts.set(target, before + arrived);
          }
          break;
      }
      return operation;
    } finally {
      lock.release();
    }
  }

  private folderOf(lane: Lane): string | undefined {
    if (lane.folders.length === 0) return undefined;
    return lane.folders[Math.floor(this.#random() * lane.folders.length)];
  }
}

/** After a change whose outcome the lane cannot know: no count of its folders is known. */
function forgetCounts(lane: Lane): void {
  for (const folder of lane.counts.keys()) lane.counts.set(folder, undefined);
}
