import { buildConfig, roleNeedsDoveadm } from './config';
import { ConfigError } from './config-error';
import { parseDuration } from './duration';
import { parseListenAddress, parseRedisTarget } from './address';
import { inspect } from 'node:util';

const withPassword = { 'doveadm-password': 'pw-123456', 'redis-mode': 'external' };

describe('buildConfig', () => {
  it('uses the original dovewarden defaults', () => {
    const config = buildConfig({}, 'all');
    expect(config.httpAddr).toEqual({ host: undefined, port: 8080 });
    expect(config.metricsAddr).toEqual({ host: undefined, port: 9090 });
    expect(config.redisMode).toBe('inmemory');
    expect(config.redisAddr).toMatchObject({ host: 'localhost', port: 6379, db: 0 });
    expect(config.namespace).toBe('dovewarden');
    expect(config.numWorkers).toBe(4);
    expect(config.doveadm.url).toBe('http://localhost:8080');
    expect(config.doveadm.destinations).toEqual(['imap']);
    expect(config.logLevel).toBe('info');
    expect(config.backgroundReplication).toMatchObject({
      enabled: true,
      intervalMs: 3_600_000,
      thresholdMs: 86_400_000,
    });
  });

  it('requires doveadm credentials for worker and scheduler only', () => {
    expect(() => buildConfig({ 'redis-mode': 'external' }, 'worker')).toThrow(
      /missing --doveadm-password \(DOVEWARDEN_DOVEADM_PASSWORD\)/,
    );
    expect(() => buildConfig({ 'redis-mode': 'external' }, 'scheduler')).toThrow(ConfigError);
    expect(() => buildConfig({ 'redis-mode': 'external' }, 'ingest')).not.toThrow();
    expect(buildConfig({ ...withPassword }, 'worker').doveadm.password?.reveal()).toBe('pw-123456');
    expect(
      buildConfig(
        { 'redis-mode': 'external', 'doveadm-api-key': 'k-1234' },
        'worker',
      ).doveadm.apiKey?.reveal(),
    ).toBe('k-1234');
    expect(roleNeedsDoveadm('ingest')).toBe(false);
  });

  it('rejects inmemory Redis for a single app', () => {
    expect(() => buildConfig({ 'doveadm-password': 'x' }, 'worker')).toThrow(
      /--redis-mode \(DOVEWARDEN_REDIS_MODE\).*inmemory only works with "dovewarden all"/,
    );
    expect(() => buildConfig({}, 'ingest')).toThrow(ConfigError);
  });

  it.each([
    [
      'num-workers',
      'abc',
      /--num-workers \(DOVEWARDEN_NUM_WORKERS\): expected an integer from 1 to 1000, got "abc"/,
    ],
    ['num-workers', '0', /NUM_WORKERS/],
    ['http-addr', 'eighty', /--http-addr \(DOVEWARDEN_HTTP_ADDR\)/],
    ['metrics-addr', ':99999', /DOVEWARDEN_METRICS_ADDR/],
    ['redis-mode', 'cluster', /DOVEWARDEN_REDIS_MODE\): expected one of inmemory, external/],
    ['redis-addr', 'nohostport', /DOVEWARDEN_REDIS_ADDR/],
    ['log-level', 'loud', /DOVEWARDEN_LOG_LEVEL/],
    [
      'background-replication-enabled',
      'maybe',
      /DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED\): expected true or false/,
    ],
    ['background-replication-interval', '0', /DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL/],
    ['background-replication-threshold', '1 day', /DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD/],
    ['doveadm-url', 'ftp://x', /DOVEWARDEN_DOVEADM_URL/],
    ['doveadm-url', 'http://doveadm:secret@host', /not in the URL/],
    ['namespace', 'a b', /DOVEWARDEN_NAMESPACE/],
  ])('names the option when %s is %p', (option, value, pattern) => {
    let thrown: unknown;
    try {
      buildConfig({ ...withPassword, [option]: value }, 'all');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const message = (thrown as ConfigError).message;
    expect(message).toMatch(pattern);
    expect(message).not.toContain('\n');
  });

  it("takes the Go dovewarden's spellings: LOG_LEVEL=warning, Go booleans, LOG_FORMAT", () => {
    const spellings: Array<[string, boolean]> = [
      ['yes', true],
      ['t', true],
      ['TRUE', true],
      ['no', false],
      ['F', false],
      ['0', false],
    ];
    for (const [given, enabled] of spellings) {
      // Go's environment reading took yes, t and TRUE as false: that gets a warning.
      const warnings: string[] = [];
      const config = buildConfig(
        {
          ...withPassword,
          'log-level': 'warning',
          'log-format': 'TEXT',
          'background-replication-enabled': given,
        },
        'worker',
        (warning) => warnings.push(warning),
      );
      expect(warnings).toHaveLength(enabled ? 1 : 0);
      expect(config.logLevel).toBe('warn');
      expect(config.logFormat).toBe('text');
      expect(config.backgroundReplication.enabled).toBe(enabled);
    }
    expect(buildConfig(withPassword, 'worker').logFormat).toBe('json');
    expect(() => buildConfig({ ...withPassword, 'log-format': 'xml' }, 'worker')).toThrow(
      /DOVEWARDEN_LOG_FORMAT/,
    );
  });

  it('accepts the documented value forms', () => {
    const config = buildConfig(
      {
        ...withPassword,
        'http-addr': '127.0.0.1:18080',
        'metrics-addr': '[::1]:19090',
        'redis-addr': 'rediss://user:p%40ss@redis.example:6380/2',
        'background-replication-enabled': 'false',
        'background-replication-interval': '1h30m',
        'background-replication-threshold': '0',
        'log-level': 'DEBUG',
      },
      'worker',
    );
    expect(config.httpAddr).toEqual({ host: '127.0.0.1', port: 18080 });
    expect(config.metricsAddr).toEqual({ host: '::1', port: 19090 });
    expect(config.redisAddr).toEqual({
      host: 'redis.example',
      port: 6380,
      username: 'user',
      password: 'p@ss',
      db: 2,
      tls: true,
    });
    expect(config.backgroundReplication).toMatchObject({
      enabled: false,
      intervalMs: 5_400_000,
      thresholdMs: 0,
    });
    expect(config.logLevel).toBe('debug');
  });

  it("sends dsync's own timeout so that our wait outlasts it and the lock wait", () => {
    const quiet = (): void => undefined;
    const defaults = buildConfig(withPassword, 'worker', quiet).doveadm;
    // 10m - 30s - 5s margin.
    expect(defaults.dsyncTimeoutSeconds).toBe(565);
    expect((defaults.lockTimeoutSeconds + defaults.dsyncTimeoutSeconds) * 1000).toBeLessThan(
      defaults.timeoutMs,
    );
    const warnings: string[] = [];
    const short = buildConfig(
      { ...withPassword, 'sync-timeout': '2s', 'sync-lock-timeout': '1s' },
      'worker',
      (w) => warnings.push(w),
    ).doveadm;
    expect(short.dsyncTimeoutSeconds).toBe(1);
    expect(warnings.join('\n')).toMatch(/SYNC_TIMEOUT.*shorter than the lock wait/);
    const none: string[] = [];
    buildConfig(withPassword, 'worker', (w) => none.push(w));
    expect(none).toEqual([]);
  });

  it("takes A's doveadm TCP listener for syncs, as tcp:HOST:PORT", () => {
    const quiet = (): void => undefined;
    const addr = (value: string): string | undefined =>
      buildConfig({ ...withPassword, 'doveadm-tcp-addr': value }, 'worker', quiet).doveadm.tcpAddr;
    expect(buildConfig(withPassword, 'worker', quiet).doveadm.tcpAddr).toBeUndefined();
    expect(addr('tcp:mail-a:12345')).toBe('tcp:mail-a:12345');
    expect(addr('10.0.0.1:12345')).toBe('tcp:10.0.0.1:12345');
    expect(addr('[::1]:12345')).toBe('tcp:[::1]:12345');
    for (const bad of ['mail-a', 'http://mail-a:8080', 'tcp:mail-a:0', 'tcp:mail-a:99999'])
      expect(() => addr(bad)).toThrow(/DOVEADM_TCP_ADDR.*tcp:HOST:PORT/);
  });

  it('never prints the doveadm password', () => {
    const config = buildConfig({ ...withPassword }, 'worker');
    expect(JSON.stringify(config)).not.toContain('pw-123456');
    expect(inspect(config, { depth: 10 })).not.toContain('pw-123456');
    expect(String(config.doveadm.password)).toBe('[redacted]');
  });
});

describe('Redis Sentinel and Cluster', () => {
  const external = { 'redis-mode': 'external' };

  it('leaves the single-server target and the key names as they were', () => {
    const config = buildConfig({ ...external }, 'ingest');
    expect(config.redisAddr).toStrictEqual({
      host: 'localhost',
      port: 6379,
      username: undefined,
      password: undefined,
      db: 0,
      tls: false,
    });
    expect(config.namespace).toBe('dovewarden');
  });

  it('finds the master through Sentinels, with credentials from a redis:// redis-addr', () => {
    const config = buildConfig(
      {
        ...external,
        'redis-addr': 'redis://app:pw-redis@ignored:6379/3',
        'redis-sentinels': ' 10.0.0.1:26379, [fd00::2]:26380,10.0.0.1:26379 ',
        'redis-sentinel-master': 'dovewarden-master',
        'redis-sentinel-password': 'pw-sentinel',
      },
      'ingest',
    );
    expect(config.redisAddr).toMatchObject({
      username: 'app',
      password: 'pw-redis',
      db: 3,
      sentinel: {
        nodes: [
          { host: '10.0.0.1', port: 26379 },
          { host: 'fd00::2', port: 26380 },
        ],
        masterName: 'dovewarden-master',
      },
    });
    expect(config.redisAddr.sentinel?.password?.reveal()).toBe('pw-sentinel');
    expect(inspect(config, { depth: 10 })).not.toContain('pw-sentinel');
    // Sentinel keeps one keyspace per master, so the key names stay as they were.
    expect(config.namespace).toBe('dovewarden');
    expect(
      buildConfig({ ...external, 'redis-sentinels': 'h:1' }, 'ingest').redisAddr,
    ).toMatchObject({ sentinel: { masterName: 'mymaster', password: undefined } });
  });

  it('puts every key under one hash tag with Cluster', () => {
    const config = buildConfig(
      {
        ...external,
        'redis-addr': 'rediss://:pw@unused:6379',
        'redis-cluster-nodes': 'n1:7000,n2:7001',
        namespace: 'dw',
      },
      'ingest',
    );
    expect(config.redisAddr).toMatchObject({
      password: 'pw',
      tls: true,
      cluster: {
        nodes: [
          { host: 'n1', port: 7000 },
          { host: 'n2', port: 7001 },
        ],
      },
    });
    expect(config.redisAddr.sentinel).toBeUndefined();
    expect(config.namespace).toBe('{dw}');
  });

  it('treats empty lists as unset', () => {
    const config = buildConfig(
      { ...external, 'redis-sentinels': '', 'redis-cluster-nodes': ' , ' },
      'ingest',
    );
    expect(config.redisAddr.sentinel).toBeUndefined();
    expect(config.redisAddr.cluster).toBeUndefined();
  });

  it.each([
    [
      { ...external, 'redis-sentinels': 'a:1', 'redis-cluster-nodes': 'b:2' },
      /^invalid --redis-sentinels \(DOVEWARDEN_REDIS_SENTINELS\): set it or --redis-cluster-nodes \(DOVEWARDEN_REDIS_CLUSTER_NODES\), not both$/,
    ],
    [
      { 'redis-sentinels': 'a:1' },
      /^invalid --redis-sentinels \(DOVEWARDEN_REDIS_SENTINELS\): it needs --redis-mode \(DOVEWARDEN_REDIS_MODE\) set to external/,
    ],
    [
      { 'redis-mode': 'inmemory', 'redis-cluster-nodes': 'a:1' },
      /^invalid --redis-cluster-nodes \(DOVEWARDEN_REDIS_CLUSTER_NODES\): it needs --redis-mode/,
    ],
    [
      { ...external, 'redis-cluster-nodes': 'a:1,b' },
      /^invalid --redis-cluster-nodes \(DOVEWARDEN_REDIS_CLUSTER_NODES\): expected host:port pairs, comma-separated, such as 10.0.0.1:6379, got "b"$/,
    ],
    [{ ...external, 'redis-sentinels': 'a:99999' }, /DOVEWARDEN_REDIS_SENTINELS\).*got "a:99999"/],
    [
      { ...external, 'redis-sentinels': 'a:1', 'redis-sentinel-master': ' ' },
      /DOVEWARDEN_REDIS_SENTINEL_MASTER/,
    ],
    [
      { ...external, 'redis-cluster-nodes': 'a:1', 'redis-addr': 'redis://h/2' },
      /^invalid --redis-addr \(DOVEWARDEN_REDIS_ADDR\): Redis Cluster has only database 0, got \/2/,
    ],
  ])('refuses %p with one line', (raw, pattern) => {
    let thrown: unknown;
    try {
      buildConfig(raw, 'ingest');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).message).toMatch(pattern);
    expect((thrown as ConfigError).message).not.toContain('\n');
  });
});

describe('parseDuration', () => {
  it.each([
    ['1h', 3_600_000],
    ['24h', 86_400_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['0', 0],
    // The rest of Go's time.ParseDuration grammar.
    ['.5s', 500],
    ['1.s', 1000],
    ['+2m', 120_000],
    ['-0', 0],
    ['1500us', 2],
    ['2000000ns', 2],
    ['1\u00b5s', 1],
    ['300us', 1],
    ['1d', 86_400_000],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'h', '10', '1x', '1h 30m', '-1s', '.s', '1H', '1.5', '+', '1m-1s'])(
    'rejects %p',
    (text) => expect(parseDuration(text)).toBeUndefined(),
  );
});

describe('addresses', () => {
  it('parses Go-style listen addresses', () => {
    expect(parseListenAddress(':8080')).toEqual({ host: undefined, port: 8080 });
    expect(parseListenAddress('0.0.0.0:1')).toEqual({ host: '0.0.0.0', port: 1 });
    expect(parseListenAddress('8080')).toBeUndefined();
    expect(parseListenAddress('::1:8080')).toBeUndefined();
  });

  it('parses Redis targets', () => {
    expect(parseRedisTarget('localhost:6379')).toMatchObject({
      host: 'localhost',
      port: 6379,
      tls: false,
    });
    expect(parseRedisTarget('redis://h')).toMatchObject({ host: 'h', port: 6379, db: 0 });
    expect(parseRedisTarget('redis://h/x')).toBeUndefined();
    expect(parseRedisTarget(':6379')).toBeUndefined();
  });
});
