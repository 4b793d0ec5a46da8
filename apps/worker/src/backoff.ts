/**
 * Delay before retry number `attempt` (1 for the first retry): the base doubling each time up
 * to the cap, then spread by ±25 % so that users that failed together (a replica that went
 * down) do not all come back in the same second.
 */
export function retryDelayMs(
  attempt: number,
  settings: { retryBaseDelayMs: number; retryMaxDelayMs: number },
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const nominal = Math.min(settings.retryMaxDelayMs, settings.retryBaseDelayMs * 2 ** exponent);
  return Math.round(nominal * (0.75 + random() * 0.5));
}
