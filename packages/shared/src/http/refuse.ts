import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long a refused connection may take to read our answer before it is cut. */
const LINGER_MS = 2000;

/**
 * Answers a request we refuse (401, 403, 405, 415, ...) without reading its body, and closes the
 * connection: a client that sends a large body to an endpoint it may not use costs us the
 * headers, not the body. Node would otherwise read and discard the rest to keep the connection
 * alive. Reading stops at once; the socket is half-closed once the answer is out (the client sees
 * the answer, then the end), and cut after a short linger whatever the client still sends.
 */
export function refuseAndClose(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: Record<string, string>,
  headers: Record<string, string> = {},
): void {
  const socket = req.socket;
  // Before the answer: from now on nothing more of the body is read from the socket.
  req.pause();
  socket.pause();
  const payload = JSON.stringify(body);
  res.shouldKeepAlive = false;
  res.writeHead(status, {
    ...headers,
    Connection: 'close',
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
  });
  res.end(payload, () => {
    // Node would resume the request to discard the body; keep it paused instead.
    req.pause();
    socket.pause();
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
}

/**
 * Whether a request's Host header names this machine's loopback: `localhost`, an address of
 * 127.0.0.0/8 or `[::1]`, with or without a port. A page in a browser that reaches a loopback
 * service through DNS rebinding (a hostname of its own that resolves to 127.0.0.1) sends its
 * own hostname here, so a service without a password takes only these.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(host.trim().toLowerCase());
  if (match === null) return false;
  const name = match[1] ?? '';
  if (name === 'localhost' || name === '[::1]') return true;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  return octets !== null && octets.slice(1).every((octet) => Number(octet) <= 255);
}
