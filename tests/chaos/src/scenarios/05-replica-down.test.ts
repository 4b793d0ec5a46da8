import { runScenario, sleep } from '../harness/scenario';

describe('chaos', () => {
  it('5. B down for 30 s: syncs back off without spinning, no job is lost, B catches up', async () => {
    let failedDuringOutage = 0;
    await runScenario({
      name: '5. B down 30 s',
      loadMs: 36_000,
      convergeWithinMs: 30_000,
      during: async (cluster) => {
        await sleep(3000);
        const before = await cluster.metric(
          cluster.of('worker'),
          /^dovewarden_syncs_total\{outcome="temporary"/,
        );
        await cluster.pair.b.halt();
        await sleep(30_000);
        failedDuringOutage =
          (await cluster.metric(
            cluster.of('worker'),
            /^dovewarden_syncs_total\{outcome="temporary"/,
          )) - before;
        await cluster.pair.b.resume();
      },
      verify: (cluster) => {
        // Every user had changes during the outage, so each one's job failed and backed off:
        // 0.5, 1, 2, 4, 4, ... s (±25 %) is at most about 10 tries per user in 30 s. A worker
        // that spun would make thousands.
        expect(failedDuringOutage).toBeGreaterThan(cluster.users.length / 2);
        expect(failedDuringOutage).toBeLessThan(cluster.users.length * 14);
      },
      notes: 'temporary failures bounded by backoff; converges after B returns',
    });
  });
});
