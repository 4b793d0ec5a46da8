import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import {
  type AppContext,
  JobName,
  QueueName,
  type RunningApp,
  VERIFY_SCHEDULER_ID,
  VerificationLedger,
  connectApp,
  createJobProcessor,
  dsyncParameters,
  redisAnswers,
  replicaReader,
  sourceSyncTcpClient,
  sourceDoveadmClient,
  userDedupId,
} from '@dovewarden/shared';
import { VerifierMetrics } from './verifier-metrics';
import { type RepairResult, type RepairStep, verificationWalk } from './verification-walk';
import { verifyUser } from './verify-user';

/** The lease a repair holds, as the worker's: a repair that dies frees the user as soon. */
const REPAIR_LEASE_TTL_MS = 15_000;
/** How often the walk looks whether live replication has made room. */
const LIVE_POLL_MS = 200;

/**
 * A pacer: each call resolves at the next slot of `perSecond` calls a second, so the verifier
 * never costs A or B more than its budget, whatever the number of users.
 */
export function callBudget(perSecond: number, signal?: AbortSignal): () => Promise<void> {
  const spacing = 1000 / perSecond;
  let next = 0;
  return async () => {
    const now = Date.now();
    const at = Math.max(now, next);
    next = at + spacing;
    if (at > now) await sleep(at - now, undefined, { signal });
  };
}

/**
 * The background verifier, run by the scheduler: a BullMQ job scheduler starts a walk every
 * VERIFY_INTERVAL (and once at start-up) on the verification queue; one scheduler replica
 * walks at a time. B is read through its Doveadm API when DOVEWARDEN_REPLICA_DOVEADM_URL is
 * set, otherwise through the doveadm service of the dsync destination, as dsync reaches it.
 */
export async function startVerifier(ctx: AppContext): Promise<RunningApp> {
  const logger = ctx.logger.child({ context: 'verifier' });
  const { verify: settings, namespace } = ctx.config;
  const { redis, state, syncQueue, close } = connectApp(
    { ...ctx, logger },
    'dovewarden-verifier',
    'wait-for-redis',
  );
  const queue = new Queue(QueueName.Verification, { connection: redis, prefix: namespace });
  // Ready once Redis answers: a process with no check registered never reports ready.
  ctx.readiness.add('verifier-redis', () => redisAnswers(redis));
  const stopOnly = async (): Promise<RunningApp> => {
    await queue.removeJobScheduler(VERIFY_SCHEDULER_ID);
    return {
      name: 'verifier',
      async stop() {
        await queue.close();
        await close();
      },
    };
  };
  if (!settings.enabled) {
    logger.info('background verification disabled');
    return stopOnly();
  }
  let replica: ReturnType<typeof replicaReader>;
  try {
    replica = replicaReader(ctx.config);
  } catch (error: unknown) {
    logger.warn('background verification off: the replica cannot be read', {
      error: error instanceof Error ? error.message : String(error),
    });
    return stopOnly();
  }
  const source = sourceDoveadmClient(ctx.config);
  const ledger = new VerificationLedger(redis, namespace);
  const metrics = new VerifierMetrics(ctx.registry, settings.intervalMs, () =>
    ledger.differingCount(),
  );
  const refreshAge = async (): Promise<void> => {
    const [last, current] = await Promise.all([ledger.lastWalk(), ledger.currentWalk()]);
    metrics.oldestVerifiedAt = last?.startedAt ?? current?.startedAt;
  };
  await refreshAge().catch(() => undefined);
  const stopping = new AbortController();
  // Live syncs first: the walk waits while more syncs wait than the workers run at once.
  const liveRoom = ctx.config.worker.maxParallelSyncs;

  const { replicateAndRecord } = await import('@dovewarden/worker');
  const syncClient = sourceSyncTcpClient(ctx.config) ?? source;
  /**
   * A repair in two steps, each under the user's lease like any sync. First the user's own
   * sync, in the configured mode from its stored state: what A changed without an event (an
   * expunge by doveadm, say) reaches B that way. Then, if B still differs, a full
   * `doveadm backup` of the user: measured on 2.4.1 (docs/reliability.md), a full `sync -1`
   * repairs none of what B holds apart from A (a flag, an expunge, a folder made or deleted, a
   * UID given to another message), a backup all of it. The walk asks for the backup only when
   * every message on B is on A too (verifyUser); it is refused for a user B served (its
   * events) and in the two-way mode, where B's side counts.
   */
  const repair = async (user: string, how: RepairStep): Promise<RepairResult> => {
    if (how === 'mirror' && ctx.config.doveadm.syncMode === 'twoway') return 'refused';
    if (how === 'mirror' && (await state.replicaService.servedSince(user)) !== undefined)
      return 'refused';
    const lost = new AbortController();
    const lease = await state.sessions.tryLease(user, REPAIR_LEASE_TTL_MS, () => lost.abort());
    if (lease === undefined) return 'busy';
    try {
      const dsync =
        how === 'mirror'
          ? { ...dsyncParameters(ctx.config), onewaySync: false, backup: true }
          : dsyncParameters(ctx.config);
      // Each run recorded as the worker records a sync (its success marks the user synced).
      const run = () =>
        replicateAndRecord(
          {
            doveadm: syncClient,
            dsync,
            state,
            destinations: ctx.config.doveadm.destinations,
            logger,
            stateTtlMs: ctx.config.worker.stateTtlMs,
            fullSyncIntervalMs: 0,
          },
          {
            user,
            reason: { kind: 'verification' },
            requestedAt: Date.now(),
            ...(how === 'mirror' ? { fullSync: true } : {}),
          },
          AbortSignal.any([stopping.signal, lost.signal]),
        );
      try {
        await run();
      } catch {
        // A backup that finds B's UIDs in conflict deletes B's mailbox and ends in exit 75;
        // the next full backup copies it again (measured on 2.4.1). A sync that failed once
        // runs as a full sync the second time (its in-flight mark).
        await run();
      }
      return 'done';
    } catch (error: unknown) {
      logger.warn('verification: the repair of a user failed', {
        user,
        error: error instanceof Error ? error.message : String(error),
      });
      return 'failed';
    } finally {
      await lease.release().catch(() => undefined);
    }
  };

  const processor = createJobProcessor(QueueName.Verification, {
    [JobName.VerifyWalk]: async (job) => {
      const budget = callBudget(settings.callsPerSecond, stopping.signal);
      const result = await verificationWalk({
        listUsers: () => source.listUserNames('*'),
        ledger,
        verify: (user, sampleSeed) =>
          verifyUser(
            {
              source,
              replica: replica.client,
              budget,
              samplePercent: settings.samplePercent,
              sampleSeed,
              digests: ledger,
              signal: stopping.signal,
            },
            user,
          ),
        isBusy: async (user) =>
          (await syncQueue.queue.getDeduplicationJobId(userDedupId(user))) !== null,
        wasReplicated: (user) => state.status.wasEverSynced(user),
        repair: (user, how) => repair(user, how),
        waitForLiveWork: async () => {
          while (!stopping.signal.aborted && (await syncQueue.pendingCount()) > liveRoom) {
            await sleep(LIVE_POLL_MS, undefined, { signal: stopping.signal }).catch(
              () => undefined,
            );
          }
        },
        onCount: (counted) => metrics.users.inc({ result: counted }),
        onDivergence: (kind) => metrics.divergences.inc({ kind }),
        onProgress: async (progress, listed) => {
          metrics.walkRemaining.set(Math.max(0, listed - progress.position));
          await job.updateProgress({ ...progress, listed });
        },
        signal: stopping.signal,
        logger,
      });
      metrics.walkRemaining.set(0);
      await refreshAge();
      if (!result.skipped && !result.interrupted) {
        logger.info('verification walk finished', { listed: result.listed, ...result.progress });
      }
      return { skipped: result.skipped, interrupted: result.interrupted, listed: result.listed };
    },
  });
  const worker = new Worker(QueueName.Verification, processor, {
    connection: redis,
    prefix: namespace,
    concurrency: 1,
    // A walk takes hours at a million users: the lock is renewed while it runs.
    lockDuration: 60_000,
    ...(ctx.telemetry === undefined ? {} : { telemetry: ctx.telemetry }),
  });
  worker.on('failed', (_job, error) =>
    logger.warn('verification walk failed', { error: error.message }),
  );
  await queue.upsertJobScheduler(
    VERIFY_SCHEDULER_ID,
    { every: settings.intervalMs, immediately: true },
    { name: JobName.VerifyWalk, opts: { removeOnComplete: 100, removeOnFail: 100 } },
  );
  logger.info('background verification scheduled', {
    everyMs: settings.intervalMs,
    callsPerSecond: settings.callsPerSecond,
    samplePercent: settings.samplePercent,
    replica: replica.destination,
  });

  return {
    name: 'verifier',
    async stop() {
      stopping.abort();
      await worker.close();
      await queue.close();
      source.close();
      replica.client.close();
      if (syncClient !== source) syncClient.close();
      await close();
    },
  };
}
