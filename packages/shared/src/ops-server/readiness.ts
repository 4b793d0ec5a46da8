/** true, false, or a reason why not, which /readyz shows so an operator knows what to fix. */
export type ReadinessResult = boolean | { ready: false; reason: string };
export type ReadinessCheck = () => ReadinessResult | Promise<ReadinessResult>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
  reasons?: Record<string, string>;
}

const CHECK_TIMEOUT_MS = 1000;

async function runCheck(check: ReadinessCheck): Promise<ReadinessResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadinessResult>((resolve) => {
    timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([Promise.resolve().then(check), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The named conditions /readyz needs. A probe must answer quickly even when Redis hangs, so
 * every check is bounded by a timeout and counts as failed when it runs out.
 */
export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();

  add(name: string, check: ReadinessCheck): void {
    if (this.#checks.has(name)) throw new Error(`readiness check "${name}" registered twice`);
    this.#checks.set(name, check);
  }

  /** Runs every check; those named in `ignore` are reported but do not decide `ready`. */
  async evaluate(ignore: readonly string[] = []): Promise<ReadinessReport> {
    const entries = [...this.#checks.entries()];
    const results = await Promise.all(entries.map(([, check]) => runCheck(check)));
    const checks: Record<string, boolean> = {};
    const reasons: Record<string, string> = {};
    entries.forEach(([name], index) => {
      const result = results[index] ?? false;
      checks[name] = result === true;
      if (typeof result === 'object') reasons[name] = result.reason;
    });
    const ready =
      entries.length > 0 &&
      Object.entries(checks).every(([name, passed]) => passed || ignore.includes(name));
    return Object.keys(reasons).length > 0 ? { ready, checks, reasons } : { ready, checks };
  }
}
