import { describeWithDovecot } from '@dovewarden/testkit';
import { HARNESS } from '../harness/chaos-cluster';
import { runScenario, sleep, relativeBound } from '../harness/scenario';
import type { ChaosCluster } from '../harness/chaos-cluster';

/** The worker's first configuration probe (apps/worker/src/configuration-gate.ts). */
const FIRST_PROBE_MS = 5000;

async function allPaused(cluster: ChaosCluster): Promise<boolean> {
  const workers = cluster.of('worker');
  const paused = await cluster.metric(workers, /^dovewarden_worker_configuration_paused /);
  return workers.length > 0 && paused === workers.length;
}

describeWithDovecot('2.4')('chaos', () => {
  it('7. a wrong doveadm password pauses the workers, a fix (live, then by restart) resumes them, no attempts are used up', async () => {
    await runScenario({
      name: '7. Wrong doveadm password, fixed live and by restart',
      // Few attempts: had the pause used any up, jobs would end in the failed set.
      cluster: { env: { DOVEWARDEN_RETRY_ATTEMPTS: '3' } },
      loadMs: 20_000,
      convergeWithin: (cal) =>
        relativeBound(cal, 4, [
          ['the first probe', FIRST_PROBE_MS],
          ['the longest retry delay', HARNESS.retryMaxJitteredMs],
        ]),
      during: async (cluster, driver, cal) => {
        // A pause comes with the next sync; a resume with the next probe (5 s, then 10 s).
        const pauseWithin = relativeBound(cal, 4, [
          ['a retry delay', HARNESS.retryMaxJitteredMs],
        ]).ms;
        const resumeWithin = relativeBound(cal, 4, [['two probes', 3 * FIRST_PROBE_MS]]).ms;
        const right = cluster.secrets.doveadmPassword;
        // Fixed without a restart: the admin changes A's password and changes it back.
        await sleep(2000);
        await driver.disrupting(() => cluster.pair.a.setDoveadmPassword('a-wrong-password'));
        await cluster.waitFor(() => allPaused(cluster), pauseWithin, 'every worker paused');
        await sleep(2000);
        await driver.disrupting(() => cluster.pair.a.setDoveadmPassword(right));
        await cluster.waitFor(
          async () => !(await allPaused(cluster)),
          resumeWithin,
          'workers resumed',
        );
        // Fixed with a restart: workers deployed with a wrong password, then redeployed.
        for (const worker of cluster.of('worker')) await cluster.terminate(worker);
        for (let i = 0; i < 3; i += 1)
          await cluster.startProcess(
            'worker',
            { DOVEWARDEN_DOVEADM_PASSWORD: 'wrong-in-env' },
            { ready: false },
          );
        await cluster.waitFor(() => allPaused(cluster), pauseWithin, 'redeployed workers paused');
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
