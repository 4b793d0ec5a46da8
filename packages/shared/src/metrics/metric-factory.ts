import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from './metrics';

/**
 * The one way an app declares its metrics: on its process's registry, every name under
 * `dovewarden_`, so that a metrics class lists names, help and labels and nothing else.
 */
export class MetricFactory {
  constructor(private readonly registry: Registry) {}

  counter<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    return new Counter({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames,
      registers: [this.registry],
    });
  }

  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ): Histogram<L> {
    return new Histogram({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames,
      buckets,
      registers: [this.registry],
    });
  }

  /** A gauge; with `collect`, its value is read at each scrape. */
  gauge<L extends string = never>(
    name: string,
    help: string,
    options: {
      labelNames?: readonly L[];
      collect?: (gauge: Gauge<L>) => void | Promise<void>;
    } = {},
  ): Gauge<L> {
    const { collect } = options;
    return new Gauge({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: options.labelNames ?? [],
      registers: [this.registry],
      ...(collect === undefined
        ? {}
        : {
            collect(this: Gauge<L>) {
              return collect(this);
            },
          }),
    });
  }
}
