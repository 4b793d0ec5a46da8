import { describeWithDovecot } from '@dovewarden/testkit';
import { HARNESS } from '../harness/chaos-cluster';
import { runScenario, sleep, relativeBound } from '../harness/scenario';

describeWithDovecot('2.4')('chaos', () => {
  it('8. SIGTERM to every app under load, one at a time (a rolling restart): clean exits, nothing lost, no parallel syncs', async () => {
    const exits: Array<number | null> = [];
    await runScenario({
      name: '8. Rolling restart (SIGTERM every app)',
      // No scheduler sweeps to hide a lost event: the scheduler is restarted too, but with the
      // sweep interval at 1 h it only queues users at its start.
      loadMs: 15_000,
      convergeWithin: (cal) =>
        relativeBound(cal, 4, [['the shutdown timeout', HARNESS.shutdownMs]]),
      during: async (cluster) => {
        await sleep(1000);
        for (const managed of [...cluster.processes]) {
          // Replacement first, as a Deployment's surge does, then the old one goes.
          await cluster.startProcess(managed.role);
          exits.push(await cluster.terminate(managed));
          await sleep(500);
        }
      },
      verify: () => {
        expect(exits).toEqual([0, 0, 0, 0, 0, 0]);
      },
      notes: '6 processes replaced under load; every exit code 0',
    });
  });
});
