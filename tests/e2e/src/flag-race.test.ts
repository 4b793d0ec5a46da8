import { writeSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import type { ImapFlow } from 'imapflow';
import {
  type DovecotPair,
  type ProxiedSync,
  DoveadmTcpProxy,
  DovewardenProcess,
  SHARED_REDIS,
  buildMessage,
  closeImap,
  compareMailboxes,
  connectImap,
  convergenceBound,
  deleteNamespace,
  describeWithDovecot,
  dovewardenEnv,
  freePorts,
  nodeStartReference,
  relativeBound,
  startDovecotPair,
  uniqueNamespace,
  waitUntil,
} from '@dovewarden/testkit';
import { StateKeys, createRedis } from '@dovewarden/shared';

/**
 * Where in A's dsync run the B-side pass-through stops passing B's answers on, read from what A
 * sends B (dsync's protocol is text): A then waits for B, mid-run, with its dsync lock held.
 * - `mailbox`: A has opened INBOX and sent its mailbox record (highest modseq, UIDNEXT).
 * - `changes`: A has sent its change list (and, before it, its attributes).
 * - `state`: A has sent its new state for INBOX; only the finish is left.
 */
type PausePoint = 'mailbox' | 'changes' | 'state';
type PauseAt = PausePoint | 'done';

interface Pause {
  user: string;
  at: PauseAt;
  /** Resolves when A's run reached the point and B's answers are held. */
  reached: Promise<void>;
  release(): void;
}

type ArmedPause = Pause & { fire(): void; released: Promise<void> };

/**
 * A plain TCP pass-through in front of B's doveadm TCP listener, used as the dsync destination
 * (DOVEWARDEN_DOVEADM_DEST): A's dsync connects through it. Armed for a user, it watches what A
 * sends on that user's `dsync-server` connection and, once A's run reaches the pause point,
 * holds every byte from B until released, so the run stays in the middle of INBOX for as long
 * as the test needs. Bytes from A are never held.
 */
class PausingPassThrough {
  #armed: ArmedPause | undefined;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  private constructor(private readonly upstreamPort: number) {
    this.#server = createServer((client) => this.#serve(client));
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(upstreamPort: number): Promise<PausingPassThrough> {
    const proxy = new PausingPassThrough(upstreamPort);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.#port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  /** As DOVEWARDEN_DOVEADM_DEST takes it. */
  get addr(): string {
    return `tcp:127.0.0.1:${this.#port}`;
  }

  /** Pauses the next dsync run of `user` at `at`. */
  arm(user: string, at: PausePoint): ArmedPause {
    let fire = (): void => undefined;
    let release = (): void => undefined;
    const reached = new Promise<void>((resolve) => (fire = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const pause: ArmedPause = { user, at, reached, release, fire, released };
    this.#armed = pause;
    return pause;
  }

  async stop(): Promise<void> {
    this.#armed?.release();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  #serve(client: Socket): void {
    const upstream = connect(this.upstreamPort, '127.0.0.1');
    let fromA = '';
    let mine: ArmedPause | undefined;
    /** B's bytes while this connection's run is paused; undefined when not paused. */
    let held: Buffer[] | undefined;
    let upstreamClosed = false;
    client.on('data', (chunk: Buffer) => {
      fromA += chunk.toString('latin1');
      const armed = this.#armed;
      if (mine === undefined && armed !== undefined) {
        const command = fromA.indexOf(`\t${armed.user}\tdsync-server\t`);
        if (command >= 0) {
          mine = armed;
          this.#armed = undefined;
          fromA = fromA.slice(command);
        }
      }
      if (mine !== undefined && held === undefined && reachedPoint(fromA, mine.at)) {
        const buffer: Buffer[] = [];
        held = buffer;
        fromA = '';
        const pause = mine;
        void pause.released.then(() => {
          held = undefined;
          for (const data of buffer) if (!client.destroyed) client.write(data);
          if (upstreamClosed) client.end();
        });
        // Not again on this connection.
        mine = { ...pause, at: 'done' };
        pause.fire();
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (held !== undefined) held.push(chunk);
      else client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      upstreamClosed = true;
      if (held === undefined) client.end();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  }
}

/** Whether what A sent on the dsync connection so far has reached `point` in a mailbox. */
function reachedPoint(fromA: string, point: PauseAt): boolean {
  if (point === 'done') return false;
  // A's mailbox record: "B" + mailbox GUID. (The S line at the start is the state A was given.)
  const mailbox = /(^|\n)B[0-9a-f]{32}\t[^\n]*\n/.exec(fromA);
  if (mailbox === null) return false;
  if (point === 'mailbox') return true;
  const after = fromA.slice(mailbox.index + mailbox[0].length);
  if (point === 'state') return /(^|\n)S[0-9a-f]{32}\t[^\n]*\n/.test(after);
  // The attribute list ends with ".", then the change list with another.
  return after.split('\n').filter((line) => line === '.').length >= 2;
}

/** One line on stderr, outside jest's console capture: what each run measured. */
const report = (line: string): void => void writeSync(2, line);

const HELD = 'held';
const MID: Record<PausePoint, string> = {
  mailbox: 'mid-mailbox',
  changes: 'mid-changes',
  state: 'mid-state',
};
/** Five IMAP commands, each an event that asks ingest for a sync (see race). */
const RACE_EVENTS = 5;

/** Sets and removes flags by UID through the client (UID STORE), INBOX selected. */
async function store(
  client: ImapFlow,
  uids: string,
  change: { add?: string[]; remove?: string[] },
): Promise<void> {
  const lock = await client.getMailboxLock('INBOX');
  try {
    if (change.add !== undefined) await client.messageFlagsAdd(uids, change.add, { uid: true });
    if (change.remove !== undefined)
      await client.messageFlagsRemove(uids, change.remove, { uid: true });
  } finally {
    lock.release();
  }
}

/**
 * The client's changes during the sync: `\Flagged` on UID 1, the keyword `$Label1` on UID 2,
 * `\Seen` off UID 3, UID 4 expunged (UID STORE +FLAGS \Deleted, then UID EXPUNGE). Real IMAP,
 * so each is an imap_command_finished event that A posts to ingest. `alsoFlag`: one more UID
 * to flag (a sixth event), the message the run under way is copying to B.
 */
async function race(client: ImapFlow, alsoFlag?: string): Promise<void> {
  await store(client, '1', { add: ['\\Flagged'] });
  if (alsoFlag !== undefined) await store(client, alsoFlag, { add: ['\\Flagged'] });
  await store(client, '2', { add: ['$Label1'] });
  await store(client, '3', { remove: ['\\Seen'] });
  const lock = await client.getMailboxLock('INBOX');
  try {
    await client.messageDelete('4', { uid: true });
  } finally {
    lock.release();
  }
}

/** The dsync state a sync sent (`-s STATE`), and whether it was full (`-f`). */
const sentOf = (sync: ProxiedSync): { state: string | undefined; full: boolean } => ({
  state: sync.args.includes('-s') ? sync.args[sync.args.indexOf('-s') + 1] : undefined,
  full: sync.args.includes('-f'),
});
const describeSync = (sync: ProxiedSync): string =>
  `${sentOf(sync).full ? 'full' : 'incremental'} from ${sentOf(sync).state === '' ? "''" : 'a state'}, answered ${sync.status ?? '(none yet)'}`;

/**
 * Issue 26, item 4: a flag change made while a user's sync runs reaches B by the follow-up
 * sync that ingest queues for it, incrementally, not by the next daily full sync. Every part is
 * real: Dovecot 2.4 A posts its events to a real ingest process, a real worker syncs one-way
 * through a DoveadmTcpProxy in front of A's doveadm TCP listener, to B through a pass-through
 * that can pause A's dsync mid-run, and an IMAP client on A makes the changes. No scheduler:
 * nothing but the events syncs a user.
 */
describeWithDovecot('2.4')('a flag change made while a sync runs', () => {
  const namespace = uniqueNamespace('e2e-flag-race');
  const keys = new StateKeys(namespace);
  const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'flag-race-test');
  const processes: DovewardenProcess[] = [];
  const clients: ImapFlow[] = [];
  let pair: DovecotPair | undefined;
  let aProxy: DoveadmTcpProxy | undefined;
  let bProxy: PausingPassThrough | undefined;
  let ingestOps = 0;

  const acceptedImapEvents = async (): Promise<number> => {
    const metrics = await (await fetch(`http://127.0.0.1:${ingestOps}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find((l) =>
        l.startsWith('dovewarden_ingest_events_total{outcome="accepted",reason="imap"}'),
      );
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };
  /** No sync job of the namespace waits, runs or is delayed. */
  const queueIdle = async (): Promise<boolean> => {
    const prefix = `${namespace}:replication`;
    const [wait, active, prioritized, delayed] = await Promise.all([
      redis.llen(`${prefix}:wait`),
      redis.llen(`${prefix}:active`),
      redis.zcard(`${prefix}:prioritized`),
      redis.zcard(`${prefix}:delayed`),
    ]);
    return wait + active + prioritized + delayed === 0;
  };
  const syncsOf = (user: string): ProxiedSync[] => aProxy!.syncs.filter((s) => s.user === user);
  /** Every sync of `user` answered, none queued: the worker is done with the user for now. */
  const settled = async (user: string): Promise<boolean> =>
    syncsOf(user).every((s) => s.status !== undefined) && (await queueIdle());
  const differences = async (user: string): Promise<string[]> =>
    (await compareMailboxes(pair!.a, pair!.b, user)).differences;

  /** A client on A, four messages in INBOX (all \Seen), appended over IMAP and replicated. */
  const prepare = async (user: string): Promise<ImapFlow> => {
    const client = await connectImap(pair!.a, user);
    clients.push(client);
    for (let i = 1; i <= 4; i += 1) {
      const { raw } = buildMessage({ subject: `${user} ${i}`, to: `${user}@example.com` });
      expect(await client.append('INBOX', raw, ['\\Seen'])).not.toBe(false);
    }
    await waitUntil(
      async () => (await settled(user)) && (await differences(user)).length === 0,
      await convergenceBound(pair!.a, user),
      `B to equal A for ${user} after four APPENDs`,
    );
    return client;
  };
  /** Waits until ingest has accepted `count` more IMAP events than `before`: the follow-up is queued. */
  const eventsAccepted = async (before: number, count: number): Promise<void> => {
    await waitUntil(
      async () => (await acceptedImapEvents()) >= before + count,
      relativeBound(await nodeStartReference(), 20),
      `ingest to accept the ${count} events of the race`,
    );
  };

  beforeAll(async () => {
    const [ingestPort, ingestMetrics, workerOps] = await freePorts(3);
    ingestOps = ingestMetrics!;
    const ingest = DovewardenProcess.start({
      args: ['ingest'],
      env: {
        ...dovewardenEnv(namespace),
        DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${ingestPort}`,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${ingestOps}`,
      },
      metricsPort: ingestOps,
    });
    processes.push(ingest);
    await ingest.waitUntilReady();
    pair = await startDovecotPair({
      version: '2.4',
      users: [HELD, ...Object.values(MID)],
      eventsUrl: `http://127.0.0.1:${ingestPort}/events`,
    });
    aProxy = await DoveadmTcpProxy.start(pair.a.doveadmTcpPort);
    bProxy = await PausingPassThrough.start(pair.b.doveadmTcpPort);
    const worker = DovewardenProcess.start({
      args: ['worker'],
      env: {
        ...dovewardenEnv(namespace, pair),
        DOVEWARDEN_DOVEADM_TCP_ADDR: aProxy.addr,
        DOVEWARDEN_DOVEADM_DEST: bProxy.addr,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${workerOps}`,
      },
      metricsPort: workerOps,
    });
    processes.push(worker);
    await worker.waitUntilReady();
  });

  afterAll(async () => {
    for (const client of clients) await closeImap(client);
    for (const proc of processes.reverse()) expect((await proc.stop()).code).toBe(0);
    await aProxy?.stop();
    await bProxy?.stop();
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
    await redis.quit();
  });

  it('changes made while a finished run is answered reach B by the next, incremental sync', async () => {
    const client = await prepare(HELD);
    const bound = await convergenceBound(pair!.a, HELD);

    let release = (): void => undefined;
    const releasing = new Promise<void>((resolve) => (release = resolve));
    let reached = (_sync: ProxiedSync): void => undefined;
    const heldSync = new Promise<ProxiedSync>((resolve) => (reached = resolve));
    aProxy!.intercept = async (sync) => {
      if (sync.user !== HELD) return undefined;
      aProxy!.intercept = undefined;
      reached(sync);
      await releasing;
      return undefined;
    };
    // A change that asks for a sync; its run completes on A, and its answer is held.
    await store(client, '1', { add: ['\\Answered'] });
    const held = await heldSync;
    expect(held.status).toBe('+');

    const before = await acceptedImapEvents();
    await race(client);
    await eventsAccepted(before, RACE_EVENTS);
    // The race happened: the held run did not carry the client's changes to B.
    const missing = await differences(HELD);
    report(`flag-race held: before the release B differs from A by:\n  ${missing.join('\n  ')}\n`);
    expect(missing.length).toBeGreaterThan(0);

    const successBefore = Number((await redis.zscore(keys.lastSuccessAt(bProxy!.addr), HELD)) ?? 0);
    const releasedAt = Date.now();
    release();
    const heldAt = aProxy!.syncs.indexOf(held);
    const after = (): ProxiedSync[] =>
      aProxy!.syncs.slice(heldAt + 1).filter((s) => s.user === HELD);
    // The follow-up that ingest queued during the held sync, with no further event.
    await waitUntil(
      async () =>
        after()[0]?.status !== undefined &&
        Number((await redis.zscore(keys.lastSuccessAt(bProxy!.addr), HELD)) ?? 0) > successBefore,
      bound,
      () =>
        `the follow-up sync of ${HELD} (syncs after the held one: ${after().map(describeSync).join('; ')})`,
    );
    const [next] = after();
    expect(sentOf(next)).toEqual({ state: held.printed[0], full: false });
    expect(held.printed[0]).toMatch(/^\S+$/);
    expect(next.status).toBe('+');
    expect(await differences(HELD)).toEqual([]);
    report(
      `flag-race held: follow-up ${describeSync(next)}, B == A ${Date.now() - releasedAt} ms after the release (bound ${bound.why})\n`,
    );
    await waitUntil(() => settled(HELD), bound, `the worker to be done with ${HELD}`);
    expect(after().every((s) => !sentOf(s).full)).toBe(true);
    expect(await differences(HELD)).toEqual([]);
  });

  // Measured on Dovecot 2.4.1 (sdbox): at all three points the paused run carries none of the
  // client's changes, not even a flag on the message it is copying, and ends with `+`, not
  // exit 2; the one incremental follow-up that ingest queued brings B to A.
  it.each(Object.keys(MID) as PausePoint[])(
    'changes made while A is mid-run (paused at %s) reach B by incremental follow-ups',
    async (point) => {
      const user = MID[point];
      const client = await prepare(user);
      const bound = await convergenceBound(pair!.a, user);

      const pause = bProxy!.arm(user, point);
      // The answer of the paused run is held too, so that what it carried can be read on B
      // before the follow-up runs.
      let releaseAnswer = (): void => undefined;
      const answerHeld = new Promise<void>((resolve) => (releaseAnswer = resolve));
      let answered = false;
      aProxy!.intercept = async (sync) => {
        if (sync.user !== user) return undefined;
        aProxy!.intercept = undefined;
        answered = true;
        await answerHeld;
        return undefined;
      };
      // A new message (UID 5) asks for a sync: the run copies it to B, and A's run is paused.
      const { raw } = buildMessage({ subject: `${user} 5`, to: `${user}@example.com` });
      expect(await client.append('INBOX', raw)).not.toBe(false);
      let paused = false;
      void pause.reached.then(() => (paused = true));
      await waitUntil(() => paused, bound, `the dsync run of ${user} to reach ${point}`);
      const held = syncsOf(user).find((s) => s.status === undefined);
      expect(held).toBeDefined();
      const heldAt = aProxy!.syncs.indexOf(held!);

      const before = await acceptedImapEvents();
      const raceStarted = Date.now();
      await race(client, '5');
      await eventsAccepted(before, RACE_EVENTS + 1);
      const raceMs = Date.now() - raceStarted;
      // Still mid-run: A's dsync waits for B.
      expect(held!.status).toBeUndefined();
      expect(answered).toBe(false);

      pause.release();
      await waitUntil(() => answered, bound, `the paused run of ${user} to end on A`);
      // The race happened inside the run: it left B without the client's changes.
      const missed = await differences(user);
      expect(missed.length).toBeGreaterThan(0);
      const releasedAt = Date.now();
      releaseAnswer();
      const after = (): ProxiedSync[] =>
        aProxy!.syncs.slice(heldAt + 1).filter((s) => s.user === user);
      await waitUntil(
        async () => (await settled(user)) && (await differences(user)).length === 0,
        bound,
        () =>
          `B to equal A for ${user} (held run ${describeSync(held!)}; after it: ${after().map(describeSync).join('; ')})`,
      );
      report(
        `flag-race mid-run at ${point}: race ${raceMs} ms while paused; held run ${describeSync(held!)}; ` +
          `B after it (${missed.length} difference(s)): ${missed.join(' | ')}; ` +
          `after it ${after().length} sync(s): ${after().map(describeSync).join('; ')}; ` +
          `B == A ${Date.now() - releasedAt} ms after the release (bound ${bound.why})\n`,
      );
      expect(after().length).toBeGreaterThan(0);
      for (const sync of after()) {
        expect(sentOf(sync).full).toBe(false);
        expect(sentOf(sync).state).toMatch(/^\S+$/);
      }
      expect(await differences(user)).toEqual([]);
    },
  );
});
