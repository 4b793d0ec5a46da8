import { describeWithDovecot } from '@dovewarden/testkit';
import { runFolderChurn } from '../harness/folder-churn';

describeWithDovecot('2.4')('chaos', () => {
  it('12. folder churn: clients rename, fill and delete their folders as fast as A lets them while syncs run; A keeps exactly what they left, B converges', async () => {
    await runFolderChurn({
      name: '12. Folder churn (6 clients, one per user)',
      users: 6,
      connectionsPerUser: 1,
    });
  });
});
