import { parser } from '@prometheus-io/lezer-promql';

/** Grafana's interval variables are not PromQL; Grafana substitutes a duration before querying. */
const GRAFANA_VARIABLES = /\$__(rate_interval|interval|range)\b/g;

export function grafanaToPromql(expr: string): string {
  return expr.replace(GRAFANA_VARIABLES, '5m');
}

/**
 * The metric names an expression selects, parsed with Prometheus's own PromQL grammar (the one
 * its web UI uses). Throws on a syntax error, so a broken rule or panel fails too.
 */
export function metricNamesIn(expr: string): string[] {
  const tree = parser.parse(expr);
  const names = new Set<string>();
  const errors: string[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError)
      errors.push(`at ${cursor.from}: "${expr.slice(cursor.from, cursor.from + 20)}"`);
    if (cursor.name === 'VectorSelector') {
      const selector = cursor.node;
      const identifier = selector.getChild('Identifier');
      if (identifier !== null) names.add(expr.slice(identifier.from, identifier.to));
      // {__name__="x"} selects by name too.
      const text = expr.slice(selector.from, selector.to);
      for (const match of text.matchAll(/__name__\s*=\s*"([^"]+)"/g)) names.add(match[1]);
    }
  } while (cursor.next());
  if (errors.length > 0) throw new Error(`PromQL syntax error in ${expr}\n${errors.join('\n')}`);
  return [...names].sort();
}

/** Series Prometheus makes itself, not the apps. */
export const PROMETHEUS_SERIES = new Set(['up']);

/**
 * Names a /metrics page offers: from its # TYPE lines (a labelled metric with no sample yet
 * still has one), with the series a histogram or summary adds.
 */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

/** The names an expression uses that nobody exports. */
export function unknownNames(expr: string, exported: ReadonlySet<string>): string[] {
  return metricNamesIn(expr).filter((name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name));
}
