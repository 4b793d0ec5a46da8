import { describeWithDovecot } from '@dovewarden/testkit';
import { runScenario, relativeBound } from '../harness/scenario';

describeWithDovecot('2.4')('chaos', () => {
  it('1. No faults: B converges to A within 4 calibrations of the load stopping', async () => {
    const outcome = await runScenario({
      name: '1. No faults',
      loadMs: 10_000,
      convergeWithin: (cal) => relativeBound(cal, 4),
      notes: 'baseline',
    });
    console.log(JSON.stringify(outcome.load.done), outcome.convergenceMs);
  });
});
