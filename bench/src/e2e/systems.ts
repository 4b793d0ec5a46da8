import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DoveadmClient } from '@dovewarden/doveadm-client';
import { closeRedis, createRedis, waitForRedis } from '@dovewarden/shared';
import {
  DovecotServer,
  DovewardenProcess,
  PrivateRedis,
  type DovecotVersion,
  dovewardenEnv,
  freePorts,
  randomPassword,
  uniqueNamespace,
} from '@dovewarden/testkit';
import { processName } from './util';

export type SystemId =
  | 'bare-dsync-2.3'
  | 'replicator-2.3'
  | 'dovewarden-2.3'
  | 'dovewarden-2.4'
  | 'bare-dsync-2.4'
  | 'dovewarden-all-2.4';

export interface ControllerProcess {
  name: string;
  pid: number;
}

/** A worker's "synced" log line: when its doveadm sync ran, as the worker saw it. */
export interface SyncRecord {
  user: string;
  startedAt: number;
  finishedAt: number;
}

export interface SystemUnderTest {
  id: SystemId;
  version: DovecotVersion;
  a: DovecotServer;
  b: DovecotServer;
  /** Called right after A acknowledged a change: the bare baseline syncs here, the others wait. */
  afterChange(user: string): void;
  /** The replication controller's own processes, for the cost figures. */
  controllerProcesses(): Promise<ControllerProcess[]>;
  /** dsync sessions B has served so far (see countDsyncSessions). */
  dsyncSessions(): number;
  /** The worker's sync runs, for the latency profile; empty for the others. */
  syncRecords(): SyncRecord[];
  /** The worker's dovewarden_syncs_total by outcome; empty for the others. */
  workerOutcomes(): Promise<Record<string, number>>;
  settings: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * On B, mail_debug for doveadm sessions only: every dsync that A (the replicator's doveadm
 * server or a Doveadm API sync alike) opens towards B starts one doveadm mail session there,
 * which logs one "Effective uid=" line. Counting those lines counts dsync runs the same way for
 * every system, without trusting any controller's own counters. IMAP sessions (the watchers)
 * log under imap(), so they are not counted.
 */
const COUNT_SESSIONS_B = `
protocol doveadm {
  mail_debug = yes
}
`;

export function countDsyncSessions(b: DovecotServer): number {
  let count = 0;
  for (const line of b.readLog().split('\n')) {
    if (line.includes('Effective uid=') && /\bdoveadm\(/.test(line) && !line.includes('remote('))
      count += 1;
  }
  return count;
}

/**
 * Dovecot 2.3's replicator as documented in ../shared/dovecot/dovecot-2.3.md. The notify fifo and
 * socket are world-writable because the harness has no `vmail` user to own them (mail runs as
 * uid 5000); the plugin's mail processes must be able to write to them.
 */
function replicatorConfig(mailReplica: string): string {
  return `
mail_plugins = $mail_plugins notify replication
replication_max_conns = 10
replication_full_sync_interval = 1d
service replicator {
  process_min_avail = 1
  unix_listener replicator-doveadm {
    mode = 0600
  }
}
service aggregator {
  fifo_listener replication-notify-fifo {
    mode = 0666
  }
  unix_listener replication-notify {
    mode = 0666
  }
}
plugin {
  mail_replica = ${mailReplica}
}
`;
}

async function startServers(
  version: DovecotVersion,
  users: readonly string[],
  extraA: (b: DovecotServer) => string,
  eventsUrl?: string,
): Promise<{ a: DovecotServer; b: DovecotServer }> {
  const doveadmPassword = randomPassword();
  // B first: A's config has to name B's doveadm port (mail_replica).
  const b = await DovecotServer.start({
    version,
    name: 'B',
    users,
    doveadmPassword,
    extraConfig: COUNT_SESSIONS_B,
  });
  try {
    const a = await DovecotServer.start({
      version,
      name: 'A',
      users,
      doveadmPassword,
      extraConfig: extraA(b),
      ...(eventsUrl === undefined ? {} : { eventsUrl }),
    });
    return { a, b };
  } catch (error: unknown) {
    await b.stop();
    throw error;
  }
}

export async function startReplicator(users: readonly string[]): Promise<SystemUnderTest> {
  const { a, b } = await startServers('2.3', users, (b) => replicatorConfig(b.dsyncDestination));
  return {
    id: 'replicator-2.3',
    version: '2.3',
    a,
    b,
    afterChange: () => undefined,
    controllerProcesses: () =>
      Promise.resolve(
        a
          .processes()
          .map((pid) => ({ pid, name: processName(pid) }))
          .filter((p) => p.name === 'replicator' || p.name === 'aggregator'),
      ),
    dsyncSessions: () => countDsyncSessions(b),
    syncRecords: () => [],
    workerOutcomes: () => Promise.resolve({}),
    settings: { replication_max_conns: '10', replication_full_sync_interval: '1d' },
    stop: async () => {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

/**
 * A doveadm sync through A's Doveadm API right after each change, with the user's stored
 * state: what any controller would at best add to. Syncs of one user are chained, since dsync
 * would only serialise them on its lock anyway.
 */
export async function startBareDsync(
  version: DovecotVersion,
  users: readonly string[],
): Promise<SystemUnderTest> {
  const { a, b } = await startServers(version, users, () => '');
  const client = new DoveadmClient({ url: a.doveadmHttpUrl, password: a.doveadmPassword });
  const states = new Map<string, string>();
  const chains = new Map<string, Promise<void>>();
  const sync = async (user: string): Promise<void> => {
    const result = await client.sync(user, {
      destination: b.dsyncDestination,
      state: states.get(user) ?? '',
    });
    states.set(user, result.state);
  };
  return {
    id: version === '2.3' ? 'bare-dsync-2.3' : 'bare-dsync-2.4',
    version,
    a,
    b,
    afterChange: (user) => {
      const next = (chains.get(user) ?? Promise.resolve())
        // Exit 2 keeps the old state; the next change syncs again, which is all a baseline needs.
        .then(() => sync(user))
        .catch(() => undefined);
      chains.set(user, next);
    },
    controllerProcesses: () => Promise.resolve([]),
    dsyncSessions: () => countDsyncSessions(b),
    syncRecords: () => [],
    workerOutcomes: () => Promise.resolve({}),
    settings: {},
    stop: async () => {
      await Promise.all(chains.values());
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

export interface DovewardenTuning {
  numWorkers?: number;
  maxParallelSyncs?: number;
  /** Options for node in each dovewarden process (--cpu-prof, for one). */
  nodeArgs?: string[];
}

/** The live children of a process (the embedded redis-server of `dovewarden all`). */
export function childPids(parent: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

function parseSyncRecords(lines: readonly string[]): SyncRecord[] {
  const records: SyncRecord[] = [];
  for (const line of lines) {
    if (!line.includes('"synced"')) continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const ms = Number(entry.ms);
      const finishedAt = Date.parse(String(entry.timestamp));
      const user = entry.user;
      if (typeof user !== 'string' || !Number.isFinite(ms) || !Number.isFinite(finishedAt))
        continue;
      // The log line is written after the bookkeeping round trip, a few ms after the sync ended.
      records.push({ user, startedAt: finishedAt - ms, finishedAt });
    } catch {
      // Not a JSON log line.
    }
  }
  return records;
}

/**
 * dovewarden as an operator runs it: ingest, worker and scheduler as separate processes, a
 * redis-server of its own (so its cost can be measured), and A exporting events to ingest with
 * the config the testkit generates (the same as `dovewarden dovecot-config`).
 */
export async function startDovewarden(
  version: DovecotVersion,
  users: readonly string[],
  tuning: DovewardenTuning,
): Promise<SystemUnderTest> {
  const redis = await PrivateRedis.start();
  const [ingestPort = 0, ingestMetrics = 0, workerMetrics = 0, schedulerMetrics = 0] =
    await freePorts(4);
  let servers: { a: DovecotServer; b: DovecotServer };
  try {
    servers = await startServers(version, users, () => '', `http://127.0.0.1:${ingestPort}/events`);
  } catch (error: unknown) {
    await redis.stop();
    throw error;
  }
  const { a, b } = servers;
  const namespace = uniqueNamespace('bench-e2e');
  const settings: Record<string, string> = {
    // Deliveries name the user as the raw recipient (user1@example.com), IMAP as user1.
    DOVEWARDEN_USERNAME_FORMAT: 'localpart',
    ...(tuning.numWorkers === undefined
      ? {}
      : { DOVEWARDEN_NUM_WORKERS: String(tuning.numWorkers) }),
    ...(tuning.maxParallelSyncs === undefined
      ? {}
      : { DOVEWARDEN_MAX_PARALLEL_SYNCS: String(tuning.maxParallelSyncs) }),
  };
  const env = {
    ...dovewardenEnv(namespace, { a, b }),
    DOVEWARDEN_REDIS_ADDR: `127.0.0.1:${redis.port}`,
    DOVEWARDEN_LOG_LEVEL: 'info',
    ...settings,
  };
  const nodeArgs = tuning.nodeArgs === undefined ? {} : { nodeArgs: tuning.nodeArgs };
  const processes = [
    DovewardenProcess.start({
      args: ['ingest'],
      env: {
        ...env,
        DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${ingestPort}`,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${ingestMetrics}`,
      },
      metricsPort: ingestMetrics,
      ...nodeArgs,
    }),
    DovewardenProcess.start({
      args: ['worker'],
      env: { ...env, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${workerMetrics}` },
      metricsPort: workerMetrics,
      ...nodeArgs,
    }),
    DovewardenProcess.start({
      args: ['scheduler'],
      env: { ...env, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${schedulerMetrics}` },
      metricsPort: schedulerMetrics,
      ...nodeArgs,
    }),
  ];
  const names = ['ingest', 'worker', 'scheduler'];
  const stopAll = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([a.stop(), b.stop()]);
    await redis.stop();
  };
  try {
    await Promise.all(processes.map((p) => p.waitUntilReady()));
  } catch (error: unknown) {
    await stopAll();
    throw error;
  }
  const client = createRedis(redis.target, 'fail-fast', 'bench');
  await waitForRedis(client, 10_000);
  const info = await client.info('server');
  await closeRedis(client);
  const redisPid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  const worker = processes[1];
  return {
    id: version === '2.3' ? 'dovewarden-2.3' : 'dovewarden-2.4',
    version,
    a,
    b,
    afterChange: () => undefined,
    controllerProcesses: () =>
      Promise.resolve([
        ...processes.flatMap((p, i) =>
          p.pid === undefined ? [] : [{ name: names[i] ?? 'dovewarden', pid: p.pid }],
        ),
        ...(Number.isFinite(redisPid) ? [{ name: 'redis-server', pid: redisPid }] : []),
      ]),
    dsyncSessions: () => countDsyncSessions(b),
    syncRecords: () => (worker === undefined ? [] : parseSyncRecords(worker.output)),
    workerOutcomes: async () => {
      const outcomes: Record<string, number> = {};
      try {
        const text = await (await fetch(`http://127.0.0.1:${workerMetrics}/metrics`)).text();
        for (const m of text.matchAll(
          /^dovewarden_syncs_total\{[^}]*outcome="([^"]+)"[^}]*\} (\d+)/gm,
        )) {
          const outcome = m[1] ?? '';
          outcomes[outcome] = (outcomes[outcome] ?? 0) + Number(m[2]);
        }
      } catch {
        // The worker is gone; no figures rather than no report.
      }
      return outcomes;
    },
    settings,
    stop: stopAll,
  };
}

/**
 * dovewarden as a new user starts it (`npm start`): `dovewarden all`, one Node process with
 * every app and its embedded redis-server in a fresh data dir, defaults otherwise.
 */
export async function startDovewardenAll(
  version: DovecotVersion,
  users: readonly string[],
  tuning: DovewardenTuning = {},
): Promise<SystemUnderTest> {
  const [ingestPort = 0, opsPort = 0] = await freePorts(2);
  const { a, b } = await startServers(
    version,
    users,
    () => '',
    `http://127.0.0.1:${ingestPort}/events`,
  );
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-bench-all-'));
  const settings: Record<string, string> = { DOVEWARDEN_USERNAME_FORMAT: 'localpart' };
  const all = DovewardenProcess.start({
    args: ['all'],
    env: {
      DOVEWARDEN_DATA_DIR: dataDir,
      DOVEWARDEN_ADMIN_ADDR: '127.0.0.1:0',
      DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${ingestPort}`,
      DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
      DOVEWARDEN_DOVEADM_URL: a.doveadmHttpUrl,
      DOVEWARDEN_DOVEADM_PASSWORD: a.doveadmPassword,
      DOVEWARDEN_DOVEADM_DEST: b.dsyncDestination,
      ...settings,
    },
    metricsPort: opsPort,
    ...(tuning.nodeArgs === undefined ? {} : { nodeArgs: tuning.nodeArgs }),
  });
  const stopAll = async (): Promise<void> => {
    await all.stop();
    await Promise.all([a.stop(), b.stop()]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await all.waitUntilReady();
  } catch (error: unknown) {
    await stopAll();
    throw error;
  }
  const pid = all.pid ?? Number.NaN;
  return {
    id: 'dovewarden-all-2.4',
    version,
    a,
    b,
    afterChange: () => undefined,
    controllerProcesses: () =>
      Promise.resolve([
        { name: 'dovewarden all', pid },
        ...childPids(pid)
          .filter((child) => processName(child).startsWith('redis-server'))
          .map((child) => ({ name: 'redis-server', pid: child })),
      ]),
    dsyncSessions: () => countDsyncSessions(b),
    syncRecords: () => parseSyncRecords(all.output),
    workerOutcomes: () => Promise.resolve({}),
    settings,
    stop: stopAll,
  };
}

/** Path of the first message file a user's INBOX gets on B: it exists once a sync delivered it. */
export function firstMessageOnB(b: DovecotServer, user: string): string {
  return path.join(b.hostDir, 'home', user, 'sdbox', 'mailboxes', 'INBOX', 'dbox-Mails', 'u.1');
}

export function existsOnB(b: DovecotServer, user: string): boolean {
  return fs.existsSync(firstMessageOnB(b, user));
}
