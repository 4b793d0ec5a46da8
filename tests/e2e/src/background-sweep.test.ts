import {
  type DovecotPair,
  DovewardenProcess,
  SHARED_REDIS,
  appendMessage,
  closeImap,
  connectImap,
  deleteNamespace,
  describeWithDovecot,
  freePorts,
  startDovecotPair,
  uniqueNamespace,
  waitForConvergence,
  dovewardenEnv,
  CONVERGENCE_MULTIPLE,
  configuredPlus,
  doveadmReference,
} from '@dovewarden/testkit';

/**
 * Events are best effort: here nobody listens where Dovecot A posts them, so every change's
 * event is lost. The scheduler's background sweep must still bring B in line with A.
 */
describeWithDovecot('2.4')('background sweep with real Dovecot 2.4', () => {
  let pair: DovecotPair | undefined;
  const processes: DovewardenProcess[] = [];
  const namespace = uniqueNamespace('e2e-sweep');

  afterAll(async () => {
    for (const proc of processes) expect((await proc.stop()).code).toBe(0);
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
  });

  it('replicates a change whose event was lost, on the next sweep', async () => {
    const [deadPort, schedulerOps, workerOps] = await freePorts(3);
    // Nothing listens on deadPort: ingest is "down" for the whole test.
    pair = await startDovecotPair({
      version: '2.4',
      users: ['user1', 'user2'],
      eventsUrl: `http://127.0.0.1:${deadPort}/events`,
    });
    const env = {
      ...dovewardenEnv(namespace, pair),
      DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL: '2s',
      DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD: '1s',
    };
    processes.push(
      DovewardenProcess.start({
        args: ['worker'],
        env: { ...env, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${workerOps}` },
        metricsPort: workerOps,
      }),
    );
    processes.push(
      DovewardenProcess.start({
        args: ['scheduler'],
        env: { ...env, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${schedulerOps}` },
        metricsPort: schedulerOps,
      }),
    );
    for (const proc of processes) await proc.waitUntilReady();

    // The start-up sweep creates both users on B.
    const first = await waitForConvergence(pair.a, pair.b, ['user1', 'user2']);
    expect(first.differences).toEqual([]);

    const imap = await connectImap(pair.a, 'user1');
    await appendMessage(imap, 'INBOX', { subject: 'event lost' });
    await closeImap(imap);
    // The next sweep comes within the configured 2 s interval; then a sync as after an event.
    const sweepThenSync = configuredPlus(
      2000,
      await doveadmReference(pair.a, 'user1'),
      CONVERGENCE_MULTIPLE,
    );
    const later = await waitForConvergence(pair.a, pair.b, ['user1', 'user2'], sweepThenSync);
    expect(later.differences).toEqual([]);

    const metrics = await (await fetch(`http://127.0.0.1:${schedulerOps}/metrics`)).text();
    expect(metrics).toMatch(/dovewarden_sweep_users_listed 2/);
    expect(metrics).toMatch(/dovewarden_sweep_last_success_timestamp_seconds \d/);
  });
});
