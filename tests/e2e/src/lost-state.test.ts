import { spawnSync } from 'node:child_process';
import { type IncomingMessage, type Server, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type DovecotPair,
  type DovecotServer,
  DoveadmTcpProxy,
  DovewardenProcess,
  SHARED_REDIS,
  buildMessage,
  cliPath,
  compareMailboxes,
  deleteNamespace,
  describeWithDovecot,
  dovewardenEnv,
  freePorts,
  hangGuard,
  nodeStartReference,
  relativeBound,
  startDovecotPair,
  uniqueNamespace,
  waitUntil,
} from '@dovewarden/testkit';
import { StateKeys, createRedis } from '@dovewarden/shared';

/** One `sync` the worker sent to A's Doveadm HTTP API, and what it was answered. */
interface SyncSeen {
  user: string;
  state: string;
  fullSync: boolean;
  answered: 'state' | `lost, exit ${number}`;
}

/**
 * Between the worker and A's Doveadm HTTP API. Every call goes to A for real; when told to,
 * a user's next sync runs on A (so its dsync changes B), then `between` changes A, and the
 * worker is answered what Dovecot answers a run that ends in that exit code: an error entry,
 * the new state thrown away.
 */
class StateLosingProxy {
  readonly syncs: SyncSeen[] = [];
  #lose = new Map<string, { exitCode: number; between: () => Promise<void> }>();
  readonly #server: Server;
  #url = '';

  private constructor(private readonly target: string) {
    this.#server = createServer((req, res) => {
      void this.#handle(req).then(
        ({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(body);
        },
        (error: unknown) => {
          res.writeHead(502);
          res.end(String(error));
        },
      );
    });
  }

  static async start(target: string): Promise<StateLosingProxy> {
    const proxy = new StateLosingProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.#url = `http://127.0.0.1:${(proxy.#server.address() as AddressInfo).port}`;
    return proxy;
  }

  get url(): string {
    return this.#url;
  }

  loseNextSync(user: string, exitCode: number, between: () => Promise<void>): void {
    this.#lose.set(user, { exitCode, between });
  }

  async #handle(req: IncomingMessage): Promise<{ status: number; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const answer = await forward(req, body, this.target);
    const [command] = JSON.parse(body.toString('utf8')) as [
      string,
      Record<string, unknown>,
      string,
    ][];
    if (command?.[0] !== 'sync') return answer;
    const [, params, tag] = command;
    const text = (value: unknown): string => (typeof value === 'string' ? value : '');
    const user = text(params.user);
    const lose = this.#lose.get(user);
    const ran = answer.status === 200 && answer.body.includes('doveadmResponse');
    this.syncs.push({
      user,
      state: text(params.state),
      fullSync: params.fullSync === true,
      answered: lose !== undefined && ran ? `lost, exit ${lose.exitCode}` : 'state',
    });
    if (lose === undefined || !ran) return answer;
    this.#lose.delete(user);
    await lose.between();
    return {
      status: 200,
      body: JSON.stringify([['error', { type: 'exitCode', exitCode: lose.exitCode }, tag]]),
    };
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function forward(
  req: IncomingMessage,
  body: Buffer,
  target: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const out = request(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    out.on('error', reject);
    out.end(body);
  });
}

/** UID → message GUID of a user's INBOX, as the server itself lists it. */
async function inboxUids(server: DovecotServer, user: string): Promise<string[]> {
  const output = await server.doveadm([
    '-f',
    'tab',
    'fetch',
    '-u',
    user,
    'uid guid',
    'mailbox',
    'INBOX',
    'all',
  ]);
  return output
    .split('\n')
    .slice(1)
    .filter((line) => line !== '')
    .map((line) => line.replace('\t', ' '));
}

/**
 * Saves mail on A and asks the worker for one sync of a user (`dovewarden replicate`), waiting
 * until it records a newer success: what both describes below drive the worker with.
 */
function workerDriver(
  pair: () => DovecotPair,
  env: () => Record<string, string>,
  redis: ReturnType<typeof createRedis>,
  keys: StateKeys,
) {
  let sent = 0;
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [cliPath(), ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env() },
      encoding: 'utf8',
      timeout: hangGuard(750).ms,
    });
  const lastSuccess = async (user: string): Promise<number> =>
    Number((await redis.zscore(keys.lastSuccessAt(pair().b.dsyncDestination), user)) ?? 0);
  return {
    save: async (user: string, count: number): Promise<void> => {
      for (let i = 0; i < count; i += 1) {
        sent += 1;
        const { raw } = buildMessage({ subject: `lost-state ${sent}`, to: `${user}@example.com` });
        await pair().a.doveadm(['save', '-u', user, '-m', 'INBOX'], { input: raw });
      }
    },
    replicateOnce: async (user: string): Promise<void> => {
      const before = await lastSuccess(user);
      expect(cli('replicate', user).status).toBe(0);
      await waitUntil(
        async () => (await lastSuccess(user)) > before,
        relativeBound(await nodeStartReference(), 40),
        `the worker to record a new success of ${user}`,
      );
    },
  };
}

/**
 * Doveadm's HTTP API throws away the new dsync state of a run that ends in exit 2 (or any
 * failure), though the run changed B. A sync from the older stored state then takes B's copies
 * of messages that A expunged in between for B's own mail: dsync -1 keeps them on B, moves them
 * to new UIDs past A's UIDNEXT, and from then on every new message of A gets another UID on B
 * (measured on Dovecot 2.4.1; chaos scenario 11 found it as "uidnext A=48 B=53"). The worker
 * runs the sync after such a run as a full sync. Real Dovecot 2.4 pair, a real worker, in the
 * default one-way mode; only the answer to one call is replaced.
 */
describeWithDovecot('2.4')('a sync after a run whose new state was lost (HTTP API)', () => {
  let pair: DovecotPair | undefined;
  let worker: DovewardenProcess | undefined;
  let proxy: StateLosingProxy | undefined;
  const namespace = uniqueNamespace('e2e-lost-state');
  const keys = new StateKeys(namespace);
  const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'lost-state-test');
  let env: Record<string, string> = {};
  const { save, replicateOnce } = workerDriver(
    () => pair!,
    () => env,
    redis,
    keys,
  );
  const expectSame = async (user: string): Promise<void> => {
    expect(await inboxUids(pair!.b, user)).toEqual(await inboxUids(pair!.a, user));
    expect((await compareMailboxes(pair!.a, pair!.b, user)).differences).toEqual([]);
  };

  beforeAll(async () => {
    const [deadPort, opsPort] = await freePorts(2);
    // No ingest: nothing syncs unless the test asks for it.
    pair = await startDovecotPair({
      version: '2.4',
      users: ['changed', 'failed'],
      eventsUrl: `http://127.0.0.1:${deadPort}/events`,
    });
    proxy = await StateLosingProxy.start(pair.a.doveadmHttpUrl);
    // The HTTP-only set-up: syncs through A's Doveadm API, which drops an exit-2 state.
    const http = dovewardenEnv(namespace, pair);
    delete http.DOVEWARDEN_DOVEADM_TCP_ADDR;
    env = { ...http, DOVEWARDEN_DOVEADM_URL: proxy.url };
    worker = DovewardenProcess.start({
      args: ['worker'],
      env: {
        ...env,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
        DOVEWARDEN_RETRY_BASE_DELAY: '100ms',
        DOVEWARDEN_RETRY_MAX_DELAY: '500ms',
      },
      metricsPort: opsPort,
    });
    await worker.waitUntilReady();
  });

  afterAll(async () => {
    expect((await worker?.stop())?.code).toBe(0);
    await proxy?.stop();
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
    await redis.quit();
  });

  it.each([
    ['changed', 2, 'exit 2: the same job runs again at once'],
    ['failed', 75, 'exit 75: the job is retried after its backoff'],
  ])(
    "%s (%d, %s): B keeps A's UIDs, and holds none of the messages A expunged meanwhile",
    async (user, exitCode) => {
      await save(user, 5);
      await replicateOnce(user);
      await expectSame(user);

      // The lost run copies UIDs 6-10 to B; then A expunges two of them and gets three more.
      await save(user, 5);
      proxy!.loseNextSync(user, exitCode, async () => {
        await pair!.a.doveadm(['expunge', '-u', user, 'mailbox', 'INBOX', 'uid', '7:8']);
        await save(user, 3);
      });
      await replicateOnce(user);
      await expectSame(user);
      expect(await inboxUids(pair!.a, user)).toHaveLength(11);
      const mine = proxy!.syncs.filter((s) => s.user === user);
      const lostAt = mine.findIndex((s) => s.answered !== 'state');
      expect(mine[lostAt]).toMatchObject({ answered: `lost, exit ${exitCode}`, fullSync: false });
      // The next run does not trust the stored state: B holds more than it says.
      expect(mine[lostAt + 1]).toMatchObject({ fullSync: true, state: '', answered: 'state' });

      // And A's later messages keep their UIDs on B, with incremental syncs again.
      await save(user, 2);
      await replicateOnce(user);
      expect(proxy!.syncs.filter((s) => s.user === user).at(-1)).toMatchObject({
        fullSync: false,
      });
      await expectSame(user);
    },
  );
});

/**
 * The same run over the doveadm TCP protocol (DOVEWARDEN_DOVEADM_TCP_ADDR, how the tests and
 * README set dovewarden up): dsync prints its new state before the exit code, and this protocol
 * passes it on, so an exit 2 loses nothing. The proxy lets a real sync run on A, lets A expunge
 * two of the copied messages and get three more, then answers the worker with exit 2 (`-CHANGED`)
 * after the state dsync printed, as Dovecot does when mailboxes change during a run. The next run
 * must be incremental from that printed state (not full, and not from the older stored one),
 * and B must equal A by the strict comparison: every UID, GUID and flag.
 */
describeWithDovecot('2.4')('a sync after exit 2 over the doveadm TCP protocol', () => {
  let pair: DovecotPair | undefined;
  let worker: DovewardenProcess | undefined;
  let proxy: DoveadmTcpProxy | undefined;
  const namespace = uniqueNamespace('e2e-tcp-state');
  const keys = new StateKeys(namespace);
  const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'tcp-state-test');
  let env: Record<string, string> = {};
  const USER = 'changed';
  const driver = workerDriver(
    () => pair!,
    () => env,
    redis,
    keys,
  );
  const save = (count: number) => driver.save(USER, count);
  const replicateOnce = () => driver.replicateOnce(USER);

  /** The dsync state a sync sent (`-s STATE`), and whether it was full (`-f`). */
  const sentOf = (sync: { args: string[] }) => ({
    state: sync.args[sync.args.indexOf('-s') + 1],
    full: sync.args.includes('-f'),
  });

  beforeAll(async () => {
    const [deadPort, opsPort] = await freePorts(2);
    pair = await startDovecotPair({
      version: '2.4',
      users: [USER],
      eventsUrl: `http://127.0.0.1:${deadPort}/events`,
    });
    proxy = await DoveadmTcpProxy.start(pair.a.doveadmTcpPort);
    env = { ...dovewardenEnv(namespace, pair), DOVEWARDEN_DOVEADM_TCP_ADDR: proxy.addr };
    worker = DovewardenProcess.start({
      args: ['worker'],
      env: { ...env, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}` },
      metricsPort: opsPort,
    });
    await worker.waitUntilReady();
  });

  afterAll(async () => {
    expect((await worker?.stop())?.code).toBe(0);
    await proxy?.stop();
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
    await redis.quit();
  });

  it("runs incrementally from the state dsync printed with exit 2: B keeps A's UIDs and none of A's expunged messages", async () => {
    await save(5);
    await replicateOnce();
    expect((await compareMailboxes(pair!.a, pair!.b, USER)).differences).toEqual([]);
    const stored = await redis.get(keys.dsyncState(pair!.b.dsyncDestination, USER));

    await save(5);
    let changedAt = -1;
    proxy!.intercept = async (sync) => {
      if (sync.user !== USER || changedAt >= 0) return undefined;
      changedAt = proxy!.syncs.indexOf(sync);
      await pair!.a.doveadm(['expunge', '-u', USER, 'mailbox', 'INBOX', 'uid', '7:8']);
      await save(3);
      return '-CHANGED';
    };
    await replicateOnce();
    proxy!.intercept = undefined;

    const lost = proxy!.syncs[changedAt];
    const next = proxy!.syncs[changedAt + 1];
    expect(lost.status).toBe('+');
    expect(sentOf(lost)).toEqual({ state: stored, full: false });
    // The re-run starts from the state the exit-2 run printed, incrementally.
    expect(lost.printed).toHaveLength(1);
    expect(sentOf(next)).toEqual({ state: lost.printed[0], full: false });
    expect(next.status).toBe('+');
    expect(await inboxUids(pair!.b, USER)).toEqual(await inboxUids(pair!.a, USER));
    expect(await inboxUids(pair!.a, USER)).toHaveLength(11);
    expect((await compareMailboxes(pair!.a, pair!.b, USER)).differences).toEqual([]);

    await save(2);
    await replicateOnce();
    expect(sentOf(proxy!.syncs.at(-1)!).full).toBe(false);
    expect((await compareMailboxes(pair!.a, pair!.b, USER)).differences).toEqual([]);
  });
});
