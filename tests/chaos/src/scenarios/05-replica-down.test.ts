import { describeWithDovecot } from '@dovewarden/testkit';
import { HARNESS } from '../harness/chaos-cluster';
import { runScenario, sleep, relativeBound } from '../harness/scenario';

const OUTAGE_MS = 30_000;

/** Tries a job can make within `windowMs` when each delay is at its shortest (-25 % jitter). */
function maxTries(windowMs: number): number {
  let tries = 1;
  let spent = 0;
  for (let attempt = 0; ; attempt += 1) {
    const delay =
      0.75 * Math.min(HARNESS.retryMaxMs, HARNESS.retryBaseMs * 2 ** Math.min(attempt, 20));
    if (spent + delay > windowMs) return tries;
    spent += delay;
    tries += 1;
  }
}

describeWithDovecot('2.4')('chaos', () => {
  it('5. B down for 30 s: syncs back off without spinning, no job is lost, B catches up', async () => {
    let failedDuringOutage = 0;
    await runScenario({
      name: '5. B down 30 s',
      loadMs: 36_000,
      convergeWithin: (cal) =>
        relativeBound(cal, 4, [['the longest retry delay', HARNESS.retryMaxJitteredMs]]),
      during: async (cluster) => {
        await sleep(3000);
        const before = await cluster.metric(
          cluster.of('worker'),
          /^dovewarden_syncs_total\{outcome="temporary"/,
        );
        await cluster.pair.b.halt();
        await sleep(OUTAGE_MS);
        failedDuringOutage =
          (await cluster.metric(
            cluster.of('worker'),
            /^dovewarden_syncs_total\{outcome="temporary"/,
          )) - before;
        await cluster.pair.b.resume();
      },
      verify: (cluster) => {
        // Every user had changes during the outage, so each one's job failed and backed off:
        // 0.5, 1, 2, 4, 4, ... s (±25 %). The most tries one user can make in 30 s is with
        // every delay at its shortest (-25 %) and every try failing at once, plus the first.
        // A worker that spun would make thousands.
        expect(failedDuringOutage).toBeGreaterThan(cluster.users.length / 2);
        expect(failedDuringOutage).toBeLessThanOrEqual(cluster.users.length * maxTries(OUTAGE_MS));
      },
      notes: 'temporary failures bounded by backoff; converges after B returns',
    });
  });
});
