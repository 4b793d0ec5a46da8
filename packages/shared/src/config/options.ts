/**
 * Every setting, with the flag, env name and default of the original Go dovewarden so that an
 * existing environment file keeps working. Values stay strings here; config.ts validates them.
 */
export const ENV_PREFIX = 'DOVEWARDEN';

export interface OptionSpec {
  readonly describe: string;
  readonly default?: string;
  readonly group?: string;
  /** Secrets are shown as "(set)" in dumps and never logged. */
  readonly secret?: boolean;
}

export const OPTION_SPECS = {
  'http-addr': { describe: 'Listen address of the events endpoint (ingest)', default: ':8080' },
  'metrics-addr': {
    describe: 'Listen address of /metrics, /healthz and /readyz',
    default: ':9090',
  },
  'redis-mode': {
    describe: 'inmemory (embedded redis-server, all-in-one only) or external',
    default: 'inmemory',
  },
  'redis-addr': {
    describe: 'Redis for external mode: host:port or redis[s]://[user:pass@]host:port[/db]',
    default: 'localhost:6379',
  },
  'redis-sentinels': {
    describe:
      'Redis Sentinels (host:port, comma-separated) to find the master through, instead of redis-addr; credentials and TLS still come from a redis[s]:// redis-addr',
  },
  'redis-sentinel-master': {
    describe: 'Name the Sentinels monitor the master under',
    default: 'mymaster',
  },
  'redis-sentinel-password': {
    describe: "The Sentinels' own password, when they require one",
    secret: true,
  },
  'redis-cluster-nodes': {
    describe:
      'Redis Cluster seed nodes (host:port, comma-separated), instead of redis-addr; credentials and TLS still come from a redis[s]:// redis-addr. Keys go under the hash tag {namespace}',
  },
  namespace: {
    describe: 'Key prefix of every Redis key dovewarden owns ({namespace} with Redis Cluster)',
    default: 'dovewarden',
  },
  'num-workers': { describe: 'Concurrent syncs per worker process', default: '4' },
  'doveadm-url': {
    describe: 'Doveadm HTTP API base URL of the source server',
    default: 'http://localhost:8080',
  },
  'doveadm-password': {
    describe: 'Doveadm API password (doveadm_password); required by worker and scheduler',
    secret: true,
  },
  'doveadm-api-key': {
    describe: 'Doveadm API key (doveadm_api_key), instead of the password',
    secret: true,
  },
  'doveadm-dest': {
    describe: 'dsync destination(s), comma-separated, e.g. tcp:replica.example.com:12345',
    default: 'imap',
  },
  'sync-timeout': {
    describe:
      'Longest wait for one Doveadm API answer (a sync included); a slower one is retried with backoff',
    default: '10m',
  },
  'sync-mode': {
    describe:
      'oneway: dsync -1, never writes to the source and keeps mail found only on the replica (safe default); twoway: dsync merges both ways, only for users served from both servers at once (it can undo concurrent folder changes on the source)',
    default: 'oneway',
  },
  'sync-lock-timeout': {
    describe:
      "How long a sync waits for dsync's own per-user lock on the server (the old replicator's -l 30); must be shorter than --sync-timeout",
    default: '30s',
  },
  'sync-all-namespaces': {
    describe:
      'Sync every visible namespace (dsync -N, as the old replicator did), not only the INBOX namespace',
    default: 'true',
  },
  'replica-doveadm-url': {
    describe:
      'Doveadm HTTP API base URL of the replica (B), for "dovewarden verify" and, in one-way mode, to put the source\'s folder names back where dsync left an old one',
  },
  'replica-doveadm-password': {
    describe: "The replica's doveadm password (default: the source's, as dsync requires the same)",
    secret: true,
  },
  'full-sync-interval': {
    describe: 'Full sync a user whose last full sync is older than this (0: never by age)',
    default: '24h',
  },
  'state-ttl': {
    describe: 'How long a stored dsync state lives without a new sync',
    default: '720h',
  },
  'retry-base-delay': {
    describe: 'First retry delay of a failed sync; doubles each attempt',
    default: '5s',
  },
  'retry-max-delay': { describe: 'Longest retry delay of a failed sync', default: '10m' },
  'retry-attempts': {
    describe: 'Attempts of a sync before the user is marked failed',
    default: '10',
  },
  'max-parallel-syncs': {
    describe: 'Syncs running at once across all workers (replication_max_conns)',
    default: '10',
  },
  'shutdown-timeout': {
    describe: 'On SIGTERM, how long running syncs may finish before they are handed back',
    default: '20s',
  },
  'log-level': { describe: 'debug, info, warn or error', default: 'info' },
  'background-replication-enabled': {
    describe: 'Periodically replicate users that no event has triggered',
    default: 'true',
  },
  'background-replication-interval': {
    describe: 'How often background replication runs',
    default: '1h',
  },
  'background-replication-threshold': {
    describe: 'Skip users replicated successfully within this time',
    default: '24h',
  },
  events: {
    describe: 'Dovecot events that trigger a sync (comma-separated)',
    default:
      'imap_command_finished,mail_delivery_finished,pop3_command_finished,managesieve_command_finished',
  },
  'imap-commands': {
    describe: 'IMAP commands (cmd_name) that trigger a sync when their reply is OK',
    default:
      'APPEND,COPY,CLOSE,CREATE,DELETE,EXPUNGE,MOVE,RENAME,STORE,SUBSCRIBE,UNSUBSCRIBE,SETACL,DELETEACL,SETMETADATA,SETQUOTA,UID COPY,UID EXPUNGE,UID MOVE,UID STORE',
  },
  'pop3-commands': { describe: 'POP3 commands that trigger a sync', default: 'DELE' },
  'managesieve-commands': {
    describe: 'ManageSieve commands that trigger a sync (dsync carries Sieve scripts)',
    default: 'PUTSCRIPT,DELETESCRIPT,SETACTIVE,RENAMESCRIPT',
  },
  'username-format': {
    describe:
      'How to normalise usernames from events, like auth_username_format: asis, or any of lowercase, localpart, domain:example.com joined by ","',
    default: 'asis',
  },
  'ingest-body-limit': {
    describe: 'Largest event body ingest accepts (bytes, or KiB/MiB)',
    default: '64KiB',
  },
  'ingest-user': {
    describe: 'Basic auth user for POST /events (auth is off unless a password is set)',
    default: 'dovecot',
  },
  'ingest-password': { describe: 'Basic auth password for POST /events', secret: true },
  'ingest-allow': {
    describe: 'Source addresses allowed to POST /events: CIDRs, comma-separated (empty: any)',
    default: '',
  },
  'exclude-users': {
    describe: 'Users never replicated (the old noreplicate): names or * patterns, comma-separated',
    default: '',
  },
  'unknown-user-retry': {
    describe: 'Background passes skip a user doveadm did not know (exit 67) for this long',
    default: '24h',
  },
  'admin-addr': {
    describe: 'Listen address of Bull Board and the admin API',
    default: ':3000',
  },
  'admin-user': { describe: 'Basic auth user of the admin UI and API', default: 'admin' },
  'admin-password': {
    describe:
      'Basic auth password of the admin UI and API; required unless all-in-one (then loopback only)',
    secret: true,
  },
  'admin-read-only': { describe: 'Admin UI and API show, but change nothing', default: 'false' },
  'data-dir': {
    describe: 'Where the embedded redis-server keeps its files (inmemory mode)',
    default: './data',
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTION_SPECS;

export function envNameOf(option: OptionName): string {
  return `${ENV_PREFIX}_${option.toUpperCase().replace(/-/g, '_')}`;
}

export function optionLabel(option: OptionName): string {
  return `--${option} (${envNameOf(option)})`;
}
