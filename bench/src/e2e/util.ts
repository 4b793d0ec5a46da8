import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

/** The testkit's sleep, for the e2e benchmark's modules that import it from here. */
export { sleep } from '@dovewarden/testkit';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with log timestamps. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

const benchStart = now();
/** Progress on stderr: a full run takes many minutes, and a stuck phase should show which. */
export function progress(message: string): void {
  console.error(`[${((now() - benchStart) / 1000).toFixed(1)} s] ${message}`);
}

export const round = (value: number, digits = 1): number => {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  // Nearest-rank: with 30 samples p95 is the 29th, not an interpolation between two.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? Number.NaN;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Changes still not visible on B 5 s after A acknowledged them (never-seen ones included). */
  over5s: number;
  /** Changes never seen on B within the wait limit. */
  missing: number;
}

/** `Infinity` in samples stands for a change B never showed within the wait limit. */
export function summarise(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((x, y) => x - y);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
    over5s: sorted.filter((v) => v > 5000).length,
    missing: sorted.filter((v) => !Number.isFinite(v)).length,
  };
}

/** CPU seconds a process has used so far (utime + stime), or NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses, so fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Peak resident set (VmHWM) in MiB, or NaN when the process is gone. */
export function peakRssMiB(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return match === null ? Number.NaN : Number(match[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

export function processName(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Sums CPU seconds across the machine (all cores, busy time only) from /proc/stat. */
export function machineBusySeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  const ticks = [user, nice, system, irq, softirq, steal].reduce<number>(
    (sum, v) => sum + (v ?? 0),
    0,
  );
  return ticks / 100;
}

/**
 * Times the process's main thread blocked and was woken again (voluntary context switches):
 * for an event loop, its wake-ups. NaN when the process is gone.
 */
export function wakeUps(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status);
    return match === null ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}
