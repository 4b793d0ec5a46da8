import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Asks the kernel for `count` distinct free loopback ports. All sockets stay bound until every
 * port is known, so the kernel cannot hand out the same port twice within one call.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port assigned');
      ports.push(address.port);
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
