import { describeWithDovecot } from '@dovewarden/testkit';
import { relativeBound, runScenario } from '../harness/scenario';

describeWithDovecot('2.4')('chaos', () => {
  it('12. folder churn: clients rename, fill and delete their folders as fast as A lets them while syncs run; A keeps exactly what they left, B converges', async () => {
    await runScenario({
      name: '12. Folder churn (6 clients, one per user)',
      // dsync -1 alone can leave a renamed or deleted folder apart on B for good; the worker's
      // replica folder repair finishes those changes there (docs/reliability.md).
      cluster: { users: 6 },
      load: {
        connectionsPerUser: 1,
        closedLoop: true,
        // Folder work only, most of it renames and appends into the lane's own folders.
        weights: {
          append: 4,
          deliver: 0,
          flag: 0,
          expunge: 0,
          copy: 0,
          move: 0,
          create: 2,
          rename: 3,
          delete: 1,
        },
        inboxAppendShare: 0,
      },
      loadMs: 15_000,
      // Every step is its own IMAP round trip: far more than the rate-driven scenarios' 5/s.
      minChangesPerSecond: 20,
      convergeWithin: (cal) => relativeBound(cal, 4),
      notes:
        '6 IMAP clients, closed loop; no step may fail on A and A must hold exactly the folders (and counts) the clients left',
    });
  });
});
