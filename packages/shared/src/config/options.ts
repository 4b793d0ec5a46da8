/**
 * Every setting, with the flag, env name and default of the original Go dovewarden so that an
 * existing environment file keeps working. Values stay strings here; the section builders
 * (config.ts and the *-settings.ts files) validate them. This table is the one place a setting
 * is declared: yargs registers it from here, and README.md's Configuration table is generated
 * from it (readme-table.ts), so adding a setting is one entry here plus the line that reads it.
 */
export const ENV_PREFIX = 'DOVEWARDEN';

/**
 * Which value parser (option-values.ts) reads a setting. The parsers accept only options of
 * their kind, so a duration cannot be read as a plain string by mistake, and a test feeds each
 * checked kind a bad value to prove the builder really validates it.
 */
export type OptionKind =
  /** A listen address such as :8080 or 127.0.0.1:8080. */
  | 'listen'
  | 'duration'
  | 'bool'
  /** A positive integer with a per-option upper bound. */
  | 'int'
  /** One of a fixed set of words. */
  | 'enum'
  /** An http:// or https:// URL without credentials. */
  | 'url'
  /** Never logged: read into a Secret, which hides itself from dumps. */
  | 'secret'
  /** Comma-separated items (each section may check the items further). */
  | 'list'
  /** Comma-separated host:port pairs. */
  | 'host-list'
  /** A string as given; a section may check it with its own rule (namespace, byte size...). */
  | 'text';

export interface OptionSpec {
  readonly kind: OptionKind;
  /** The --help text. */
  readonly describe: string;
  readonly default?: string;
  readonly group?: string;
  /** README's "meaning" column, when it words the setting differently from describe. */
  readonly readme?: string;
  /**
   * README's "default" column when the default is not shown as is: a default taken from
   * another setting ("the source's"), or what an empty default means ("(any)").
   */
  readonly readmeDefault?: string;
}

export const OPTION_SPECS = {
  'http-addr': {
    kind: 'listen',
    describe: 'Listen address of the events endpoint (ingest)',
    default: ':8080',
    readme: 'events endpoint (ingest)',
  },
  'metrics-addr': {
    kind: 'listen',
    describe: 'Listen address of /metrics, /healthz and /readyz',
    default: ':9090',
    readme: '`/metrics`, `/healthz`, `/readyz`',
  },
  'redis-mode': {
    kind: 'enum',
    describe: 'inmemory (embedded redis-server, all-in-one only) or external',
    default: 'inmemory',
    readme: '`inmemory` (embedded redis-server, all-in-one only) or `external`',
  },
  'redis-addr': {
    kind: 'text',
    describe: 'Redis for external mode: host:port or redis[s]://[user:pass@]host:port[/db]',
    default: 'localhost:6379',
    readme: '`host:port` or `redis[s]://[user:pass@]host:port[/db]`',
  },
  'redis-sentinels': {
    kind: 'host-list',
    describe:
      'Redis Sentinels (host:port, comma-separated) to find the master through, instead of redis-addr; credentials and TLS still come from a redis[s]:// redis-addr',
    readme:
      'Sentinels `host:port,...`: find the master through them (credentials and TLS from the redis-addr URL)',
  },
  'redis-sentinel-master': {
    kind: 'text',
    describe: 'Name the Sentinels monitor the master under',
    default: 'mymaster',
    readme: 'the master name the Sentinels monitor',
  },
  'redis-sentinel-password': {
    kind: 'secret',
    describe: "The Sentinels' own password, when they require one",
    readme: "the Sentinels' own password, if they have one",
  },
  'redis-cluster-nodes': {
    kind: 'host-list',
    describe:
      'Redis Cluster seed nodes (host:port, comma-separated), instead of redis-addr; credentials and TLS still come from a redis[s]:// redis-addr. Keys go under the hash tag {namespace}',
    readme: 'Redis Cluster seed nodes `host:port,...`; keys then share one hash tag, `{namespace}`',
  },
  namespace: {
    kind: 'text',
    describe: 'Key prefix of every Redis key dovewarden owns ({namespace} with Redis Cluster)',
    default: 'dovewarden',
    readme: 'prefix of every Redis key',
  },
  'num-workers': {
    kind: 'int',
    describe: 'Concurrent syncs per worker process',
    default: '4',
    readme: 'concurrent syncs per worker process',
  },
  'doveadm-url': {
    kind: 'url',
    describe: 'Doveadm HTTP API base URL of the source server',
    default: 'http://localhost:8080',
    readme: "A's Doveadm HTTP API (a path prefix is allowed)",
  },
  'doveadm-password': {
    kind: 'secret',
    describe: 'Doveadm API password (doveadm_password); required by worker and scheduler',
    readme: "A's `doveadm_password`; required by worker and scheduler",
  },
  'doveadm-api-key': {
    kind: 'secret',
    describe: 'Doveadm API key (doveadm_api_key), instead of the password',
    readme: "A's `doveadm_api_key`, instead of the password",
  },
  'doveadm-tcp-addr': {
    kind: 'text',
    describe:
      "The source's doveadm TCP listener (tcp:HOST:PORT, the service A's own dsync uses on B): syncs run through it, which keeps dsync's new state when a run ends in exit 2; needs the doveadm password",
    readme:
      "A's doveadm TCP listener (`tcp:HOST:PORT`): syncs run through it and keep dsync's state after an exit 2 (the HTTP API drops it); needs the doveadm password",
  },
  'doveadm-dest': {
    kind: 'list',
    describe: 'dsync destination(s), comma-separated, e.g. tcp:replica.example.com:12345',
    default: 'imap',
    readme: 'dsync destination(s), comma-separated, such as `tcp:replica:12345`',
  },
  'sync-timeout': {
    kind: 'duration',
    describe:
      'Longest wait for one Doveadm API answer (a sync included); a slower one is retried with backoff',
    default: '10m',
    readme: 'longest wait for one Doveadm API answer; a slower one is retried with backoff',
  },
  'sync-mode': {
    kind: 'enum',
    describe:
      "oneway: dsync -1, never writes to the source and keeps mail found only on the replica (safe default); backup: doveadm backup, never writes to the source and makes the replica its mirror (needs the replica's own events, dovecot-config --server replica, so that users it served are kept); twoway: dsync merges both ways, only for users served from both servers at once (it can undo concurrent folder changes on the source)",
    default: 'oneway',
    readme:
      "`oneway` (dsync `-1`: never writes to A, keeps B-only mail), `backup` (B a mirror of A; needs B's events, see above) or `twoway` (both ways; can undo concurrent folder changes on A)",
  },
  'sync-lock-timeout': {
    kind: 'duration',
    describe:
      "How long a sync waits for dsync's own per-user lock on the server (the old replicator's -l 30); must be shorter than --sync-timeout",
    default: '30s',
    readme:
      "wait for dsync's per-user lock on the server (whole seconds, shorter than the sync timeout); then exit 75 and backoff",
  },
  'sync-all-namespaces': {
    kind: 'bool',
    describe:
      'Sync every visible namespace (dsync -N, as the old replicator did), not only the INBOX namespace',
    default: 'true',
    readme: 'sync every visible namespace (dsync `-N`), not only the INBOX namespace',
  },
  'replica-doveadm-url': {
    kind: 'url',
    describe:
      'Doveadm HTTP API base URL of the replica (B), for "dovewarden verify" and, in one-way mode, to put the source\'s folder names back where dsync left an old one',
    readme:
      "the replica's Doveadm HTTP API, for `verify`; also used (instead of the destination's doveadm service) to put the source's folder names back on the replica where dsync -1 left an old one",
  },
  'replica-doveadm-password': {
    kind: 'secret',
    describe: "The replica's doveadm password (default: the source's, as dsync requires the same)",
    readme: "the replica's doveadm password",
    readmeDefault: "the source's",
  },
  'full-sync-interval': {
    kind: 'duration',
    describe: 'Full sync a user whose last full sync is older than this (0: never by age)',
    default: '24h',
    readme: 'full sync a user whose last full sync is older; `0`: never by age',
  },
  'state-ttl': {
    kind: 'duration',
    describe: 'How long a stored dsync state lives without a new sync',
    default: '720h',
    readme: 'how long a stored dsync state lives',
  },
  'retry-base-delay': {
    kind: 'duration',
    describe: 'First retry delay of a failed sync; doubles each attempt',
    default: '5s',
    readme: 'first retry delay; doubles each attempt',
  },
  'retry-max-delay': {
    kind: 'duration',
    describe: 'Longest retry delay of a failed sync',
    default: '10m',
    readme: 'longest retry delay',
  },
  'retry-attempts': {
    kind: 'int',
    describe: 'Attempts of a sync before the user is marked failed',
    default: '10',
    readme: 'attempts before a user is marked failed',
  },
  'max-parallel-syncs': {
    kind: 'int',
    describe: 'Syncs running at once across all workers (replication_max_conns)',
    default: '10',
    readme: 'syncs at once across all workers',
  },
  'shutdown-timeout': {
    kind: 'duration',
    describe: 'On SIGTERM, how long running syncs may finish before they are handed back',
    default: '20s',
    readme: "on SIGTERM, time for running syncs; keep it below the pod's grace period",
  },
  'log-level': {
    kind: 'enum',
    describe: 'debug, info, warn (or warning) or error',
    default: 'info',
    readme: '`debug`, `info`, `warn` (or `warning`), `error`',
  },
  'log-format': {
    kind: 'enum',
    describe: "json (one JSON object per line) or text (the Go dovewarden's default)",
    default: 'json',
    readme: '`json`: one JSON object per line on stdout; `text`: `time level message key=value …`',
  },
  'background-replication-enabled': {
    kind: 'bool',
    describe: 'Periodically replicate users that no event has triggered',
    default: 'true',
    readme: 'run the background sweep',
  },
  'background-replication-interval': {
    kind: 'duration',
    describe: 'How often background replication runs',
    default: '1h',
    readme: 'time between sweeps',
  },
  'background-replication-threshold': {
    kind: 'duration',
    describe: 'Skip users replicated successfully within this time',
    default: '24h',
    readme: 'skip users replicated within this time',
  },
  'background-replication-max-pending': {
    kind: 'text',
    describe:
      'Most background syncs waiting in the queue at once: a sweep queues stale users as the workers drain them. auto: 4 x max-parallel-syncs (at least 50); 0: no bound (every stale user at once)',
    default: 'auto',
    readme:
      'most background syncs waiting at once; a sweep feeds the queue as workers drain it. `auto`: 4 × max-parallel-syncs, at least 50; `0`: no bound',
  },
  'verify-enabled': {
    kind: 'bool',
    describe:
      'Walk every replicated user in the background and compare B with A strictly (folders, subscriptions, every UID, GUID and flag); a difference is repaired by a full sync and counted',
    default: 'true',
    readme: 'run the background verifier (in the scheduler)',
  },
  'verify-interval': {
    kind: 'duration',
    describe: 'How often a verification walk over every user starts (a walk still running goes on)',
    default: '24h',
    readme: 'time between verification walks',
  },
  'verify-calls-per-second': {
    kind: 'int',
    describe:
      'Budget of the verifier: Doveadm calls per second on A, and as many on B (a user costs one on each, two with its message lists)',
    default: '4',
    readme: "the verifier's Doveadm calls per second on A (and on B)",
  },
  'verify-sample-percent': {
    kind: 'int',
    describe:
      'Share of users whose message lists are compared even when every mailbox status matches (flags only differ in the lists); 100: all of them',
    default: '10',
    readme: 'users whose message lists are read although their statuses match, in %',
  },
  events: {
    kind: 'list',
    describe: 'Dovecot events that trigger a sync (comma-separated)',
    default:
      'imap_command_finished,mail_delivery_finished,pop3_command_finished,managesieve_command_finished',
    readme: 'events that can trigger a sync',
  },
  'imap-commands': {
    kind: 'list',
    describe: 'IMAP commands (cmd_name) that trigger a sync when their reply is OK',
    default:
      'APPEND,COPY,CLOSE,CREATE,DELETE,EXPUNGE,MOVE,RENAME,STORE,SUBSCRIBE,UNSUBSCRIBE,SETACL,DELETEACL,SETMETADATA,SETQUOTA,UID COPY,UID EXPUNGE,UID MOVE,UID STORE',
    readme: 'IMAP commands that trigger a sync',
    readmeDefault: 'the list above',
  },
  'pop3-commands': {
    kind: 'list',
    describe: 'POP3 commands that trigger a sync',
    default: 'DELE',
  },
  'managesieve-commands': {
    kind: 'list',
    describe: 'ManageSieve commands that trigger a sync (dsync carries Sieve scripts)',
    default: 'PUTSCRIPT,DELETESCRIPT,SETACTIVE,RENAMESCRIPT',
    readme: 'ManageSieve commands that trigger a sync',
  },
  'username-format': {
    kind: 'text',
    describe:
      'How to normalise usernames from events, like auth_username_format: asis, or any of lowercase, localpart, domain:example.com joined by ","',
    default: 'asis',
    readme:
      'normalise usernames like `auth_username_format`: `asis`, or `lowercase`, `localpart`, `domain:example.com` joined by `,`',
  },
  'ingest-body-limit': {
    kind: 'text',
    describe: 'Largest event body ingest accepts (bytes, or KiB/MiB)',
    default: '64KiB',
    readme: 'largest event body',
  },
  'ingest-user': {
    kind: 'text',
    describe: 'Basic auth user for POST /events (auth is off unless a password is set)',
    default: 'dovecot',
    readme: 'Basic auth user for `POST /events`',
  },
  'ingest-password': {
    kind: 'secret',
    describe: 'Basic auth password for POST /events',
    readme: 'Basic auth password; auth is off without one',
  },
  'ingest-allow': {
    kind: 'list',
    describe: 'Source addresses allowed to POST /events: CIDRs, comma-separated (empty: any)',
    default: '',
    readme: 'source CIDRs allowed to post events, comma-separated',
    readmeDefault: '(any)',
  },
  'sync-wait-timeout': {
    kind: 'duration',
    describe:
      "Synchronous delivery replication, off at 0: how long an LMTP or LDA delivery on A may wait for its new mail to be on B before it answers (Dovecot 2.3's replication_sync_timeout). Ingest then serves POST /sync-wait and `dovewarden dovecot-config` prints the Lua hook",
    default: '0',
    readme:
      "synchronous delivery replication (0: off): how long a delivery waits for its mail to be on B before it answers, like 2.3's `replication_sync_timeout`",
  },
  'sync-wait-max-waiters': {
    kind: 'int',
    describe:
      'Most deliveries one ingest process lets wait at once; one more is answered 503 at once and goes on without waiting',
    default: '500',
    readme: 'most deliveries waiting at once per ingest process; more are answered 503 at once',
  },
  'exclude-users': {
    kind: 'list',
    describe: 'Users never replicated (the old noreplicate): names or * patterns, comma-separated',
    default: '',
    readme: 'users never replicated: names or `*` patterns, comma-separated',
  },
  'unknown-user-retry': {
    kind: 'duration',
    describe: 'Background passes skip a user doveadm did not know (exit 67) for this long',
    default: '24h',
    readme: 'background passes skip a user unknown to doveadm (exit 67) this long',
  },
  'admin-addr': {
    kind: 'listen',
    describe: 'Listen address of Bull Board and the admin API',
    default: ':3000',
    readme: 'Bull Board and the admin API',
  },
  'admin-user': {
    kind: 'text',
    describe: 'Basic auth user of the admin UI and API',
    default: 'admin',
  },
  'admin-password': {
    kind: 'secret',
    describe:
      'Basic auth password of the admin UI and API; required unless all-in-one (then loopback only)',
    readme: 'its password; required unless all-in-one (then 127.0.0.1 only)',
  },
  'admin-read-only': {
    kind: 'bool',
    describe: 'Admin UI and API show, but change nothing',
    default: 'false',
    readme: 'the admin UI and API show but change nothing',
  },
  'data-dir': {
    kind: 'text',
    describe: 'Where the embedded redis-server keeps its files (inmemory mode)',
    default: './data',
    readme: 'embedded Redis files (inmemory mode)',
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTION_SPECS;

export function envNameOf(option: OptionName): string {
  return `${ENV_PREFIX}_${option.toUpperCase().replace(/-/g, '_')}`;
}

export function optionLabel(option: OptionName): string {
  return `--${option} (${envNameOf(option)})`;
}
