import yargs from 'yargs';
import { type Config, buildConfig } from './config';
import { ConfigError } from './config-error';
import type { RawOptions } from './option-values';
import type { AppRole } from './roles';
import { settingsFromEnv, withConfigOptions } from './yargs-options';

/**
 * Drop-in for the Go dovewarden: every environment value its README documents, and every one
 * its Helm chart renders, starts here with the meaning Go gave it, or with a warning where that
 * meaning is odd. The Go sources this follows (github.com/dovewarden/dovewarden):
 *  - internal/config/config.go: strings as given; NUM_WORKERS by strconv.Atoi (> 0, otherwise
 *    4); BACKGROUND_REPLICATION_ENABLED is `== "true" || == "1"`; the two durations by
 *    time.ParseDuration (> 0, otherwise the default);
 *  - cmd/dovewarden/main.go: LOG_LEVEL debug, info, warn/warning, error/err in any case (others:
 *    a warning and info); LOG_FORMAT (no prefix) json, anything else text;
 *  - internal/queue/redis.go: inmemory mode serves miniredis on REDIS_ADDR;
 *  - helm/dovewarden/templates/deployment.yaml: values.yaml's config.* as DOVEWARDEN_* env.
 */

interface Built {
  config: Config;
  warnings: string[];
}

/** The environment read as the CLI reads it: yargs (strict, as main.ts is), then buildConfig. */
function fromEnv(env: Record<string, string>, role: AppRole = 'all'): Built {
  const warnings: string[] = [];
  const argv = withConfigOptions(yargs([]), env, (warning) => warnings.push(warning))
    .strictOptions()
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new Error(message);
    })
    .parseSync();
  const config = buildConfig(argv as RawOptions, role, (warning) => warnings.push(warning));
  return { config, warnings };
}

function refusal(env: Record<string, string>, role: AppRole = 'all'): ConfigError {
  try {
    fromEnv(env, role);
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(env)} was not refused`);
}

type Check = (config: Config) => unknown;
/** [variable, value, what the config must hold, the warning expected (none if absent)]. */
type Row = [string, string, Check, RegExp?];

const HOUR = 3_600_000;

const background = (config: Config) => config.backgroundReplication;

/** Every variable of the Go README's table, with its documented default and example values. */
const README_VALUES: Row[] = [
  ['DOVEWARDEN_HTTP_ADDR', ':8080', (c) => expect(c.httpAddr).toEqual({ port: 8080 })],
  ['DOVEWARDEN_HTTP_ADDR', ':3000', (c) => expect(c.httpAddr).toEqual({ port: 3000 })],
  [
    'DOVEWARDEN_HTTP_ADDR',
    '0.0.0.0:8080',
    (c) => expect(c.httpAddr).toEqual({ host: '0.0.0.0', port: 8080 }),
  ],
  [
    'DOVEWARDEN_HTTP_ADDR',
    'localhost:8080',
    (c) => expect(c.httpAddr).toEqual({ host: 'localhost', port: 8080 }),
  ],
  [
    'DOVEWARDEN_HTTP_ADDR',
    '[::]:8080',
    (c) => expect(c.httpAddr).toEqual({ host: '::', port: 8080 }),
  ],
  ['DOVEWARDEN_METRICS_ADDR', ':9090', (c) => expect(c.metricsAddr).toEqual({ port: 9090 })],
  ['DOVEWARDEN_METRICS_ADDR', ':8081', (c) => expect(c.metricsAddr).toEqual({ port: 8081 })],
  ['DOVEWARDEN_REDIS_MODE', 'inmemory', (c) => expect(c.redisMode).toBe('inmemory')],
  ['DOVEWARDEN_REDIS_MODE', 'external', (c) => expect(c.redisMode).toBe('external')],
  [
    'DOVEWARDEN_REDIS_ADDR',
    'localhost:6379',
    (c) => expect(c.redisAddr).toMatchObject({ host: 'localhost', port: 6379, db: 0 }),
  ],
  // In inmemory mode Go's miniredis listened on REDIS_ADDR; the embedded redis-server here
  // listens on a unix socket. "" was any free port there too, so it gets no warning.
  [
    'DOVEWARDEN_REDIS_ADDR',
    '127.0.0.1:6380',
    (c) => expect(c.redisMode).toBe('inmemory'),
    /DOVEWARDEN_REDIS_ADDR\) is "127.0.0.1:6380", but inmemory mode does not use it/,
  ],
  [
    'DOVEWARDEN_REDIS_ADDR',
    ':6379',
    (c) => expect(c.redisMode).toBe('inmemory'),
    /DOVEWARDEN_REDIS_ADDR\) is ":6379", but inmemory mode does not use it/,
  ],
  ['DOVEWARDEN_REDIS_ADDR', '', (c) => expect(c.redisMode).toBe('inmemory')],
  ['DOVEWARDEN_NAMESPACE', 'dovewarden', (c) => expect(c.namespace).toBe('dovewarden')],
  ['DOVEWARDEN_NAMESPACE', 'dw-prod_2.a', (c) => expect(c.namespace).toBe('dw-prod_2.a')],
  ['DOVEWARDEN_NUM_WORKERS', '4', (c) => expect(c.numWorkers).toBe(4)],
  ['DOVEWARDEN_NUM_WORKERS', '8', (c) => expect(c.numWorkers).toBe(8)],
  ['DOVEWARDEN_NUM_WORKERS', '1', (c) => expect(c.numWorkers).toBe(1)],
  // Go ran 32 syncs at once; here max-parallel-syncs (default 10) caps them all.
  [
    'DOVEWARDEN_NUM_WORKERS',
    '32',
    (c) => expect(c.numWorkers).toBe(32),
    /DOVEWARDEN_NUM_WORKERS\) is 32, but --max-parallel-syncs .* lets only 10 syncs run/,
  ],
  [
    'DOVEWARDEN_DOVEADM_URL',
    'http://localhost:8080',
    (c) => expect(c.doveadm.url).toBe('http://localhost:8080'),
  ],
  [
    'DOVEWARDEN_DOVEADM_URL',
    'http://doveadm:8080',
    (c) => expect(c.doveadm.url).toBe('http://doveadm:8080'),
  ],
  [
    'DOVEWARDEN_DOVEADM_URL',
    'https://mail-a.example.com:8080/',
    (c) => expect(c.doveadm.url).toBe('https://mail-a.example.com:8080'),
  ],
  [
    'DOVEWARDEN_DOVEADM_PASSWORD',
    'doveadm',
    (c) => expect(c.doveadm.password?.reveal()).toBe('doveadm'),
  ],
  ['DOVEWARDEN_DOVEADM_DEST', 'imap', (c) => expect(c.doveadm.destinations).toEqual(['imap'])],
  [
    'DOVEWARDEN_DOVEADM_DEST',
    'tcp:dovecot-b:12345',
    (c) => expect(c.doveadm.destinations).toEqual(['tcp:dovecot-b:12345']),
  ],
  ...(
    [
      ['debug', 'debug'],
      ['info', 'info'],
      ['warn', 'warn'],
      ['warning', 'warn'],
      ['error', 'error'],
      ['err', 'error'],
      ['DEBUG', 'debug'],
      ['Info', 'info'],
      ['WARNING', 'warn'],
      ['Err', 'error'],
    ] as const
  ).map(([given, level]): Row => [
    'DOVEWARDEN_LOG_LEVEL',
    given,
    (c) => expect(c.logLevel).toBe(level),
  ]),
  // Go's environment reading took only "true" and "1" as true: the other strconv.ParseBool
  // spellings of true (and yes/on) turned background replication off there. They mean on.
  ...['true', '1'].map((given): Row => [
    'DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED',
    given,
    (c) => expect(background(c).enabled).toBe(true),
  ]),
  ...['t', 'T', 'TRUE', 'True', 'yes', 'on'].map((given): Row => [
    'DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED',
    given,
    (c) => expect(background(c).enabled).toBe(true),
    /DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED\) is ".+": read as true, where the Go dovewarden read it as false/,
  ]),
  ...['0', 'f', 'F', 'FALSE', 'false', 'False', 'no', 'off'].map((given): Row => [
    'DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED',
    given,
    (c) => expect(background(c).enabled).toBe(false),
  ]),
  // time.ParseDuration's forms.
  ...(
    [
      ['1h', HOUR],
      ['30m', 1_800_000],
      ['90s', 90_000],
      ['1h30m', 5_400_000],
      ['2h45m30.5s', 9_930_500],
      ['500ms', 500],
      ['1.5h', 5_400_000],
      ['.5h', 1_800_000],
      ['1.h', HOUR],
      ['+1h', HOUR],
      ['1000000ns', 1],
      ['3000us', 3],
      ['3000\u00b5s', 3],
      ['3000\u03bcs', 3],
    ] as const
  ).map(([given, ms]): Row => [
    'DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL',
    given,
    (c) => expect(background(c).intervalMs).toBe(ms),
  ]),
  // A positive duration Go took, under a millisecond: 1 ms here, never 0 (which is refused).
  [
    'DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL',
    '300us',
    (c) => expect(background(c).intervalMs).toBe(1),
    /DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL\) is "300us": rounded to 1ms/,
  ],
  [
    'DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD',
    '24h',
    (c) => expect(background(c).thresholdMs).toBe(24 * HOUR),
  ],
  [
    'DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD',
    '168h',
    (c) => expect(background(c).thresholdMs).toBe(168 * HOUR),
  ],
  [
    'DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD',
    '1h30m',
    (c) => expect(background(c).thresholdMs).toBe(5_400_000),
  ],
  // Go ignored 0 and kept 24h; here 0 means no user is skipped, as the README says.
  ...['0', '0s', '-0'].map((given): Row => [
    'DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD',
    given,
    (c) => expect(background(c).thresholdMs).toBe(0),
    /DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD\) is 0: no user is skipped.*Go dovewarden ignored 0 and kept 24h/,
  ]),
];

/** Variables outside the README that the Go dovewarden read or its set-ups set. */
const OTHER_GO_VALUES: Row[] = [
  // LOGGING.md: LOG_FORMAT, without the prefix; json, anything else text.
  ['LOG_FORMAT', 'json', (c) => expect(c.logFormat).toBe('json')],
  ['LOG_FORMAT', 'JSON', (c) => expect(c.logFormat).toBe('json')],
  ['LOG_FORMAT', 'text', (c) => expect(c.logFormat).toBe('text')],
  [
    'LOG_FORMAT',
    'logfmt',
    (c) => expect(c.logFormat).toBe('text'),
    /LOG_FORMAT is "logfmt": read as text, as the Go dovewarden did/,
  ],
  // docker-compose.yaml sets it; Go never read it (the Doveadm API user is always doveadm).
  ['DOVEWARDEN_DOVEADM_USER', 'doveadm', (c) => expect(c.doveadm.url).toBeDefined()],
  [
    'DOVEWARDEN_DOVEADM_USER',
    'admin',
    (c) => expect(c.doveadm.url).toBeDefined(),
    /DOVEWARDEN_DOVEADM_USER is ignored: the Doveadm API user is always "doveadm"/,
  ],
  // Go ignored every other DOVEWARDEN_* variable; those not from Kubernetes may be typos.
  [
    'DOVEWARDEN_NUM_WORKER',
    '8',
    (c) => expect(c.numWorkers).toBe(4),
    /DOVEWARDEN_NUM_WORKER is not a setting and is ignored/,
  ],
];

/**
 * helm/dovewarden/values.yaml's defaults as templates/deployment.yaml renders them (each
 * value `| toString` or in quotes). REDIS_ADDR only when redis.mode is external, and the
 * password (from a Secret) only when doveadm.password is set; configmap.yaml's config.yaml is
 * read by nothing.
 */
const CHART_DEFAULT_ENV: Record<string, string> = {
  DOVEWARDEN_HTTP_ADDR: ':8080', // config.httpAddr
  DOVEWARDEN_METRICS_ADDR: ':9090', // config.metricsAddr
  DOVEWARDEN_REDIS_MODE: 'inmemory', // config.redis.mode
  DOVEWARDEN_NAMESPACE: 'dovewarden', // config.namespace
  DOVEWARDEN_NUM_WORKERS: '4', // config.numWorkers
  DOVEWARDEN_LOG_LEVEL: 'info', // config.logLevel
  DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'true', // config.backgroundReplication.enabled
  DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL: '1h', // config.backgroundReplication.interval
  DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD: '24h', // config.backgroundReplication.threshold
  DOVEWARDEN_DOVEADM_URL: 'http://doveadm:8080', // config.doveadm.url
  DOVEWARDEN_DOVEADM_DEST: '', // config.doveadm.destination
};

/**
 * What Kubernetes adds to the pod for the chart's Services with `helm install dovewarden`
 * (its fullname is then "dovewarden"): the events Service and the metrics Service.
 */
const CHART_SERVICE_LINKS: Record<string, string> = {
  DOVEWARDEN_SERVICE_HOST: '10.96.0.10',
  DOVEWARDEN_SERVICE_PORT: '8080',
  DOVEWARDEN_SERVICE_PORT_HTTP: '8080',
  DOVEWARDEN_PORT: 'tcp://10.96.0.10:8080',
  DOVEWARDEN_PORT_8080_TCP: 'tcp://10.96.0.10:8080',
  DOVEWARDEN_PORT_8080_TCP_PROTO: 'tcp',
  DOVEWARDEN_PORT_8080_TCP_PORT: '8080',
  DOVEWARDEN_PORT_8080_TCP_ADDR: '10.96.0.10',
  DOVEWARDEN_METRICS_SERVICE_HOST: '10.96.0.11',
  DOVEWARDEN_METRICS_SERVICE_PORT: '9090',
  DOVEWARDEN_METRICS_SERVICE_PORT_METRICS: '9090',
  DOVEWARDEN_METRICS_PORT: 'tcp://10.96.0.11:9090',
  DOVEWARDEN_METRICS_PORT_9090_TCP: 'tcp://10.96.0.11:9090',
  DOVEWARDEN_METRICS_PORT_9090_TCP_PROTO: 'tcp',
  DOVEWARDEN_METRICS_PORT_9090_TCP_PORT: '9090',
  DOVEWARDEN_METRICS_PORT_9090_TCP_ADDR: '10.96.0.11',
};

/** The chart's values that a user must set for Go to sync at all (its comments say so). */
const CHART_REQUIRED_ENV: Record<string, string> = {
  DOVEWARDEN_DOVEADM_PASSWORD: 'chart-secret', // config.doveadm.password, through the Secret
  DOVEWARDEN_DOVEADM_DEST: 'tcp:dovecot-b:12345', // config.doveadm.destination
};

/** Each chart value the deployment template turns into env, with its default. */
const CHART_VALUES: Row[] = [
  ...Object.entries(CHART_DEFAULT_ENV)
    .filter(([name]) => name !== 'DOVEWARDEN_DOVEADM_DEST')
    .map(([name, value]): Row => [name, value, (c) => expect(c).toBeDefined()]),
  [
    'DOVEWARDEN_DOVEADM_URL',
    'http://doveadm:8080',
    (c) => expect(c.doveadm.url).toBe('http://doveadm:8080'),
  ],
  [
    'DOVEWARDEN_DOVEADM_DEST',
    'tcp:dovecot-b:12345',
    (c) => expect(c.doveadm.destinations).toEqual(['tcp:dovecot-b:12345']),
  ],
  // `enabled: false` renders "false" (toString), numWorkers 8 renders "8".
  [
    'DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED',
    'false',
    (c) => expect(background(c).enabled).toBe(false),
  ],
  ['DOVEWARDEN_NUM_WORKERS', '8', (c) => expect(c.numWorkers).toBe(8)],
];

describe('the Go dovewarden environment, one value at a time', () => {
  it.each([...README_VALUES, ...OTHER_GO_VALUES, ...CHART_VALUES])(
    '%s=%p',
    // A rest parameter: jest would take a fourth named one, absent from a row, for `done`.
    (...row: Row) => {
      const [name, value, check, warning] = row;
      const { config, warnings } = fromEnv({ [name]: value });
      check(config);
      if (warning === undefined) {
        expect(warnings).toEqual([]);
      } else {
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(warning);
      }
    },
  );

  it('covers every variable of the Go README and of the chart', () => {
    const covered = new Set([...README_VALUES, ...CHART_VALUES].map(([name]) => name));
    for (const name of [
      'DOVEWARDEN_HTTP_ADDR',
      'DOVEWARDEN_METRICS_ADDR',
      'DOVEWARDEN_REDIS_MODE',
      'DOVEWARDEN_REDIS_ADDR',
      'DOVEWARDEN_NAMESPACE',
      'DOVEWARDEN_NUM_WORKERS',
      'DOVEWARDEN_DOVEADM_URL',
      'DOVEWARDEN_DOVEADM_PASSWORD',
      'DOVEWARDEN_DOVEADM_DEST',
      'DOVEWARDEN_LOG_LEVEL',
      'DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED',
      'DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL',
      'DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD',
      ...Object.keys(CHART_DEFAULT_ENV),
    ]) {
      expect(covered).toContain(name);
    }
  });

  it('lets a flag win over the environment, as Go did', () => {
    const argv = withConfigOptions(yargs(['--num-workers', '6']), { DOVEWARDEN_NUM_WORKERS: '3' })
      .exitProcess(false)
      .parseSync();
    expect(buildConfig(argv as RawOptions, 'all', () => undefined).numWorkers).toBe(6);
  });

  it('lets DOVEWARDEN_LOG_FORMAT win over LOG_FORMAT', () => {
    expect(settingsFromEnv({ LOG_FORMAT: 'text', DOVEWARDEN_LOG_FORMAT: 'json' }).values).toEqual({
      'log-format': 'json',
    });
  });
});

/**
 * Values Go took only in the sense that it could not read them and silently used its default
 * (or, for the empty destination, ran syncs that could never work). They are mistakes whose
 * meaning Go hid, so they stop start-up here with one line naming the setting.
 */
describe('Go values that are still refused', () => {
  it.each([
    ['DOVEWARDEN_NUM_WORKERS', '0'], // Go: 4
    ['DOVEWARDEN_NUM_WORKERS', '-2'], // Go: 4
    ['DOVEWARDEN_NUM_WORKERS', 'lots'], // Go: 4
    ['DOVEWARDEN_NUM_WORKERS', ''], // Go: 4
    ['DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL', '0'], // Go: 1h
    ['DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL', '-1h'], // Go: 1h
    ['DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL', '3600'], // Go: 1h (no unit)
    ['DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL', '1 day'], // Go: 1h
    ['DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD', '-24h'], // Go: 24h
    ['DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD', ''], // Go: 24h
    ['DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED', 'maybe'], // Go: false
    ['DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED', ''], // Go: false
    ['DOVEWARDEN_LOG_LEVEL', 'trace'], // Go: a warning, then info
    ['DOVEWARDEN_LOG_LEVEL', ''], // Go: a warning, then info
    ['DOVEWARDEN_REDIS_MODE', ''], // Go: exit 1
    ['DOVEWARDEN_HTTP_ADDR', ''], // Go: a random port
    ['DOVEWARDEN_DOVEADM_URL', 'doveadm:8080'], // Go: every call fails
    ['DOVEWARDEN_DOVEADM_DEST', ''], // the chart's default; Go: every sync fails
    ['DOVEWARDEN_NAMESPACE', ''], // Go: keys named ":..."
    ['DOVEWARDEN_NAMESPACE', 'mail:dw'], // Go: fine; here key patterns need a plain name
  ])('%s=%p', (name, value) => {
    const error = refusal({ [name]: value });
    expect(error.message).toContain(`(${name})`);
    expect(error.message).not.toContain('\n');
  });
});

describe('whole Go environments', () => {
  /** The Go README's table as an env file: every variable at its documented default. */
  const README_DEFAULTS = {
    DOVEWARDEN_HTTP_ADDR: ':8080',
    DOVEWARDEN_METRICS_ADDR: ':9090',
    DOVEWARDEN_REDIS_MODE: 'inmemory',
    DOVEWARDEN_REDIS_ADDR: 'localhost:6379',
    DOVEWARDEN_NAMESPACE: 'dovewarden',
    DOVEWARDEN_NUM_WORKERS: '4',
    DOVEWARDEN_DOVEADM_URL: 'http://localhost:8080',
    DOVEWARDEN_DOVEADM_PASSWORD: 'readme-secret', // "(required)"
    DOVEWARDEN_DOVEADM_DEST: 'imap',
    DOVEWARDEN_LOG_LEVEL: 'info',
    DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'true',
    DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL: '1h',
    DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD: '24h',
  };

  /**
   * Go ran everything in one process, like "dovewarden all". The separate processes need a
   * shared Redis (external) and the admin UI its password: settings Go did not have.
   */
  function forRole(env: Record<string, string>, role: AppRole): Record<string, string> {
    if (role === 'all' || role === 'tool') return env;
    return {
      ...env,
      DOVEWARDEN_REDIS_MODE: 'external',
      ...(role === 'admin' ? { DOVEWARDEN_ADMIN_PASSWORD: 'admin-secret' } : {}),
    };
  }
  const ROLES: AppRole[] = ['all', 'ingest', 'worker', 'scheduler', 'admin', 'tool'];

  it.each(ROLES)("the README's defaults start %s with Go's meaning", (role) => {
    const { config, warnings } = fromEnv(forRole(README_DEFAULTS, role), role);
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      httpAddr: { port: 8080 },
      metricsAddr: { port: 9090 },
      redisAddr: { host: 'localhost', port: 6379 },
      namespace: 'dovewarden',
      numWorkers: 4,
      doveadm: { url: 'http://localhost:8080', destinations: ['imap'] },
      logLevel: 'info',
      backgroundReplication: { enabled: true, intervalMs: HOUR, thresholdMs: 24 * HOUR },
    });
    expect(config.doveadm.password?.reveal()).toBe('readme-secret');
  });

  it.each([
    // README: "Can be disabled by setting DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED=false".
    [{ DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'false' }, []],
    // IMPLEMENTATION.md: DOVEWARDEN_HTTP_ADDR=:3000 ./dovewarden
    [{ DOVEWARDEN_HTTP_ADDR: ':3000' }, []],
    // DEQUEUE_IMPLEMENTATION.md's usage example, in Go's (only) inmemory mode.
    [
      { DOVEWARDEN_NUM_WORKERS: '8', DOVEWARDEN_REDIS_ADDR: '127.0.0.1:6380' },
      [/DOVEWARDEN_REDIS_ADDR\) is "127.0.0.1:6380", but inmemory mode does not use it/],
    ],
    // docker-compose.yaml's dovewarden service.
    [
      {
        DOVEWARDEN_DOVEADM_DEST: 'tcp:host.docker.internal:31345',
        DOVEWARDEN_DOVEADM_PASSWORD: 'doveadm',
        DOVEWARDEN_DOVEADM_URL: 'http://host.docker.internal:30080',
        DOVEWARDEN_DOVEADM_USER: 'doveadm',
      },
      [],
    ],
  ] as Array<[Record<string, string>, RegExp[]]>)(
    'the Go docs example %j starts dovewarden all',
    (env, expected) => {
      const { warnings } = fromEnv({ ...README_DEFAULTS, ...env }, 'all');
      expect(warnings).toHaveLength(expected.length);
      expected.forEach((pattern, index) => expect(warnings[index]).toMatch(pattern));
    },
  );

  it("refuses the chart's bare defaults for their empty destination, as Go could not sync", () => {
    const error = refusal({ ...CHART_DEFAULT_ENV, ...CHART_SERVICE_LINKS });
    expect(error.option).toBe('doveadm-dest');
    expect(error.message).toMatch(/expected a dsync destination such as tcp:replica:12345, got ""/);
  });

  it.each(ROLES)("the chart's defaults, with Kubernetes' Service links, start %s", (role) => {
    const env = { ...CHART_DEFAULT_ENV, ...CHART_SERVICE_LINKS, ...CHART_REQUIRED_ENV };
    const { config, warnings } = fromEnv(
      forRole(
        role === 'all' || role === 'tool' ? env : { ...env, DOVEWARDEN_REDIS_ADDR: 'redis:6379' },
        role,
      ),
      role,
    );
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      httpAddr: { port: 8080 },
      metricsAddr: { port: 9090 },
      namespace: 'dovewarden',
      numWorkers: 4,
      logLevel: 'info',
      doveadm: { url: 'http://doveadm:8080', destinations: ['tcp:dovecot-b:12345'] },
      backgroundReplication: { enabled: true, intervalMs: HOUR, thresholdMs: 24 * HOUR },
    });
    expect(config.doveadm.password?.reveal()).toBe('chart-secret');
    if (role !== 'all' && role !== 'tool') {
      expect(config.redisAddr).toMatchObject({ host: 'redis', port: 6379 });
    }
  });

  it("refuses inmemory (the chart's default) for a separate process, with one clear line", () => {
    const env = { ...CHART_DEFAULT_ENV, ...CHART_REQUIRED_ENV };
    for (const role of ['ingest', 'worker', 'scheduler'] as const) {
      expect(refusal(env, role).message).toMatch(/inmemory only works with "dovewarden all"/);
    }
  });
});
