import type { Telemetry } from 'bullmq';
import type { Registry } from 'prom-client';
import type { Config } from './config/config';
import type { Logger } from './logging/logger';
import type { Readiness } from './ops-server/readiness';

/** What every app receives from whoever starts it (the CLI, or a test). */
export interface AppContext {
  config: Config;
  logger: Logger;
  registry: Registry;
  readiness: Readiness;
  /** bullmq-otel, when tracing is on; every Queue and Worker takes it. */
  telemetry?: Telemetry | undefined;
}

/** A started app. stop() stops taking work, finishes or hands back what is in flight. */
export interface RunningApp {
  readonly name: string;
  stop(): Promise<void>;
}
