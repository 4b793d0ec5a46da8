import { RETRY_WINDOW_MS } from '@dovewarden/ingest';
import { describeWithDovecot } from '@dovewarden/testkit';
import { HARNESS } from '../harness/chaos-cluster';
import { catchUpSweep, runScenario, sleep, relativeBound } from '../harness/scenario';
import { droppedEvents } from '../harness/dovecot-log';

describeWithDovecot('2.4')('chaos', () => {
  it('4. Redis down longer than Dovecot retries: events are lost, the outage catch-up sweep converges', async () => {
    await runScenario({
      name: '4. Redis down 12 s (events lost)',
      loadMs: 20_000,
      // Ingest counts an event lost once Dovecot stopped retrying it (the retry window after its
      // refusal), and records the outage; the scheduler looks for one every 5 s; then one sweep
      // and its syncs (of every user: a full backlog, which a calibration of the same load
      // drains too).
      convergeWithin: (cal) =>
        relativeBound(cal, 4, [
          ['the retry window of the last refused event', RETRY_WINDOW_MS],
          ['the outage check', HARNESS.outageCheckMs],
          ['the longest retry delay', HARNESS.retryMaxJitteredMs],
          catchUpSweep(cal, 50, 12),
        ]),
      during: async (cluster) => {
        await sleep(4000);
        await cluster.redis.kill('SIGTERM');
        await sleep(12_000);
        await cluster.redis.restart();
      },
      verify: async (cluster) => {
        // The loss was real: Dovecot dropped events after its retries...
        expect(droppedEvents(cluster.pair.a).length).toBeGreaterThan(0);
        // ...and the catch-up sweep, not a daily one (the interval is 1 h), brought B back.
        const catchUp = await cluster.metric(
          cluster.of('scheduler'),
          /^dovewarden_sweep_users_queued_total/,
        );
        expect(catchUp).toBeGreaterThan(0);
      },
      notes: 'events dropped by Dovecot for real; outage catch-up sweep',
    });
  });
});
