import { type ProxyMode, describeWithDovecot } from '@dovewarden/testkit';
import { HARNESS } from '../harness/chaos-cluster';
import { runScenario, sleep, relativeBound } from '../harness/scenario';

describeWithDovecot('2.4')('chaos', () => {
  it("6. A's Doveadm API down, then slower than the sync timeout: retried with backoff, converges", async () => {
    await runScenario({
      name: "6. A's Doveadm API down 8 s, then slow 8 s",
      // dsync's lock wait must end before the sync timeout does (config refuses otherwise).
      // A call answered after the timeout is abandoned while its dsync goes on: the next sync
      // of that user runs as a full one (default one-way mode, full load).
      cluster: {
        env: {
          DOVEWARDEN_SYNC_TIMEOUT: '2s',
          DOVEWARDEN_SYNC_LOCK_TIMEOUT: '1s',
        },
      },
      loadMs: 20_000,
      // A sync slower than the 2 s timeout (a slow machine, a full sync) is abandoned while it
      // still runs on A; the retry's dsync then waits on dsync's lock, as A's log must show.
      excuseAbandonedCalls: true,
      convergeWithin: (cal) =>
        relativeBound(cal, 4, [
          ['the sync timeout', 2000],
          ['the longest retry delay', HARNESS.retryMaxJitteredMs],
        ]),
      during: async (cluster) => {
        // A's doveadm service as a whole: its HTTP API (listings) and its TCP listener (syncs).
        const both = (mode: ProxyMode) =>
          Promise.all([cluster.doveadmProxy.setMode(mode), cluster.syncProxy.setMode(mode)]);
        await sleep(2000);
        await both({ kind: 'down' });
        await sleep(8000);
        // Each call still reaches A and its dsync runs, but the answer comes after the timeout.
        await both({ kind: 'slow', delayMs: 3000 });
        await sleep(8000);
        await both({ kind: 'pass' });
      },
      verify: async (cluster) => {
        const temporary = await cluster.metric(
          cluster.of('worker'),
          /^dovewarden_syncs_total\{outcome="temporary"/,
        );
        expect(temporary).toBeGreaterThan(0);
      },
      notes:
        'connection refused, then answers after the 2 s sync timeout; a sync after an abandoned call runs full',
    });
  });
});
