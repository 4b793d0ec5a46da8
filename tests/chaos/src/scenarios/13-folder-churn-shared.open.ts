import { describeWithDovecot } from '@dovewarden/testkit';
import { runFolderChurn } from '../harness/folder-churn';

describeWithDovecot('2.4')('chaos', () => {
  it('13. folder churn, several clients per user: clients rename, fill and delete their folders as fast as A lets them while syncs run; A keeps exactly what they left, B converges', async () => {
    await runFolderChurn({
      name: '13. Folder churn (3 users, 2 clients each)',
      users: 3,
      connectionsPerUser: 2,
    });
  });
});
