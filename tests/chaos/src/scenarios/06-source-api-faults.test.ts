import { describeWithDovecot } from '@dovewarden/testkit';
import { HARNESS } from '../harness/chaos-cluster';
import { runScenario, sleep, relativeBound } from '../harness/scenario';

describeWithDovecot('2.4')('chaos', () => {
  it("6. A's Doveadm API down, then slower than the sync timeout: retried with backoff, converges", async () => {
    await runScenario({
      name: "6. A's Doveadm API down 8 s, then slow 8 s",
      // dsync's lock wait must end before the sync timeout does (config refuses otherwise).
      // Two-way: a sync whose answer is lost after the timeout loses its dsync state, and a
      // one-way sync cannot recover from that (B keeps a duplicate; docs/reliability.md).
      cluster: {
        env: {
          DOVEWARDEN_SYNC_TIMEOUT: '2s',
          DOVEWARDEN_SYNC_LOCK_TIMEOUT: '1s',
          DOVEWARDEN_SYNC_MODE: 'twoway',
        },
      },
      // Message changes only: two-way sync can undo folder renames on A, which scenario 12
      // covers in one-way mode.
      load: { weights: { create: 0, rename: 0, delete: 0 } },
      loadMs: 20_000,
      convergeWithin: (cal) =>
        relativeBound(cal, 4, [
          ['the sync timeout', 2000],
          ['the longest retry delay', HARNESS.retryMaxJitteredMs],
        ]),
      during: async (cluster) => {
        await sleep(2000);
        await cluster.doveadmProxy.setMode({ kind: 'down' });
        await sleep(8000);
        // Each call still reaches A and its dsync runs, but the answer comes after the timeout.
        await cluster.doveadmProxy.setMode({ kind: 'slow', delayMs: 3000 });
        await sleep(8000);
        await cluster.doveadmProxy.setMode({ kind: 'pass' });
      },
      verify: async (cluster) => {
        const temporary = await cluster.metric(
          cluster.of('worker'),
          /^dovewarden_syncs_total\{outcome="temporary"/,
        );
        expect(temporary).toBeGreaterThan(0);
      },
      notes:
        'two-way, message changes only; connection refused, then answers after the 2 s sync timeout',
    });
  });
});
