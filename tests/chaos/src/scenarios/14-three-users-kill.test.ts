import { describeWithDovecot } from '@dovewarden/testkit';
import { HARNESS } from '../harness/chaos-cluster';
import { runScenario, sleep, relativeBound } from '../harness/scenario';

/**
 * Issue 26's proof: three users whose mail changes in every way a client changes it (new mail
 * by IMAP and LMTP, \Flagged and the keyword $Chaos set, expunges, copies, moves, folder
 * creates, renames and deletes), three IMAP clients each, while workers are killed -9 again and
 * again. Each kill loses a dsync's answer (its state included) while its dsync may go on. The
 * end is judged by the strict comparison (every UID's GUID and flags, mailbox GUIDs,
 * UIDVALIDITY, UIDNEXT, folders and subscriptions), as every scenario is.
 */
describeWithDovecot('2.4')('chaos', () => {
  it('14. three users changing mail in every way, workers killed -9 every 2 s: B equals A strictly', async () => {
    let killed = 0;
    await runScenario({
      name: '14. Three users, every change, worker kill -9 every 2 s',
      cluster: { users: 3 },
      load: {
        connectionsPerUser: 3,
        ratePerSecond: 24,
        weights: {
          append: 16,
          deliver: 8,
          flag: 24,
          expunge: 12,
          move: 10,
          copy: 6,
          rename: 8,
          create: 6,
          delete: 4,
        },
      },
      loadMs: 16_000,
      // A killed worker's job waits for BullMQ's stall check (lock 15 s) before it runs elsewhere.
      convergeWithin: (cal) =>
        relativeBound(cal, 4, [['2 BullMQ stall intervals', 2 * HARNESS.stallMs]]),
      during: async (cluster) => {
        for (let round = 0; round < 6; round += 1) {
          await sleep(2000);
          const victim = cluster.of('worker')[round % 3];
          if (victim === undefined) continue;
          await cluster.kill(victim);
          killed += 1;
          await cluster.startProcess('worker');
        }
        // The load goes on 4 s past the last kill (scenario 2 gets that from its load time), so
        // that the stall check handing the last killed job back stays inside the bound when slow.
        await sleep(4000);
      },
      verify: (_cluster, outcome) => {
        expect(killed).toBe(6);
        // Every kind of change happened while workers died.
        for (const kind of ['append', 'deliver', 'flag', 'expunge', 'move', 'rename'] as const)
          expect({ kind, done: outcome.load.done[kind] }).toEqual({
            kind,
            done: expect.any(Number) as number,
          });
        expect(Math.min(...Object.values(outcome.load.done))).toBeGreaterThan(0);
      },
      notes:
        '3 users × 3 IMAP clients, flags and keywords heavy; 6 workers SIGKILLed mid-load, each replaced at once',
    });
  });
});
