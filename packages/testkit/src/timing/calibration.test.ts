import {
  asBound,
  calibrate,
  configuredPlus,
  expectWithin,
  hangGuard,
  processStartReferenceSync,
  relativeBound,
  waitUntil,
} from './calibration';
import { sleep } from './sleep';

describe('time bounds relative to this machine', () => {
  it('measures a reference once per process and takes the median', async () => {
    let runs = 0;
    const durations = [50, 1, 30, 2, 3, 4];
    const op = async (): Promise<void> => {
      const ms = durations[runs] ?? 0;
      runs += 1;
      await sleep(ms);
    };
    const first = await calibrate('test op', op, { samples: 5, warmup: 1 });
    expect(runs).toBe(6);
    // The warm-up (50 ms) is not a sample; the median of 1, 30, 2, 3, 4 ms is about 3 ms.
    expect(first.samples).toHaveLength(5);
    expect(first.ms).toBeLessThan(30);
    expect(await calibrate('test op', op)).toBe(first);
    expect(runs).toBe(6);
  });

  it('scales bounds with the reference and says what they are relative to', () => {
    const reference = { name: 'a thing', ms: 12.5, samples: [12.5] };
    expect(relativeBound(reference, 10)).toEqual({
      ms: 125,
      why: '125 ms (10 × a thing, median 12.5 ms)',
    });
    expect(configuredPlus(1000, reference, 4)).toEqual({
      ms: 1050,
      why: '1050 ms (configured 1000 ms + 50 ms (4 × a thing, median 12.5 ms))',
    });
    expect(asBound(300).ms).toBe(300);
    expect(() => expectWithin(100, relativeBound(reference, 10), 'the thing')).not.toThrow();
    expect(() => expectWithin(130, relativeBound(reference, 10), 'the thing')).toThrow(
      /the thing took 130 ms, over the bound of 125 ms \(10 × a thing/,
    );
  });

  it('grows hang guards with a real node process start', () => {
    const start = processStartReferenceSync();
    expect(start.ms).toBeGreaterThanOrEqual(1);
    expect(hangGuard(100).ms).toBe(Math.ceil(start.ms * 100));
  });

  it('waits until a condition holds, and fails naming the bound', async () => {
    let polls = 0;
    await waitUntil(() => (polls += 1) >= 3, { ms: 5000, why: 'plenty' }, 'three polls', 1);
    expect(polls).toBe(3);
    await expect(
      waitUntil(() => false, { ms: 20, why: '20 ms (a test)' }, 'never', 5),
    ).rejects.toThrow('timed out waiting for never: bound 20 ms (a test)');
  });

  it('waits on an async condition, and describes a timeout as it stands then', async () => {
    let polls = 0;
    await waitUntil(
      async () => {
        await sleep(1);
        return (polls += 1) >= 2;
      },
      { ms: 5000, why: 'plenty' },
      'two polls',
      1,
    );
    expect(polls).toBe(2);
    let seen = 'nothing';
    await expect(
      waitUntil(
        () => {
          seen = 'something';
          return false;
        },
        asBound(20),
        () => `a reply (seen: ${seen})`,
        5,
      ),
    ).rejects.toThrow(
      'timed out waiting for a reply (seen: something): bound 20 ms (a fixed bound)',
    );
  });
});
