import { runScenario, sleep } from '../harness/scenario';
import type { ChaosCluster } from '../harness/chaos-cluster';

async function allPaused(cluster: ChaosCluster): Promise<boolean> {
  const workers = cluster.of('worker');
  const paused = await cluster.metric(workers, /^dovewarden_worker_configuration_paused /);
  return workers.length > 0 && paused === workers.length;
}

describe('chaos', () => {
  it('7. a wrong doveadm password pauses the workers, a fix (live, then by restart) resumes them, no attempts are used up', async () => {
    await runScenario({
      name: '7. Wrong doveadm password, fixed live and by restart',
      // Few attempts: had the pause used any up, jobs would end in the failed set.
      cluster: { env: { DOVEWARDEN_RETRY_ATTEMPTS: '3' } },
      loadMs: 20_000,
      convergeWithinMs: 30_000,
      during: async (cluster, driver) => {
        const right = cluster.secrets.doveadmPassword;
        // Fixed without a restart: the admin changes A's password and changes it back.
        await sleep(2000);
        await driver.disrupting(() => cluster.pair.a.setDoveadmPassword('a-wrong-password'));
        await cluster.waitFor(() => allPaused(cluster), 20_000, 'every worker paused');
        await sleep(2000);
        await driver.disrupting(() => cluster.pair.a.setDoveadmPassword(right));
        await cluster.waitFor(async () => !(await allPaused(cluster)), 30_000, 'workers resumed');
        // Fixed with a restart: workers deployed with a wrong password, then redeployed.
        for (const worker of cluster.of('worker')) await cluster.terminate(worker);
        for (let i = 0; i < 3; i += 1)
          await cluster.startProcess(
            'worker',
            { DOVEWARDEN_DOVEADM_PASSWORD: 'wrong-in-env' },
            { ready: false },
          );
        await cluster.waitFor(() => allPaused(cluster), 20_000, 'redeployed workers paused');
        await sleep(2000);
        for (const worker of cluster.of('worker')) {
          expect(await cluster.terminate(worker)).toBe(0);
          await cluster.startProcess('worker');
        }
      },
      notes:
        'live fix on A (reload, which ends IMAP sessions) and a redeploy; 3 attempts only, none used up',
    });
  });
});
