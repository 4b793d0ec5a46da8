import {
  type DovecotPair,
  DovewardenProcess,
  appendMessage,
  closeImap,
  connectImap,
  describeWithDovecot,
  dovewardenEnv,
  freePorts,
  listSubjects,
  startDovecotPair,
  waitForConvergence,
  convergenceBound,
  hangGuard,
  missingRedisServer,
  requireOrSkip,
  sleep,
} from '@dovewarden/testkit';
import { LoopbackRedisCluster } from './redis-topology';

/**
 * Scale-out on Redis Cluster: three masters on loopback, and the built ingest and worker
 * processes configured with DOVEWARDEN_REDIS_CLUSTER_NODES. Dovecot A posts its own events to
 * ingest, the worker syncs to B, and every key lands under the {dovewarden} hash tag in one slot.
 */
(requireOrSkip('the Redis Cluster tests', missingRedisServer())
  ? describeWithDovecot('2.4')
  : describe.skip)('Redis Cluster', () => {
  const users = ['user1', 'user2@example.com'];
  const processes: DovewardenProcess[] = [];
  let cluster: LoopbackRedisCluster | undefined;
  let pair: DovecotPair | undefined;

  beforeAll(async () => {
    cluster = await LoopbackRedisCluster.start(3);
  }, hangGuard(2000).ms);

  afterEach(async () => {
    for (const proc of processes.splice(0)) {
      const result = await proc.stop();
      expect({ code: result.code, tail: result.code === 0 ? [] : proc.output.slice(-20) }).toEqual({
        code: 0,
        tail: [],
      });
    }
    await pair?.stop();
    pair = undefined;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('replicates through ingest and a worker on a 3-master cluster, all keys in one slot', async () => {
    if (cluster === undefined) throw new Error('the cluster did not start');
    const [ingestPort, ingestOps, workerOps, schedulerOps, adminPort, adminOps] =
      await freePorts(6);
    const redisEnv = {
      ...dovewardenEnv('dovewarden'),
      // Unreachable on purpose: with cluster nodes set, only its credentials would count.
      DOVEWARDEN_REDIS_ADDR: '127.0.0.1:1',
      // One seed is enough; the client learns the other masters from the cluster itself.
      DOVEWARDEN_REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.ports[0]}`,
    };
    const ingest = DovewardenProcess.start({
      args: ['ingest'],
      env: {
        ...redisEnv,
        DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${ingestPort}`,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${ingestOps}`,
      },
      metricsPort: ingestOps,
    });
    processes.push(ingest);
    await ingest.waitUntilReady();

    pair = await startDovecotPair({
      version: '2.4',
      users,
      eventsUrl: `http://127.0.0.1:${ingestPort}/events`,
    });
    const worker = DovewardenProcess.start({
      args: ['worker'],
      env: {
        ...redisEnv,
        ...dovewardenEnv('dovewarden', pair),
        DOVEWARDEN_REDIS_ADDR: redisEnv.DOVEWARDEN_REDIS_ADDR,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${workerOps}`,
      },
      metricsPort: workerOps,
    });
    processes.push(worker);
    // The scheduler's sweep (lock script, pipelined ZMSCOREs, bulk add) and the admin's status
    // reads on the cluster too.
    const scheduler = DovewardenProcess.start({
      args: ['scheduler'],
      env: {
        ...redisEnv,
        ...dovewardenEnv('dovewarden', pair),
        DOVEWARDEN_REDIS_ADDR: redisEnv.DOVEWARDEN_REDIS_ADDR,
        DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL: '2s',
        DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD: '1s',
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${schedulerOps}`,
      },
      metricsPort: schedulerOps,
    });
    processes.push(scheduler);
    const admin = DovewardenProcess.start({
      args: ['admin'],
      env: {
        ...redisEnv,
        DOVEWARDEN_ADMIN_ADDR: `127.0.0.1:${adminPort}`,
        DOVEWARDEN_ADMIN_PASSWORD: 'cluster-admin-pw',
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${adminOps}`,
      },
      metricsPort: adminOps,
    });
    processes.push(admin);
    for (const proc of [worker, scheduler, admin]) await proc.waitUntilReady();

    for (const user of users) {
      const imap = await connectImap(pair.a, user);
      await appendMessage(imap, 'INBOX', { subject: `clustered ${user}` });
      await closeImap(imap);
    }
    const result = await waitForConvergence(pair.a, pair.b, users);
    expect(result.differences).toEqual([]);
    for (const user of users) {
      const imapB = await connectImap(pair.b, user);
      expect(await listSubjects(imapB, 'INBOX')).toEqual([`clustered ${user}`]);
      await closeImap(imapB);
    }

    const ingestMetrics = await (await fetch(`http://127.0.0.1:${ingestOps}/metrics`)).text();
    expect(ingestMetrics).toMatch(
      /dovewarden_ingest_events_total\{outcome="accepted",reason="imap"\} [1-9]/,
    );
    const workerMetrics = await (await fetch(`http://127.0.0.1:${workerOps}/metrics`)).text();
    expect(workerMetrics).toMatch(/dovewarden_syncs_total\{outcome="success",[^}]*\} [1-9]/);

    let schedulerMetrics = '';
    // The start-up sweep lists users through doveadm: as long as a change takes to reach B.
    const sweep = await convergenceBound(pair.a, 'user1');
    for (const deadline = Date.now() + sweep.ms; Date.now() < deadline;) {
      schedulerMetrics = await (await fetch(`http://127.0.0.1:${schedulerOps}/metrics`)).text();
      if (/dovewarden_sweep_last_success_timestamp_seconds \d/.test(schedulerMetrics)) break;
      await sleep(200);
    }
    expect(schedulerMetrics).toMatch(/dovewarden_sweep_users_listed 2/);
    expect(schedulerMetrics).toMatch(/dovewarden_sweep_last_success_timestamp_seconds \d/);
    const status = await fetch(`http://127.0.0.1:${adminPort}/api/status`, {
      headers: {
        authorization: `Basic ${Buffer.from('admin:cluster-admin-pw').toString('base64')}`,
      },
    });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ usersKnown: users.length });

    // Every key, BullMQ's and ours, sits on the master that owns the slot of the hash tag,
    // and the other masters hold none.
    const owner = await cluster.ownerOf('{dovewarden}');
    const keysByNode = new Map<number, string[]>();
    for (const port of cluster.ports) keysByNode.set(port, await cluster.keysOn(port));
    for (const port of cluster.ports) {
      if (port !== owner) expect({ port, keys: keysByNode.get(port) }).toEqual({ port, keys: [] });
    }
    const keys = keysByNode.get(owner) ?? [];
    expect(keys.filter((key) => !key.startsWith('{dovewarden}:'))).toEqual([]);
    expect(keys).toEqual(
      expect.arrayContaining([
        '{dovewarden}:replication:meta',
        '{dovewarden}:replication:id',
        '{dovewarden}:last-success',
        `{dovewarden}:last-success:${encodeURIComponent(pair.b.dsyncDestination)}`,
        ...users.map(
          (user) =>
            `{dovewarden}:dsync-state:${encodeURIComponent(pair?.b.dsyncDestination ?? '')}:${user}`,
        ),
      ]),
    );
    for (const proc of processes) {
      expect(proc.output.join('\n')).not.toMatch(/CROSSSLOT|MOVED|ClusterAllFailedError/);
    }
    expect(pair.a.logProblems()).toEqual([]);
    expect(pair.b.logProblems()).toEqual([]);
  });
});
