import { describeWithDovecot } from '@dovewarden/testkit';
import { HARNESS } from '../harness/chaos-cluster';
import { runScenario, sleep, relativeBound } from '../harness/scenario';

describeWithDovecot('2.4')('chaos', () => {
  it('2. kill -9 of a worker every few seconds: another takes over, nothing is lost', async () => {
    let killed = 0;
    await runScenario({
      name: '2. Worker kill -9 every 3 s',
      // The default one-way mode and the full load. A kill -9 loses a dsync's answer, state
      // included, while its dsync may go on: the next sync of that user runs as a full one.
      loadMs: 15_000,
      // A killed worker's job waits for BullMQ's stall check (lock 15 s) before it runs elsewhere.
      convergeWithin: (cal) =>
        relativeBound(cal, 4, [['2 BullMQ stall intervals', 2 * HARNESS.stallMs]]),
      during: async (cluster) => {
        for (let round = 0; round < 4; round += 1) {
          await sleep(3000);
          const victim = cluster.of('worker')[round % 3];
          if (victim === undefined) continue;
          await cluster.kill(victim);
          killed += 1;
          // The replacement starts at once, as an orchestrator would restart it.
          await cluster.startProcess('worker');
        }
      },
      verify: () => {
        expect(killed).toBe(4);
      },
      notes: '4 workers SIGKILLed mid-load, each replaced at once',
    });
  });
});
