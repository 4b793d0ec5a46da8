import { retryDelayMs } from './backoff';

describe('retryDelayMs', () => {
  const settings = { retryBaseDelayMs: 5000, retryMaxDelayMs: 600_000 };
  it('doubles from the base to the cap', () => {
    const nominal = (attempt: number) => retryDelayMs(attempt, settings, () => 0.5);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map(nominal)).toEqual([
      5000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000,
    ]);
  });
  it('spreads by ±25 %', () => {
    expect(retryDelayMs(1, settings, () => 0)).toBe(3750);
    expect(retryDelayMs(1, settings, () => 0.999999)).toBe(6250);
  });
});
