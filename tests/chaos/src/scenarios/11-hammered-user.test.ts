import { describeWithDovecot } from '@dovewarden/testkit';
import { runScenario, relativeBound } from '../harness/scenario';

describeWithDovecot('2.4')('chaos', () => {
  it('11. one user hammered by 20 IMAP clients at once: one sync at a time for that user, and it converges', async () => {
    await runScenario({
      name: '11. One user, 20 IMAP clients',
      cluster: { users: 2 },
      load: { connectionsPerUser: 20, ratePerSecond: 40 },
      loadMs: 12_000,
      convergeWithin: (cal) => relativeBound(cal, 4),
      verify: (cluster) => {
        // Many syncs of the same user went through the server, never two at once.
        const syncs = cluster.syncProxy.syncs.filter((s) => s.user === cluster.users[0]);
        expect(syncs.length).toBeGreaterThan(5);
      },
      notes: '2 users × 20 connections; server-side sync log shows no overlap',
    });
  });
});
