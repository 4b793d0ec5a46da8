import { describeWithDovecot } from '@dovewarden/testkit';
import { HARNESS } from '../harness/chaos-cluster';
import { catchUpSweep, runScenario, sleep, relativeBound } from '../harness/scenario';

describeWithDovecot('2.4')('chaos', () => {
  it('9. `dovewarden all` and its embedded Redis killed -9 mid-load and started again: the AOF keeps queue and states, and it converges', async () => {
    let restartedWithin = 0;
    let redisServersAfterRestart = 0;
    await runScenario({
      name: '9. All-in-one kill -9 and restart',
      cluster: { allInOne: true },
      loadMs: 14_000,
      // Events sent while it was down are lost; the restart finds its run marker and sweeps once.
      convergeWithin: (cal) =>
        relativeBound(cal, 4, [
          ['the outage check', HARNESS.outageCheckMs],
          ['the longest retry delay', HARNESS.retryMaxJitteredMs],
          catchUpSweep(cal, 50, 4),
        ]),
      during: async (cluster) => {
        await sleep(5000);
        const [all] = cluster.of('all');
        if (all === undefined) throw new Error('no all-in-one process');
        await cluster.killAllInOne(all);
        const started = Date.now();
        await cluster.startProcess('all');
        restartedWithin = Date.now() - started;
        // One Redis per data dir after the crash: the restarted run's, and no other.
        redisServersAfterRestart = cluster.embeddedRedisServers().length;
      },
      verify: (cluster) => {
        const [all] = cluster.of('all');
        const output = all?.process.output.join('\n') ?? '';
        expect(output).toContain('did not stop cleanly');
        expect(redisServersAfterRestart).toBe(1);
        expect(cluster.embeddedRedisServers()).toHaveLength(1);
        // The killed run's syncs went back to waiting at the restart, not after a stall check.
        expect(output).toMatch(/"requeuedSyncs":\d+/);
        // The restart replays the AOF: a few times the first start of the same run.
        expect(restartedWithin).toBeLessThan(4 * (cluster.firstStartMs.get('all') ?? 0));
      },
      notes:
        "node and redis-server SIGKILLed together; AOF + run-marker catch-up sweep; the killed run's syncs requeued at the restart",
    });
  });
});
