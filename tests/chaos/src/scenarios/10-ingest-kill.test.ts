import { describeWithDovecot } from '@dovewarden/testkit';
import { runScenario, sleep, relativeBound } from '../harness/scenario';
import { droppedEvents } from '../harness/dovecot-log';

describeWithDovecot('2.4')('chaos', () => {
  it('10. an ingest replica killed -9 behind a round-robin balancer: requests fail over, no event is lost', async () => {
    await runScenario({
      name: '10. Ingest replica kill -9 behind a balancer',
      // No scheduler: every change must arrive as an event.
      cluster: { schedulers: 0 },
      loadMs: 12_000,
      convergeWithin: (cal) => relativeBound(cal, 4),
      during: async (cluster) => {
        await sleep(4000);
        const [victim] = cluster.of('ingest');
        if (victim === undefined) throw new Error('no ingest to kill');
        // Killed without leaving the balancer's pool: it finds out per request, as nginx does.
        victim.process.kill();
        await victim.process.exited();
        await sleep(3000);
        await cluster.kill(victim);
        await cluster.startProcess('ingest');
      },
      verify: (cluster) => {
        expect(droppedEvents(cluster.pair.a)).toEqual([]);
      },
      notes: 'no scheduler; the balancer retries POST /events on the other replica',
    });
  });
});
