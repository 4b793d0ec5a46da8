import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `count` distinct free loopback ports. All picks stay bound until every port is known, so one
 * call never returns the same port twice. Ports are picked below Linux's ephemeral range
 * (32768-60999 by default), where the kernel never hands out a local port for an outgoing
 * connection: a port from the ephemeral range,
 * free when picked, can be taken by any process's next outgoing connection (the very process
 * about to listen on it, connecting to Redis first) before it binds, and the listen fails with
 * EADDRINUSE. Each pick is bound once to check that nothing listens there now.
 */
const LOW = 20_000;
const HIGH = 32_000;

function tryListen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** See LOW and HIGH above. */
export async function freePorts(
  count: number,
  options: { busOffset?: number } = {},
): Promise<number[]> {
  // A Redis Cluster node also listens on its port + 10,000 (the cluster bus): both must be
  // free, and both below the ephemeral range, so the port itself is picked lower.
  const offset = options.busOffset ?? 0;
  const low = LOW - offset;
  const high = HIGH - offset;
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt > count * 200) throw new Error(`no ${count} free ports in ${low}-${high}`);
      const port = low + Math.floor(Math.random() * (high - low));
      if (ports.includes(port) || ports.includes(port + offset)) continue;
      const server = await tryListen(port);
      if (server === undefined) continue;
      servers.push(server);
      if (offset > 0) {
        const bus = await tryListen(port + offset);
        if (bus === undefined) continue;
        servers.push(bus);
      }
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(500);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** Resolves once every port accepts a connection; `stillAlive` lets a dead server fail fast. */
export async function waitForPorts(
  ports: readonly number[],
  timeoutMs: number,
  stillAlive: () => boolean,
): Promise<{ ok: true } | { ok: false; pending: number[] }> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...ports];
  for (;;) {
    const results = await Promise.all(pending.map((p) => canConnect(p)));
    pending = pending.filter((_, i) => !results[i]);
    if (pending.length === 0) return { ok: true };
    if (Date.now() > deadline || !stillAlive()) return { ok: false, pending };
    await sleep(20);
  }
}
