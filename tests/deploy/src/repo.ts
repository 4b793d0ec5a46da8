import { parse } from 'yaml';
import { repoFile, repoRoot } from '@dovewarden/testkit';
import { OPTION_SPECS, type OptionName, envNameOf } from '@dovewarden/shared';

export const ROOT = repoRoot();

export { repoFile };

export function repoYaml(relative: string): unknown {
  return parse(repoFile(relative), { merge: true });
}

/** Every query of a Grafana dashboard, with the panel it belongs to. */
export function dashboardQueries(relative: string): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(repoFile(relative)) as {
    panels: { title: string; targets?: { expr?: string }[] }[];
  };
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? [])
      .filter((target) => typeof target.expr === 'string')
      .map((target) => ({ panel: panel.title, expr: target.expr! })),
  );
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function alertRules(relative = 'deploy/prometheus/alerts.yml'): AlertRule[] {
  const file = repoYaml(relative) as { groups: { rules: AlertRule[] }[] };
  return file.groups.flatMap((group) => group.rules);
}

/** DOVEWARDEN_* names the config schema knows: DOVEWARDEN_ + upper snake of each option. */
export function schemaEnvNames(): Set<string> {
  return new Set(Object.keys(OPTION_SPECS).map((option) => envNameOf(option as OptionName)));
}

/**
 * Redis Sentinel and Cluster settings, which the compose file and the chart already offer
 * while their config options land separately; until they do, these tests fail on purpose.
 */
export const REDIS_DISTRIBUTED_ENV = [
  'DOVEWARDEN_REDIS_SENTINELS',
  'DOVEWARDEN_REDIS_SENTINEL_MASTER',
  'DOVEWARDEN_REDIS_CLUSTER_NODES',
];

/** Every DOVEWARDEN_* word in a text, comments included (a commented example must work too). */
export function envNamesIn(text: string): Set<string> {
  return new Set(text.match(/\bDOVEWARDEN_[A-Z0-9_]+\b/g) ?? []);
}
