import { runScenario } from '../harness/scenario';

describe('chaos', () => {
  it('1. No faults: B converges to A within 10 s of the load stopping', async () => {
    const outcome = await runScenario({
      name: '1. No faults',
      loadMs: 10_000,
      convergeWithinMs: 10_000,
      notes: 'baseline',
    });
    console.log(JSON.stringify(outcome.load.done), outcome.convergenceMs);
  });
});
