import type { RequestListener } from 'node:http';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/address';

/** Binds an HTTP handler; resolves once the port is bound so readiness can depend on it. */
export function listenHttp(handler: RequestListener, address: ListenAddress): Promise<Server> {
  const server = createServer(handler);
  // Dovecot's exporter keeps connections alive; Node's 5 s default would race its reuse.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function boundPort(server: Server): number {
  const address = server.address() as AddressInfo | null;
  if (address === null || typeof address === 'string') throw new Error('server is not bound');
  return address.port;
}

/** Stops accepting, lets in-flight requests finish, then drops idle keep-alive sockets. */
export function closeHttp(server: Server, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
