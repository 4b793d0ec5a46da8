import {
  type AppContext,
  type AppRole,
  type Config,
  ConfigError,
  EmbeddedRedis,
  GracefulShutdown,
  type Logger,
  RunMarker,
  connectApp,
  Readiness,
  type RunningApp,
  closeHttp,
  createLogger,
  createMetricsRegistry,
  createOpsApp,
  formatListenAddress,
  hasDoveadmCredentials,
  listenHttp,
  optionLabel,
  otelSettingsFromEnv,
  startTelemetry,
} from '@dovewarden/shared';
import { registerReadinessMetric } from './readiness-metrics';

export type RunnableRole = Exclude<AppRole, 'tool'>;

/**
 * After a kill, events Dovecot sent while dovewarden was down are lost, and so may be the AOF's
 * last second. Which users that touched is unknown, so every user not synced since now is
 * stale for one early catch-up sweep: unchanged users cost a no-op incremental sync each.
 */
async function recordUncleanStop(config: Config, logger: Logger): Promise<void> {
  // Queues commands until the connection is up: the embedded Redis has just started.
  const { state, syncQueue, close } = connectApp(
    { config, logger },
    'dovewarden-start',
    'wait-for-redis',
  );
  try {
    const now = Date.now();
    await state.outage.record(now);
    // The AOF's last second may be gone: dsync states stored before now are not trusted.
    await state.destinations.markStatesSuspectBefore(now);
    // Nothing else uses the embedded Redis: the killed run's syncs run again now, not after
    // BullMQ's stall check (up to two lock durations).
    const requeued = await syncQueue.requeueJobsOfDeadRun();
    logger.warn(
      'the last run did not stop cleanly: a catch-up sweep will sync every user once to recover lost events, with a full sync where the stored state predates the crash',
      { requeuedSyncs: requeued.length },
    );
  } finally {
    await close();
  }
}

/**
 * Starts the apps of one role in this process, with one ops server (/metrics, /healthz,
 * /readyz) for all of them, and stops everything in reverse order on SIGTERM or SIGINT.
 */
export async function runApps(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel, { format: config.logFormat });
  const shutdown = new GracefulShutdown(logger);
  shutdown.installSignalHandlers();

  try {
    let effective = config;
    if (config.redisMode === 'inmemory') {
      // Removed last, and only by a clean stop.
      const marker = new RunMarker(config.dataDir);
      const embedded = await EmbeddedRedis.start({ dataDir: config.dataDir, logger });
      const uncleanStop = marker.begin();
      shutdown.add('run marker', () => Promise.resolve(marker.end()));
      shutdown.add('embedded redis', () => embedded.stop());
      effective = { ...config, redisAddr: embedded.target };
      if (uncleanStop) await recordUncleanStop(effective, logger);
    }

    const tracing = await startTelemetry(otelSettingsFromEnv(), logger);
    shutdown.add('telemetry', () => tracing.shutdown());
    const registry = createMetricsRegistry();
    const readiness = new Readiness();
    registerReadinessMetric(registry, readiness);
    const ctx: AppContext = {
      config: effective,
      logger,
      registry,
      readiness,
      telemetry: tracing.telemetry,
    };
    const apps: RunningApp[] = [];

    const role = config.role as RunnableRole;
    const wants = (app: RunnableRole): boolean => role === 'all' || role === app;
    // Each app is loaded only when this process runs it: a lone scheduler or ingest then holds
    // neither Bull Board nor the worker in memory.
    if (wants('ingest')) apps.push(await (await import('@dovewarden/ingest')).startIngest(ctx));
    // Without credentials only all-in-one mode gets this far (a lone worker or scheduler fails
    // config validation): events are still taken and queued, and nothing is lost.
    const canCallDoveadm = hasDoveadmCredentials(config);
    if (!canCallDoveadm && role === 'all') {
      logger.warn(
        `no doveadm credentials: syncs are queued but not run until ${optionLabel('doveadm-password')} is set and dovewarden restarted`,
      );
    }
    if (wants('worker') && canCallDoveadm)
      apps.push(await (await import('@dovewarden/worker')).startWorker(ctx));
    if ((wants('scheduler') || role === 'verifier') && canCallDoveadm) {
      const scheduler = await import('@dovewarden/scheduler');
      if (wants('scheduler')) apps.push(await scheduler.startScheduler(ctx));
      // The background verifier walks with the scheduler, or alone in its own role; one walker
      // at a time whatever runs it (DOVEWARDEN_VERIFY_ENABLED).
      apps.push(await scheduler.startVerifier(ctx));
    }
    if (wants('admin')) apps.push(await (await import('@dovewarden/admin')).startAdmin(ctx));
    for (const app of apps) shutdown.add(app.name, () => app.stop());

    const ops = await listenHttp(createOpsApp({ registry, readiness }), config.metricsAddr);
    shutdown.add('ops server', () => closeHttp(ops, 2000));
    logger.info('dovewarden started', {
      role,
      apps: apps.map((app) => app.name),
      metricsAddr: formatListenAddress(config.metricsAddr),
      redis: config.redisMode,
    });
  } catch (error: unknown) {
    // A ConfigError is the operator's to fix; main prints it as one line, without a stack.
    if (!(error instanceof ConfigError)) logger.error('start-up failed', { error });
    await shutdown.run('start-up failed');
    throw error;
  }
}
