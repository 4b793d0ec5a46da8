import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoRoot } from '@dovewarden/testkit';

export interface ScenarioResult {
  /** "1. No faults" and so on, as in docs/reliability.md. */
  scenario: string;
  passed: boolean;
  /** Why a failed scenario failed, for the summary at the end of the suite. */
  failure?: string;
  /** From the load stopping to B matching A for every user. */
  convergenceMs: number | undefined;
  /** The bound the convergence had to meet, and what it is relative to. */
  boundMs?: number | undefined;
  boundRelativeTo?: string | undefined;
  /** Changes A confirmed during the scenario. */
  changes: number;
  notes: string;
  at: string;
}

function outputDir(): string {
  const root = findRepoRoot();
  if (root === null) throw new Error('cannot find the repository root');
  const dir = join(root, 'tests', 'chaos', 'output');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function outputFile(): string {
  return join(outputDir(), 'results.json');
}

/**
 * Keeps a failed scenario's whole output, one file per process, beside the results: the test
 * output shows only the last lines, and a flaky failure must be explainable after the fact.
 */
export function keepEvidence(scenario: string, logs: { name: string; text: string }[]): string {
  const slug = scenario
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  const dir = join(outputDir(), `${slug}-${new Date().toISOString().replace(/[:.]/g, '')}`);
  mkdirSync(dir, { recursive: true });
  for (const log of logs) writeFileSync(join(dir, `${log.name}.log`), log.text);
  return dir;
}

export function readResults(): Record<string, ScenarioResult> {
  const file = outputFile();
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, ScenarioResult>)
    : {};
}

/** Keeps the last result of each scenario, for the table in docs/reliability.md. */
export function recordResult(result: Omit<ScenarioResult, 'at'>): void {
  const all = readResults();
  all[result.scenario] = { ...result, at: new Date().toISOString() };
  writeFileSync(outputFile(), `${JSON.stringify(all, null, 2)}\n`);
}
