import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux we run on. */
const HZ = 100;

interface Sample {
  comm: string;
  ppid: number;
  ticks: number;
  /** CPU of children that exited and were waited for (cutime + cstime). */
  reaped: number;
}

function readStat(pid: number): Sample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may hold spaces; the fields after it are space separated.
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(open + 1, close);
    const rest = stat
      .slice(close + 2)
      .split(' ')
      .map(Number);
    // rest[0] is state (NaN), rest[1] ppid, rest[11] utime, rest[12] stime.
    return {
      comm,
      ppid: rest[1] ?? 0,
      ticks: (rest[11] ?? 0) + (rest[12] ?? 0),
      reaped: (rest[13] ?? 0) + (rest[14] ?? 0),
    };
  } catch {
    return undefined;
  }
}

export interface ProcSummary {
  /** Seconds sampled. */
  seconds: number;
  /** CPU seconds per group over the window (a process that lived between samples is missed). */
  cpuSeconds: Record<string, number>;
  /**
   * CPU of exited children, per group of the parent: a Dovecot master's share is what its
   * short-lived children (one doveadm-server per request) used, which sampling misses.
   */
  reapedChildrenCpuSeconds: Record<string, number>;
  /** Largest number of live processes of each group seen in one sample. */
  maxProcesses: Record<string, number>;
  /** Average live processes of each group. */
  avgProcesses: Record<string, number>;
  /** The machine's busy CPU over the window, in cores (from /proc/stat). */
  busyCores: number;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Samples /proc every `intervalMs` and sums CPU time per process group, as `pidstat` would:
 * the evidence for where a slow sync's time goes. `classify` names a process's group (or drops
 * it with undefined) from its pid, comm and parent pid.
 */
export class ProcSampler {
  readonly #last = new Map<number, { group: string; ticks: number; reaped: number }>();
  readonly #reaped = new Map<string, number>();
  readonly #cpu = new Map<string, number>();
  readonly #max = new Map<string, number>();
  readonly #sum = new Map<string, number>();
  #samples = 0;
  #timer: NodeJS.Timeout | undefined;
  #started = 0;
  #machineStart = machineTicks();

  constructor(
    private readonly classify: (pid: number, comm: string, ppid: number) => string | undefined,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.#started = Date.now();
    this.#machineStart = machineTicks();
    this.sample(true);
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): ProcSummary {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.sample();
    const machine = machineTicks();
    const cores = Number(
      readFileSync('/proc/stat', 'utf8')
        .split('\n')
        .filter((l) => /^cpu\d/.test(l)).length,
    );
    const busyShare =
      (machine.busy - this.#machineStart.busy) /
      Math.max(1, machine.total - this.#machineStart.total);
    const round = (m: Map<string, number>, f = 1): Record<string, number> =>
      Object.fromEntries(
        [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((v / f) * 100) / 100]),
      );
    return {
      seconds: (Date.now() - this.#started) / 1000,
      cpuSeconds: round(this.#cpu, HZ),
      reapedChildrenCpuSeconds: round(this.#reaped, HZ),
      maxProcesses: round(this.#max),
      avgProcesses: round(this.#sum, Math.max(1, this.#samples)),
      busyCores: Math.round(busyShare * cores * 100) / 100,
    };
  }

  private sample(baseline = false): void {
    if (!baseline) this.#samples += 1;
    const counts = new Map<string, number>();
    const seen = new Set<number>();
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      const stat = readStat(pid);
      if (stat === undefined) continue;
      const previous = this.#last.get(pid);
      const group = previous?.group ?? this.classify(pid, stat.comm, stat.ppid);
      if (group === undefined) continue;
      seen.add(pid);
      counts.set(group, (counts.get(group) ?? 0) + 1);
      // A process first seen now: its ticks so far count too (most doveadm processes live
      // less than a sample).
      const delta = baseline ? 0 : stat.ticks - (previous?.ticks ?? 0);
      this.#cpu.set(group, (this.#cpu.get(group) ?? 0) + delta);
      const reaped = previous === undefined || baseline ? 0 : stat.reaped - previous.reaped;
      this.#reaped.set(group, (this.#reaped.get(group) ?? 0) + reaped);
      this.#last.set(pid, { group, ticks: stat.ticks, reaped: stat.reaped });
    }
    for (const pid of [...this.#last.keys()]) if (!seen.has(pid)) this.#last.delete(pid);
    if (baseline) return;
    for (const [group, n] of counts) {
      this.#max.set(group, Math.max(this.#max.get(group) ?? 0, n));
      this.#sum.set(group, (this.#sum.get(group) ?? 0) + n);
    }
  }
}
