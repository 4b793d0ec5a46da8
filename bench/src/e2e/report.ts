import fs from 'node:fs';
import path from 'node:path';
import { cdf, writePng, type Series } from './chart';
import { costBlock } from './cost-report';
import type { ThroughputStep } from './scenarios';
import type { SystemId } from './systems';
import type { LatencySummary } from './util';

export type ChangeLatencies = Record<
  'single' | 'bursts' | 'flag' | 'expunge' | 'rename' | 'lmtp',
  LatencySummary
>;

export interface SystemResult {
  id: SystemId;
  version: string;
  settings: Record<string, string>;
  latency: ChangeLatencies;
  /** Raw latencies in ms (Infinity: never seen), for the charts. */
  samples: { single: number[]; bursts: number[] };
  dsyncPerChange: Record<string, { changes: number; dsyncRuns: number; ratio: number }>;
  throughput: ThroughputStep[];
  cost: Array<{ name: string; cpuSeconds: number; peakRssMiB: number }>;
  profile:
    | { samples: number; ackToSyncStartMs: number; syncMs: number; syncEndToVisibleMs: number }
    | undefined;
  workerOutcomes: Record<string, number>;
  elapsedSeconds: number;
}

export interface E2eReport {
  quick: boolean;
  date: string;
  machine: {
    nproc: number;
    kernel: string;
    node: string;
    cpu: string;
    loadAverageAtEnd: number[];
    dovecot23: string;
    dovecot24: string;
  };
  parameters: {
    users: number;
    singles: number;
    bursts: number;
    burstSize: number;
    otherReps: number;
    rates: number[];
    stepSeconds: number;
    limitMs: number;
  };
  results: SystemResult[];
  skipped: Array<{ id: SystemId; reason: string }>;
}

const KINDS: Array<[keyof ChangeLatencies, string]> = [
  ['single', 'APPEND, single'],
  ['bursts', 'APPEND, bursts'],
  ['flag', 'flag change (STORE +\\Seen)'],
  ['expunge', 'expunge'],
  ['rename', 'mailbox rename'],
  ['lmtp', 'LMTP delivery'],
];

const COLUMNS: SystemId[] = [
  'bare-dsync-2.3',
  'replicator-2.3',
  'dovewarden-2.3',
  'dovewarden-2.4',
  'bare-dsync-2.4',
];

function num(v: number | undefined, unit = ''): string {
  if (v === undefined || Number.isNaN(v)) return 'n/a';
  if (!Number.isFinite(v)) return 'never';
  return `${v.toLocaleString('en', { maximumFractionDigits: 2 })}${unit}`;
}

function ratio(x: number | undefined, y: number | undefined): string {
  if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || y === 0)
    return 'n/a';
  return `${(x / y).toFixed(2)}×`;
}

const ok = (pass: boolean | undefined): string =>
  pass === undefined ? 'n/a' : pass ? '**met**' : '**missed**';

/** The highest rate a system kept up with; 0 when it kept up with none. */
export function maxKeptUp(r: SystemResult | undefined): number | undefined {
  if (r === undefined || r.throughput.length === 0) return undefined;
  return r.throughput.filter((s) => s.keptUp).reduce((m, s) => Math.max(m, s.rate), 0);
}

/** Changes later than 5 s in the latency phases and in the load steps the system kept up with. */
function lateCount(r: SystemResult): number {
  return (
    Object.values(r.latency).reduce((n, l) => n + l.over5s, 0) +
    r.throughput.filter((s) => s.keptUp).reduce((n, s) => n + s.latency.over5s, 0)
  );
}

interface Verdicts {
  rows: string[];
}

function verdicts(
  dw: SystemResult | undefined,
  repl: SystemResult | undefined,
  bare: SystemResult | undefined,
): Verdicts {
  const rows: string[] = [];
  for (const [kind, label] of KINDS) {
    const d = dw?.latency[kind];
    const r = repl?.latency[kind];
    const b = bare?.latency[kind];
    const nearBare = d !== undefined && b !== undefined ? d.p50 <= b.p50 + 15 : undefined;
    const p50Ratio = d !== undefined && r !== undefined ? d.p50 <= 0.15 * r.p50 : undefined;
    const p95Ratio = d !== undefined && r !== undefined ? d.p95 <= 0.2 * r.p95 : undefined;
    rows.push(
      `| ${label} | p50 ${num(d?.p50)} ms vs bare ${num(b?.p50)} ms + 15 | ${ok(nearBare)} | p50 ${ratio(d?.p50, r?.p50)} of the replicator (≤ 0.15×) | ${ok(p50Ratio)} | p95 ${ratio(d?.p95, r?.p95)} (≤ 0.2×) | ${ok(p95Ratio)} |`,
    );
  }
  return { rows };
}

function latencyTable(report: E2eReport, present: SystemId[]): string[] {
  const by = new Map(report.results.map((r) => [r.id, r]));
  const lines = [
    `| change | figure | ${present.join(' | ')} | dovewarden-2.3 / replicator | dovewarden-2.4 / dovewarden-2.3 |`,
    `|---|---|${present.map(() => '---:').join('|')}|---:|---:|`,
  ];
  for (const [kind, label] of KINDS) {
    for (const fig of ['p50', 'p95', 'p99', 'max', 'over5s'] as const) {
      const cells = present.map((id) => {
        const v = by.get(id)?.latency[kind][fig];
        return fig === 'over5s' ? num(v) : `${num(v)} ms`.replace('never ms', 'never');
      });
      const dw = by.get('dovewarden-2.3')?.latency[kind][fig];
      const rp = by.get('replicator-2.3')?.latency[kind][fig];
      const d4 = by.get('dovewarden-2.4')?.latency[kind][fig];
      lines.push(
        `| ${fig === 'p50' ? label : ''} | ${fig === 'over5s' ? '> 5 s' : fig} (n=${by.get(present[0] ?? 'replicator-2.3')?.latency[kind].count ?? 0}) | ${cells.join(' | ')} | ${fig === 'over5s' ? '' : ratio(dw, rp)} | ${fig === 'over5s' ? '' : ratio(d4, dw)} |`,
      );
    }
  }
  return lines;
}

function throughputTable(report: E2eReport): string[] {
  const lines = [
    '| system | offered rate | achieved | p50 | p95 | p99 | > 5 s | converged after stop | dsync runs / change | controller CPU s | machine CPU s | kept up |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of report.results) {
    for (const s of r.throughput) {
      lines.push(
        `| ${r.id} | ${s.rate}/s | ${num(s.achievedRate)}/s | ${num(s.latency.p50)} ms | ${num(s.latency.p95)} ms | ${num(s.latency.p99)} ms | ${s.latency.over5s} | ${num(s.convergeMs)} ms | ${num(s.dsyncPerChange)} | ${num(s.controllerCpuSeconds)} | ${num(s.machineCpuSeconds)} | ${s.keptUp ? 'yes' : '**no**'} |`,
      );
    }
  }
  return lines;
}

const COLORS: Partial<Record<SystemId, string>> = {
  'bare-dsync-2.3': '#7f7f7f',
  'replicator-2.3': '#d62728',
  'dovewarden-2.3': '#1f77b4',
  'dovewarden-2.4': '#2ca02c',
  'bare-dsync-2.4': '#bcbd22',
};

function charts(report: E2eReport, docsDir: string): string[] {
  const written: string[] = [];
  const latencySeries: Series[] = report.results.map((r) => ({
    label: `${r.id} (${r.samples.single.length + r.samples.bursts.length} APPENDs)`,
    color: COLORS[r.id] ?? '#000',
    dashed: r.id.startsWith('bare-'),
    points: cdf([...r.samples.single, ...r.samples.bursts]),
  }));
  const latencyPng = path.join(docsDir, 'benchmark-latency.png');
  if (
    writePng(
      {
        title: 'APPEND on A until visible on B: distribution (single messages and bursts)',
        xLabel: 'latency, ms (log scale)',
        yLabel: '% of messages visible on B',
        logX: true,
        series: latencySeries,
        markers: [{ x: 5000, label: '5 s' }],
      },
      latencyPng,
    )
  )
    written.push(path.basename(latencyPng));
  const backlogSeries: Series[] = report.results
    .filter((r) => r.throughput.length > 0)
    .map((r) => {
      let offset = 0;
      const points: Array<[number, number]> = [];
      for (const step of r.throughput) {
        for (const [t, n] of step.backlog) points.push([(offset + t) / 1000, n]);
        offset += (step.backlog.at(-1)?.[0] ?? 0) + 1000;
      }
      return {
        label: `${r.id}: rates ${r.throughput.map((s) => s.rate).join(', ')}/s`,
        color: COLORS[r.id] ?? '#000',
        points,
      };
    });
  const backlogPng = path.join(docsDir, 'benchmark-backlog.png');
  if (
    writePng(
      {
        title: `Backlog under sustained APPEND load (${report.parameters.stepSeconds} s per rate step)`,
        xLabel: 'seconds since the load began (steps back to back)',
        yLabel: 'changes acknowledged on A, not yet on B',
        series: backlogSeries,
      },
      backlogPng,
    )
  )
    written.push(path.basename(backlogPng));
  return written;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The micro-benchmarks' own JSON, flattened to "path: value" lines for the figures that matter. */
function microSection(resultsDir: string): string[] {
  const lines: string[] = [];
  for (const [file, title] of [
    ['ingest.json', 'Ingest against a bare node:http server'],
    ['worker.json', 'Worker overhead (fake doveadm)'],
    ['sweep.json', 'Scheduler sweep'],
    ['doveadm-client.json', 'Doveadm client against real Dovecot'],
  ] as const) {
    const data = readJson(path.join(resultsDir, file));
    lines.push(`### ${title} (\`bench/results/${file}\`)`, '');
    if (data === undefined) {
      lines.push('Not run: `npm run bench` runs it before this comparison.', '');
      continue;
    }
    lines.push(...describeMicro(file, data), '');
  }
  return lines;
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {});
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj) : []);
const n = (v: unknown): string =>
  typeof v === 'number'
    ? num(v)
    : typeof v === 'string' || typeof v === 'boolean'
      ? String(v)
      : 'n/a';

/** The headline figures of each micro-benchmark's JSON (see its own header comment). */
export function describeMicro(file: string, raw: unknown): string[] {
  const data = obj(raw);
  const mode = data.quick === true ? ' (its --quick sizes)' : '';
  switch (file) {
    case 'ingest.json': {
      const max = obj(data.max);
      const half = obj(data.halfRate);
      const mem = obj(data.memory);
      const rss = Array.isArray(mem.rssMiB) ? (mem.rssMiB as number[]) : [];
      return [
        `Real ingest (with Redis) against a bare node:http server that parses the JSON and answers 204 (same load, same run), ${n(data.concurrency)} concurrent senders${mode}.`,
        '',
        '| figure | ingest | bare node:http | ratio |',
        '|---|---:|---:|---:|',
        `| max events/s | ${n(obj(max.ingest).rate)} | ${n(obj(max.baseline).rate)} | ${n(max.throughputRatio)}× |`,
        `| p50 ms at max | ${n(obj(max.ingest).p50)} | ${n(obj(max.baseline).p50)} | ${ratio(obj(max.ingest).p50 as number, obj(max.baseline).p50 as number)} |`,
        `| p50 ms at ${n(half.rate)}/s | ${n(obj(half.ingest).p50)} | ${n(obj(half.baseline).p50)} | ${ratio(obj(half.ingest).p50 as number, obj(half.baseline).p50 as number)} |`,
        `| p99 ms at ${n(half.rate)}/s | ${n(obj(half.ingest).p99)} | ${n(obj(half.baseline).p99)} | ${ratio(obj(half.ingest).p99 as number, obj(half.baseline).p99 as number)} |`,
        `| RSS MiB over ${n(mem.events)} events | ${n(rss[0])} → ${n(rss.at(-1))} | | |`,
      ];
    }
    case 'worker.json': {
      const t = obj(data.throughput);
      const c = obj(data.coalescing);
      const lag = list(obj(data.lag).runs);
      return [
        `Real worker processes and Redis against a fake doveadm${mode}.`,
        '',
        `- Throughput at 0 ms doveadm latency: ${n(t.syncsPerSecond)} syncs/s (${n(t.users)} users, ${n(t.processes)} process × NUM_WORKERS ${n(t.numWorkers)}), ${n(t.overlaps)} overlapping syncs of one user.`,
        `- Coalescing: ${n(c.burstSize)} enqueues for one user during its sync gave at most ${n(c.maxSyncsPerBurst)} syncs (mean ${n(c.meanSyncsPerBurst)}); last sync after the burst in every case: ${n(c.allCovered)}.`,
        ...lag.map(
          (r) =>
            `- Lag at ${n(r.rate)} changes/s (100 ms doveadm): p50 ${n(r.p50Ms)} ms, p99 ${n(r.p99Ms)} ms, ${n(r.syncs)} syncs for ${n(r.changes)} changes, ${n(r.uncovered)} uncovered.`,
        ),
      ];
    }
    case 'sweep.json':
      return [
        `Scheduler sweep against real Redis${mode}.`,
        '',
        '| users | queued | seconds | users/s | Redis round trips | peak RSS MiB |',
        '|---:|---:|---:|---:|---:|---:|',
        ...list(data.rows).map(
          (r) =>
            `| ${n(r.users)} | ${n(r.queued)} | ${n(r.seconds)} | ${n(r.usersPerSecond)} | ${n(r.roundTrips)} | ${n(r.peakRssMiB)} |`,
        ),
      ];
    case 'doveadm-client.json':
      return [
        `DoveadmClient against the same request sent with a bare fetch(), same servers, same run${mode}.`,
        '',
        '| Dovecot | call | client median ms | bare median ms | ratio |',
        '|---|---|---:|---:|---:|',
        ...list(data.results).flatMap((r) =>
          ['sync', 'listUsers'].map((call) => {
            const c = obj(r[call]);
            return `| ${n(r.version)} | ${call} | ${n(obj(c.client).medianMs)} | ${n(obj(c.baseline).medianMs)} | ${n(c.ratioMedian)}× |`;
          }),
        ),
      ];
    default:
      return [];
  }
}

/** Sentences computed from this run's figures: where dovewarden's time goes against the floor. */
function analysis(by: Map<SystemId, SystemResult>): string[] {
  const lines: string[] = [];
  for (const [dwId, bareId] of [
    ['dovewarden-2.3', 'bare-dsync-2.3'],
    ['dovewarden-2.4', 'bare-dsync-2.4'],
  ] as const) {
    const dw = by.get(dwId);
    const bare = by.get(bareId);
    if (dw === undefined || bare === undefined) continue;
    const gaps = KINDS.map(
      ([kind, label]) =>
        `${label} ${num(round1(dw.latency[kind].p50 - bare.latency[kind].p50))} ms`,
    );
    lines.push(`- ${dwId} p50 minus ${bareId} p50: ${gaps.join('; ')}.`);
    const p = dw.profile;
    if (p !== undefined) {
      lines.push(
        `- ${dwId}, single APPENDs: ${num(p.ackToSyncStartMs)} ms from A's answer to the worker's doveadm call (event export, ingest, Redis, BullMQ pick-up), ${num(p.syncMs)} ms in the doveadm sync itself, against ${num(bare.latency.single.p50)} ms end to end for the bare sync. The controller's own share is the first figure; the rest is Dovecot's.`,
      );
    }
    const outcomes = Object.entries(dw.workerOutcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    if (outcomes !== '') lines.push(`- ${dwId} worker sync jobs by outcome: ${outcomes}.`);
  }
  return lines;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

export function writeReport(report: E2eReport, resultsDir: string, docsDir: string): void {
  fs.mkdirSync(docsDir, { recursive: true });
  const by = new Map(report.results.map((r) => [r.id, r]));
  const present = COLUMNS.filter((id) => by.has(id));
  const dw = by.get('dovewarden-2.3');
  const repl = by.get('replicator-2.3');
  const bare = by.get('bare-dsync-2.3');
  const v = verdicts(dw, repl, bare);
  const chartFiles = charts(report, docsDir);
  const m = report.machine;
  const lines: string[] = [
    '# Benchmarks',
    '',
    ...costBlock(resultsDir),
    '',
    `Generated by \`npm run bench${report.quick ? ' -- --quick' : ''}\` (bench/src/replication-compare.ts) on ${report.date}.`,
    'Every figure below was measured in that one run, on one machine; nothing is copied from elsewhere.',
    '',
    `- Machine: ${m.nproc} CPUs (${m.cpu}), Linux ${m.kernel}, Node ${m.node}; load average at the end ${m.loadAverageAtEnd.join(' / ')}.`,
    `- Dovecot: ${m.dovecot23} (Debian 12) and ${m.dovecot24} (Debian 13 chroot); sdbox, 127.0.0.1.`,
    '- **Shared machine**: other engineers ran builds and tests at the same time, so the figures are noisy. Compare columns of one run; do not compare runs.',
    `- ${report.quick ? 'Quick run (`--quick`): fewer samples and short load steps.' : 'Full run.'} ${report.parameters.users} users; ${report.parameters.singles} single APPENDs; ${report.parameters.bursts} bursts of ${report.parameters.burstSize} messages; ${report.parameters.otherReps} of each other change; load steps of ${report.parameters.stepSeconds} s at ${report.parameters.rates.join(', ')} APPENDs/s; a change not on B after ${report.parameters.limitMs / 1000} s counts as never.`,
    ...(report.skipped.length > 0
      ? [`- Not measured: ${report.skipped.map((s) => `${s.id} (${s.reason})`).join('; ')}.`]
      : []),
    '',
    '## Systems',
    '',
    "- **bare-dsync**: no controller; the harness calls `sync` on A's Doveadm HTTP API with the stored state right after each change. The floor any controller adds to.",
    "- **replicator-2.3**: Dovecot 2.3's notify + replication plugins, aggregator and replicator, `replication_max_conns = 10` (the tested config of ../shared/dovecot/dovecot-2.3.md).",
    `- **dovewarden**: \`dovewarden ingest\`, \`worker\` and \`scheduler\` as separate processes, a private redis-server (append-only file on, as the embedded mode), A exporting events to ingest with the testkit's generated config. Settings: ${
      Object.entries(dw?.settings ?? by.get('dovewarden-2.4')?.settings ?? {})
        .map(([k, val]) => `\`${k}=${val}\``)
        .join(', ') || 'defaults'
    }; everything else default (NUM_WORKERS 4, MAX_PARALLEL_SYNCS 10).`,
    '',
    "Method: each change is made over IMAP (LMTP for deliveries) on A, timed from A's answer; B is watched through one IMAP connection per user polling `STATUS` (UIDNEXT for new mail, UNSEEN for the flag, MESSAGES for expunge and delivery, the new name for a rename) every 5 ms (20 ms in bursts, 50 ms under load), so a figure is at most one poll interval plus a round trip late. Single APPENDs wait until the previous one is on B (idle system each time); a burst APPENDs 5 messages to each of the 20 users at once.",
    '',
    '## Targets',
    '',
    '| change | target: within 15 ms of bare dsync | | target: p50 | | target: p95 | |',
    '|---|---|---|---|---|---|---|',
    ...v.rows,
    '',
    `- **Nothing late** (0 changes later than 5 s, latency phases and load steps kept up with): dovewarden-2.3 ${dw === undefined ? 'n/a' : lateCount(dw)}, dovewarden-2.4 ${by.get('dovewarden-2.4') === undefined ? 'n/a' : lateCount(by.get('dovewarden-2.4') as SystemResult)}, replicator ${repl === undefined ? 'n/a' : lateCount(repl)}: ${ok(dw === undefined ? undefined : lateCount(dw) === 0)}.`,
    `- **Sustained rate** (highest offered APPEND rate kept up with: p95 ≤ 5 s and B caught up within 5 s of the end): dovewarden-2.3 ${num(maxKeptUp(dw))}/s, dovewarden-2.4 ${num(maxKeptUp(by.get('dovewarden-2.4')))}/s, replicator ${num(maxKeptUp(repl))}/s: ${ok(dw === undefined || repl === undefined ? undefined : (maxKeptUp(dw) ?? 0) >= (maxKeptUp(repl) ?? 0))}.`,
    '',
    '## Latency from a change on A until it is visible on B',
    '',
    ...latencyTable(report, present),
    '',
    ...chartFiles
      .filter((f) => f.includes('latency'))
      .map((f) => `![APPEND latency distributions](${f})`),
    '',
    '## Sustained load',
    '',
    `Every user APPENDs in turn at the offered rate for ${report.parameters.stepSeconds} s; the rate steps up until a system falls behind (p95 over 5 s, or B not caught up 5 s after the load stops). "Achieved" below the offered rate means the load generator and A could not keep the pace on this machine, whatever the controller. "Machine CPU s" is busy time of all cores during the step (everything: Dovecot, the harness, other users of the machine).`,
    '',
    ...throughputTable(report),
    '',
    ...chartFiles.filter((f) => f.includes('backlog')).map((f) => `![Backlog over time](${f})`),
    '',
    '## Doveadm calls per change (coalescing)',
    '',
    "dsync runs are counted the same way for every system, on B: `mail_debug` for doveadm sessions logs one `Effective uid=` line each time a dsync from A opens the user on B. That counts the replicator's syncs and dovewarden's Doveadm API syncs alike (exit-2 re-runs and second passes included), without trusting any controller's own counters; the IMAP sessions of the watchers log under `imap(...)` and are not counted.",
    '',
    `| phase | ${present.join(' | ')} |`,
    `|---|${present.map(() => '---:').join('|')}|`,
    ...['single', 'bursts', 'others'].map(
      (phase) =>
        `| ${phase} | ${present
          .map((id) => {
            const p = by.get(id)?.dsyncPerChange[phase];
            return p === undefined ? 'n/a' : `${p.dsyncRuns} / ${p.changes} = ${num(p.ratio)}`;
          })
          .join(' | ')} |`,
    ),
    ...report.parameters.rates.map(
      (rate) =>
        `| load ${rate}/s | ${present
          .map((id) => {
            const s = by.get(id)?.throughput.find((t) => t.rate === rate);
            return s === undefined
              ? 'n/a'
              : `${s.dsyncRuns} / ${s.sent} = ${num(s.dsyncPerChange)}`;
          })
          .join(' | ')} |`,
    ),
    '',
    '## Cost',
    '',
    "CPU seconds (utime + stime from /proc/PID/stat) used from the first single APPEND to the end of the last load step, and peak RSS (VmHWM), of the controller's own processes: for the replicator its `replicator` and `aggregator`; for dovewarden its three Node processes and its redis-server. Dovecot's doveadm processes that run the dsyncs are the same work for both and not counted here; neither is the stats process that exports events for dovewarden.",
    '',
    '| system | process | CPU s | peak RSS MiB |',
    '|---|---|---:|---:|',
    ...report.results.flatMap((r) =>
      r.cost.length === 0
        ? []
        : [
            ...r.cost.map(
              (c) => `| ${r.id} | ${c.name} | ${num(c.cpuSeconds)} | ${num(c.peakRssMiB)} |`,
            ),
            `| ${r.id} | **total** | **${num(r.cost.reduce((s, c) => s + c.cpuSeconds, 0))}** | **${num(r.cost.reduce((s, c) => s + c.peakRssMiB, 0))}** |`,
          ],
    ),
    '',
    "## Where dovewarden's time goes (single APPENDs, medians)",
    '',
    'From the worker\'s own "synced" log lines (start and duration of each doveadm sync, ms resolution) matched to the harness\'s timestamps: A answers the APPEND → the worker starts the doveadm sync (event export, ingest, Redis, BullMQ pick-up) → the sync ends → the watcher sees the message on B.',
    '',
    '| system | samples | A answered → sync starts | doveadm sync | sync ends → seen on B | bare dsync end-to-end p50 |',
    '|---|---:|---:|---:|---:|---:|',
    ...report.results
      .filter((r) => r.profile !== undefined)
      .map((r) => {
        const p = r.profile;
        const b = by.get(r.version === '2.3' ? 'bare-dsync-2.3' : 'bare-dsync-2.4');
        return `| ${r.id} | ${p?.samples ?? 0} | ${num(p?.ackToSyncStartMs)} ms | ${num(p?.syncMs)} ms | ${num(p?.syncEndToVisibleMs)} ms | ${num(b?.latency.single.p50)} ms |`;
      }),
    '',
    ...analysis(by),
    '',
    '## Micro-benchmarks',
    '',
    'From the other benchmarks of `npm run bench`, as they last wrote their results (each prints its own ratio against a baseline measured in its run).',
    '',
    ...microSection(resultsDir),
    // Blocks other benchmarks own (sync-wait.bench.ts, mask.bench.ts): kept as they last wrote them.
    ...keptBlocks(path.join(docsDir, 'benchmarks.md'), ['sync-wait', 'mask']),
  ];
  fs.writeFileSync(path.join(docsDir, 'benchmarks.md'), `${lines.join('\n')}\n`);
}

/** The `<!-- NAME:start -->` … `<!-- NAME:end -->` blocks of the current file, each with a blank line before it. */
function keptBlocks(file: string, names: readonly string[]): string[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  return names.flatMap((name) => {
    const start = text.indexOf(`<!-- ${name}:start -->`);
    const endMarker = `<!-- ${name}:end -->`;
    const end = text.indexOf(endMarker);
    return start !== -1 && end > start ? ['', text.slice(start, end + endMarker.length)] : [];
  });
}
