import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type Bound,
  configuredPlus,
  freePorts,
  hangGuard,
  processStartReferenceSync,
  waitUntil,
} from '@dovewarden/testkit';

const run = promisify(execFile);

/** redis-cli against one loopback server; its stdout, trimmed. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: hangGuard(500).ms,
  });
  return stdout.trim();
}

/**
 * Every wait here is a hang guard on redis-server processes, in bare node process starts
 * measured on this machine (hangGuard), plus what Sentinel is configured to take. Polls every
 * 100 ms with waitUntil; a check that throws (a server not up yet) counts as not yet.
 */
function waitFor(what: string, bound: Bound, check: () => Promise<boolean>): Promise<number> {
  return waitUntil(
    async () => {
      try {
        return await check();
      } catch {
        return false; // not there yet
      }
    },
    bound,
    what,
    100,
  );
}

/**
 * redis-server processes of one test on free loopback ports, under one temporary folder. The
 * test files skip loudly without redis-server (missingRedisServer), and fail under CI=true.
 */
export class RedisServers {
  readonly dir = mkdtempSync(join(tmpdir(), 'dovewarden-topology-'));
  readonly #children = new Map<number, ChildProcess>();

  /** Starts redis-server (or a Sentinel, given --sentinel) and waits until it answers PING. */
  async start(port: number, args: string[]): Promise<void> {
    const child = spawn(
      'redis-server',
      [...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', this.dir],
      { stdio: 'ignore' },
    );
    const failed = new Promise<never>((_, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`redis-server :${port} exited (${code})`)));
    });
    failed.catch(() => undefined);
    this.#children.set(port, child);
    await Promise.race([
      failed,
      waitFor(`redis-server :${port} to answer`, hangGuard(200), async () => {
        return (await redisCli(port, 'ping')) === 'PONG';
      }),
    ]);
  }

  /** SIGKILL, as a crash would; the port stays taken by no one. */
  async kill(port: number): Promise<void> {
    const child = this.#children.get(port);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#children.keys()].map((port) => this.kill(port)));
    this.#children.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Redis Cluster of `masters` masters and no replicas, created with redis-cli --cluster. */
export class LoopbackRedisCluster {
  private constructor(
    private readonly servers: RedisServers,
    readonly ports: readonly number[],
  ) {}

  static async start(masters = 3): Promise<LoopbackRedisCluster> {
    const servers = new RedisServers();
    try {
      // Each node's cluster bus listens on its port + 10,000, which must be free too.
      const ports = await freePorts(masters, { busOffset: 10_000 });
      for (const port of ports) {
        await servers.start(port, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--appendonly',
          'no',
          '--save',
          '',
        ]);
      }
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((port) => `127.0.0.1:${port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { timeout: hangGuard(1000).ms },
      );
      for (const port of ports) {
        await waitFor(`cluster_state:ok from :${port}`, hangGuard(500), async () =>
          (await redisCli(port, 'cluster', 'info')).includes('cluster_state:ok'),
        );
      }
      return new LoopbackRedisCluster(servers, ports);
    } catch (error: unknown) {
      await servers.stop();
      throw error;
    }
  }

  /** The port of the master that serves the slot of `key`, from CLUSTER NODES. */
  async ownerOf(key: string): Promise<number> {
    const slot = Number(await redisCli(this.ports[0] ?? 0, 'cluster', 'keyslot', key));
    const lines = (await redisCli(this.ports[0] ?? 0, 'cluster', 'nodes')).split('\n');
    for (const line of lines) {
      const fields = line.split(' ');
      const address = /:(\d+)@/.exec(fields[1] ?? '');
      for (const range of fields.slice(8)) {
        const [start, end] = range.split('-').map(Number);
        if (start === undefined) continue;
        if (slot >= start && slot <= (end ?? start) && address?.[1] !== undefined) {
          return Number(address[1]);
        }
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  /** Every key on one node (only its own slots: a cluster node keeps no others). */
  async keysOn(port: number): Promise<string[]> {
    const out = await redisCli(port, '--scan');
    return out === '' ? [] : out.split('\n').sort();
  }

  stop(): Promise<void> {
    return this.servers.stop();
  }
}

/**
 * A master, one replica and one Sentinel watching them as "mymaster" (quorum 1, so that the
 * lone Sentinel may fail over by itself), with a short down-after so a test sees it happen.
 */
export class LoopbackSentinel {
  static readonly MASTER_NAME = 'mymaster';
  static readonly DOWN_AFTER_MS = 1000;
  static readonly FAILOVER_TIMEOUT_MS = 10_000;

  private constructor(
    private readonly servers: RedisServers,
    readonly masterPort: number,
    readonly replicaPort: number,
    readonly sentinelPort: number,
  ) {}

  static async start(): Promise<LoopbackSentinel> {
    const servers = new RedisServers();
    try {
      const [masterPort = 0, replicaPort = 0, sentinelPort = 0] = await freePorts(3);
      const data = ['--appendonly', 'no', '--save', ''];
      await servers.start(masterPort, data);
      await servers.start(replicaPort, [...data, '--replicaof', '127.0.0.1', String(masterPort)]);
      await waitFor('the replica to catch up', hangGuard(300), async () =>
        (await redisCli(replicaPort, 'info', 'replication')).includes('master_link_status:up'),
      );
      // A Sentinel rewrites its config file, so it gets one of its own.
      const config = join(servers.dir, 'sentinel.conf');
      writeFileSync(
        config,
        [
          `sentinel monitor ${LoopbackSentinel.MASTER_NAME} 127.0.0.1 ${masterPort} 1`,
          `sentinel down-after-milliseconds ${LoopbackSentinel.MASTER_NAME} ${LoopbackSentinel.DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${LoopbackSentinel.MASTER_NAME} ${LoopbackSentinel.FAILOVER_TIMEOUT_MS}`,
          '',
        ].join('\n'),
      );
      await servers.start(sentinelPort, [config, '--sentinel']);
      const sentinel = new LoopbackSentinel(servers, masterPort, replicaPort, sentinelPort);
      await waitFor('the Sentinel to see the replica', hangGuard(300), async () =>
        (
          await redisCli(sentinelPort, 'sentinel', 'replicas', LoopbackSentinel.MASTER_NAME)
        ).includes(String(replicaPort)),
      );
      return sentinel;
    } catch (error: unknown) {
      await servers.stop();
      throw error;
    }
  }

  /** The master's port as the Sentinel names it now. */
  async currentMasterPort(): Promise<number> {
    const reply = await redisCli(
      this.sentinelPort,
      'sentinel',
      'get-master-addr-by-name',
      LoopbackSentinel.MASTER_NAME,
    );
    return Number(reply.split('\n')[1]);
  }

  /** Kills the master as a crash would, and waits until the Sentinel has promoted the replica. */
  async crashMaster(): Promise<void> {
    // Sentinel takes down-after-milliseconds to notice, and failover-timeout before it retries
    // a failed election; both are configured above. The rest is a hang guard.
    const promotion = configuredPlus(
      LoopbackSentinel.DOWN_AFTER_MS + LoopbackSentinel.FAILOVER_TIMEOUT_MS,
      processStartReferenceSync(),
      300,
    );
    await this.servers.kill(this.masterPort);
    await waitFor('the Sentinel to promote the replica', promotion, async () => {
      if ((await this.currentMasterPort()) !== this.replicaPort) return false;
      return (await redisCli(this.replicaPort, 'role')).startsWith('master');
    });
  }

  stop(): Promise<void> {
    return this.servers.stop();
  }
}
