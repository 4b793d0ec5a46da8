import type { Telemetry } from 'bullmq';
import type { Logger } from '../logging/logger';

export interface OtelSettings {
  readonly enabled: boolean;
  readonly serviceName: string;
}

export interface TelemetryHandle {
  /** Hand to every Queue and Worker; undefined when tracing is off. */
  readonly telemetry: Telemetry | undefined;
  shutdown(): Promise<void>;
}

/**
 * Traces through bullmq-otel: a span for each job added and processed, linked across
 * processes through the job, so one event can be followed from ingest to the worker's sync.
 * Off unless the standard OTEL_* environment asks for an exporter; the OpenTelemetry SDK then
 * reads its own settings (endpoint, headers, sampler) from that environment.
 */
export async function startTelemetry(
  settings: OtelSettings,
  logger: Logger,
): Promise<TelemetryHandle> {
  if (!settings.enabled) return { telemetry: undefined, shutdown: () => Promise.resolve() };
  // Loaded only when asked for: the SDK is large, and most installations do not trace.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { BullMQOtel } = await import('bullmq-otel');
  const sdk = new NodeSDK({ serviceName: settings.serviceName });
  sdk.start();
  logger.info('OpenTelemetry tracing on', { serviceName: settings.serviceName });
  return {
    telemetry: new BullMQOtel({ tracerName: 'dovewarden', meterName: 'dovewarden' }),
    shutdown: () => sdk.shutdown(),
  };
}
