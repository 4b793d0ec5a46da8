import { Worker } from 'bullmq';
import {
  type AppContext,
  JobName,
  type JobProcessor,
  QueueName,
  type RunningApp,
  connectApp,
  createJobProcessor,
  dsyncParameters,
  redisAnswers,
  replicaMailboxClients,
  sourceDoveadmClient,
  sourceSyncTcpClient,
} from '@dovewarden/shared';
import { retryDelayMs } from './backoff';
import { ConfigurationGate } from './configuration-gate';
import type { ReplicaFolderRepairDeps } from './replica-folder-repair';
import type { SyncApi } from './replicate-user';
import { createSyncUserProcessor } from './sync-user-processor';
import { WorkerMetrics } from './worker-metrics';

export interface WorkerOptions {
  /** Replaces the Doveadm HTTP client, for tests. */
  doveadm?: SyncApi;
  /** How the configuration gate checks that doveadm accepts us again; default: list its commands. */
  probe?: () => Promise<void>;
  /** Replaces the replica folder repair's clients, for tests. */
  replicaFolders?: readonly ReplicaFolderRepairDeps[];
  /** BullMQ lock duration: how soon a job of a worker that died is taken over. */
  lockDurationMs?: number;
}

/** A job survives this many worker deaths (kill -9, OOM) before BullMQ fails it. */
const MAX_STALLED_COUNT = 10;
const DEFAULT_LOCK_DURATION_MS = 15_000;

/** Runs NUM_WORKERS syncs at once from the replication queue. */
export async function startWorker(
  ctx: AppContext,
  options: WorkerOptions = {},
): Promise<RunningApp> {
  const logger = ctx.logger.child({ context: 'worker' });
  const settings = ctx.config.worker;
  const {
    redis: connection,
    state,
    syncQueue,
    close,
  } = connectApp({ ...ctx, logger }, 'dovewarden-worker', 'wait-for-redis');
  // The real client, unless a test hands in its own SyncApi.
  const client = options.doveadm === undefined ? sourceDoveadmClient(ctx.config) : undefined;
  // Syncs through A's doveadm TCP listener when configured: it keeps dsync's exit-2 state.
  const syncClient = client === undefined ? undefined : sourceSyncTcpClient(ctx.config);
  const doveadm: SyncApi | undefined = syncClient ?? client ?? options.doveadm;
  if (doveadm === undefined) throw new Error('no Doveadm API client');
  const probe =
    options.probe ??
    (async (): Promise<void> => {
      if (client === undefined) return;
      await client.commands();
    });
  // dsync -1 can leave a folder under an old name, or one the source deleted, on a replica for
  // good; the worker finishes those changes there (see replica-folder-repair).
  const replicas =
    client !== undefined && ctx.config.doveadm.syncMode === 'oneway'
      ? replicaMailboxClients(ctx.config)
      : [];
  const replicaFolders: readonly ReplicaFolderRepairDeps[] =
    options.replicaFolders ??
    (client === undefined
      ? []
      : replicas.map(({ client: replica, destination }) => ({
          source: client,
          replica,
          destination,
        })));
  // With the folder repair on: the source's mailboxes after a failed run (see replicate-user).
  const folderSource = replicaFolders[0]?.source;
  const sourceMailboxes =
    folderSource === undefined
      ? undefined
      : async (user: string, signal?: AbortSignal): Promise<string[]> =>
          (
            await folderSource.mailboxStatus(
              user,
              ['guid'],
              '*',
              signal === undefined ? {} : { signal },
            )
          ).map((row) => row.guid);
  const shutdown = new AbortController();
  const lockDuration = options.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS;

  // The queue-wide cap on running syncs, like replication_max_conns: a scaled-out fleet of
  // workers must not overload the doveadm service. Every worker sets it from its own config.
  await syncQueue.queue.setGlobalConcurrency(settings.maxParallelSyncs);

  // The gate pauses and resumes the worker made below (it acts only once jobs run).
  const activeGate: ConfigurationGate = new ConfigurationGate(
    {
      pause: (doNotWaitActive?: boolean): Promise<void> => worker.pause(doNotWaitActive),
      resume: (): void => void worker.resume(),
    },
    probe,
    logger,
  );
  const metrics: WorkerMetrics = new WorkerMetrics(
    ctx.registry,
    () => state.status.failedOrUnknownCount(),
    () => activeGate.paused,
  );
  // Start-up fails here on a job of the queue without a handler.
  const processor: JobProcessor = createJobProcessor(QueueName.Replication, {
    [JobName.SyncUser]: createSyncUserProcessor({
      doveadm,
      dsync: dsyncParameters(ctx.config),
      state,
      destinations: ctx.config.doveadm.destinations,
      logger,
      metrics,
      gate: activeGate,
      stopping: () => shutdown.signal.aborted,
      leaseTtlMs: lockDuration,
      retryBaseDelayMs: settings.retryBaseDelayMs,
      retryMaxDelayMs: settings.retryMaxDelayMs,
      stateTtlMs: settings.stateTtlMs,
      fullSyncIntervalMs: settings.fullSyncIntervalMs,
      replicaFolders,
      ...(sourceMailboxes === undefined ? {} : { sourceMailboxes }),
    }),
  });

  const worker: Worker = new Worker(
    QueueName.Replication,
    (job, token, signal): Promise<unknown> =>
      processor(
        job,
        token,
        signal === undefined ? shutdown.signal : AbortSignal.any([signal, shutdown.signal]),
      ),
    {
      connection,
      prefix: ctx.config.namespace,
      concurrency: ctx.config.numWorkers,
      autorun: false,
      lockDuration,
      stalledInterval: lockDuration,
      maxStalledCount: MAX_STALLED_COUNT,
      ...(ctx.telemetry === undefined ? {} : { telemetry: ctx.telemetry }),
      settings: {
        // Every sync job carries SYNC_BACKOFF_TYPE; jobs from older versions get the same.
        backoffStrategy: (attemptsMade: number) => retryDelayMs(attemptsMade, settings),
      },
    },
  );
  // While Redis is away BullMQ reports each failed poll, several a second: one line per 10 s.
  let lastErrorLogAt = 0;
  let suppressedErrors = 0;
  worker.on('error', (error: Error) => {
    const now = Date.now();
    if (now - lastErrorLogAt < 10_000) {
      suppressedErrors += 1;
      return;
    }
    logger.warn('worker error', { error: error.message, suppressedSinceLast: suppressedErrors });
    lastErrorLogAt = now;
    suppressedErrors = 0;
  });
  ctx.readiness.add('worker-redis', () => redisAnswers(connection));
  ctx.readiness.add('worker-running', () => worker.isRunning());
  ctx.readiness.add('doveadm-accepts-us', () => activeGate.readiness());
  void worker
    .run()
    .catch((error: unknown) => logger.error('worker stopped unexpectedly', { error }));
  await worker.waitUntilReady();
  if (client !== undefined && syncClient === undefined) {
    logger.warn(
      "syncs go through A's Doveadm HTTP API, which drops dsync's new state when a run ends in exit 2; the next run is then a full sync, which cannot always remove what A expunged meanwhile. Set DOVEWARDEN_DOVEADM_TCP_ADDR to A's doveadm TCP listener",
    );
  }
  if (ctx.config.doveadm.syncMode === 'backup') {
    logger.warn(
      "the backup sync mode makes B a mirror of A and removes from B what A lacks: a user is synced one-way instead only once B's own events said B served it. Post B's events to ingest (dovewarden dovecot-config --server replica, on B), or mail that reached B alone during a failover is destroyed",
    );
  }
  logger.info('worker started', {
    concurrency: ctx.config.numWorkers,
    maxParallelSyncs: settings.maxParallelSyncs,
    destinations: ctx.config.doveadm.destinations,
    syncMode: ctx.config.doveadm.syncMode,
    lockTimeoutSeconds: ctx.config.doveadm.lockTimeoutSeconds,
    dsyncTimeoutSeconds: ctx.config.doveadm.dsyncTimeoutSeconds,
    syncsThrough: syncClient === undefined ? 'http' : 'tcp',
    repairsReplicaFolders: replicaFolders.length > 0,
  });

  return {
    name: 'worker',
    async stop() {
      // Let running syncs finish; past the deadline abort them, and they are handed back.
      const abortTimer = setTimeout(() => shutdown.abort(), settings.shutdownTimeoutMs);
      await worker.close();
      clearTimeout(abortTimer);
      shutdown.abort();
      activeGate.stop();
      client?.close();
      for (const { client: replica } of replicas) replica.close();
      await close();
      logger.info('worker stopped');
    },
  };
}
