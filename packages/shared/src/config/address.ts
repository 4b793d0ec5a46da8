import type { Secret } from './secret';

/** A listen address in Go's notation: ":8080", "127.0.0.1:8080", "[::1]:8080". */
export interface ListenAddress {
  /** undefined means every interface, as Go's ":8080" does. */
  host: string | undefined;
  port: number;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface RedisTarget {
  host: string;
  port: number;
  /** Set: a unix socket, and host and port are not used (the all-in-one's embedded Redis). */
  socket?: string | undefined;
  username: string | undefined;
  password: string | undefined;
  db: number;
  tls: boolean;
  /**
   * Set: the master is found through these Sentinels, and host and port are not used. The
   * credentials, TLS and db above still apply to the master (and its replicas).
   */
  sentinel?: RedisSentinelTarget | undefined;
  /**
   * Set: a Redis Cluster found through these seed nodes (any subset of the cluster will do);
   * host, port and db are not used, the credentials and TLS above apply to every node.
   */
  cluster?: { readonly nodes: readonly HostPort[] } | undefined;
}

export interface RedisSentinelTarget {
  readonly nodes: readonly HostPort[];
  /** The name the Sentinels monitor the master under (`sentinel monitor <name> …`). */
  readonly masterName: string;
  /** Sentinels often run without a password even when the data nodes need one. */
  readonly password: Secret | undefined;
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function splitHostPort(text: string): { host: string; port: string } | undefined {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed?.[1] !== undefined && bracketed[2] !== undefined) {
    return { host: bracketed[1], port: bracketed[2] };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return undefined;
  const host = text.slice(0, colon);
  // An unbracketed IPv6 literal is ambiguous about where the port starts.
  if (host.includes(':')) return undefined;
  return { host, port: text.slice(colon + 1) };
}

export function parseListenAddress(text: string): ListenAddress | undefined {
  const parts = splitHostPort(text.trim());
  if (!parts) return undefined;
  const port = parsePort(parts.port);
  if (port === undefined) return undefined;
  return { host: parts.host === '' ? undefined : parts.host, port };
}

export function formatListenAddress(address: ListenAddress): string {
  if (address.host === undefined) return `:${address.port}`;
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/** "host:port" or "[v6]:port"; undefined when malformed. */
export function parseHostPort(text: string): HostPort | undefined {
  const parts = splitHostPort(text.trim());
  if (!parts || parts.host === '') return undefined;
  const port = parsePort(parts.port);
  return port === undefined ? undefined : { host: parts.host, port };
}

/** Accepts the original's "host:port" as well as redis:// and rediss:// URLs. */
export function parseRedisTarget(text: string): RedisTarget | undefined {
  const trimmed = text.trim();
  if (/^rediss?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      return undefined;
    }
    const port = url.port === '' ? 6379 : parsePort(url.port);
    if (port === undefined || url.hostname === '') return undefined;
    const dbText = url.pathname.replace(/^\//, '');
    if (dbText !== '' && !/^\d+$/.test(dbText)) return undefined;
    return {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      username: url.username === '' ? undefined : decodeURIComponent(url.username),
      password: url.password === '' ? undefined : decodeURIComponent(url.password),
      db: dbText === '' ? 0 : Number(dbText),
      tls: url.protocol.toLowerCase() === 'rediss:',
    };
  }
  const parts = splitHostPort(trimmed);
  if (!parts || parts.host === '') return undefined;
  const port = parsePort(parts.port);
  if (port === undefined) return undefined;
  return { host: parts.host, port, username: undefined, password: undefined, db: 0, tls: false };
}
