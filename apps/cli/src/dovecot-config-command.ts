import path from 'node:path';
import { hostname } from 'node:os';
import { type Config, ConfigError } from '@dovewarden/shared';
import { DEFAULT_SYNC_WAIT_LUA_PATH, renderDovecotConfig } from '@dovewarden/ingest';

/** ingest's URL as Dovecot should reach it: the bound host, or this machine's name for ":8080". */
export function defaultEventsUrl(config: Config): string {
  const { host, port } = config.httpAddr;
  const wildcard = host === undefined || host === '0.0.0.0' || host === '::' || host === '[::]';
  const name = wildcard ? hostname() : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}/events`;
}

/**
 * The config for A (`source`), or for B (`replica`): B posts its own changes (a client or a
 * delivery that reached B, as in a failover) to `/events?server=replica`, which the backup
 * sync mode needs to know which users it must not mirror over.
 */
export function dovecotConfigText(
  config: Config,
  syntax: string,
  url: string | undefined,
  server = 'source',
  syncWait: { luaPath: string } = { luaPath: DEFAULT_SYNC_WAIT_LUA_PATH },
): string {
  if (syntax !== '2.4' && syntax !== '2.3') {
    throw new ConfigError(
      `invalid --dovecot-version: expected 2.4 or 2.3, got ${JSON.stringify(syntax)}`,
    );
  }
  if (server !== 'source' && server !== 'replica') {
    throw new ConfigError(
      `invalid --server: expected source or replica, got ${JSON.stringify(server)}`,
    );
  }
  const target = url ?? defaultEventsUrl(config);
  let parsed: URL;
  try {
    parsed = new URL(target);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new ConfigError(
      `invalid --url: expected the http:// URL of ingest's /events, got ${JSON.stringify(target)}`,
    );
  }
  if (!path.isAbsolute(syncWait.luaPath)) {
    throw new ConfigError(
      `invalid --sync-wait-lua-path: expected an absolute path, got ${JSON.stringify(syncWait.luaPath)}`,
    );
  }
  // The sync-wait endpoint sits beside /events on the same ingest.
  const syncWaitUrl = new URL(parsed.toString());
  syncWaitUrl.search = '';
  syncWaitUrl.pathname =
    syncWaitUrl.pathname.replace(/\/events\/?$/, '').replace(/\/$/, '') + '/sync-wait';
  if (server === 'replica') parsed.searchParams.set('server', 'replica');
  return renderDovecotConfig({
    syntax: syntax,
    url: server === 'replica' ? parsed.toString() : target,
    settings: config.ingest,
    // A delivery on B has no replica to wait for.
    ...(server === 'source'
      ? { syncWait: { url: syncWaitUrl.toString(), luaPath: syncWait.luaPath } }
      : {}),
  });
}
