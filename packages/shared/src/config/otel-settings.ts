/**
 * Tracing follows the standard OTEL_* variables rather than DOVEWARDEN_* ones, so that the
 * usual collector set-up works as is. It is on when an exporter is named or an OTLP endpoint
 * is given, and OTEL_SDK_DISABLED is not true.
 */
export function otelSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  enabled: boolean;
  serviceName: string;
} {
  const exporter = env['OTEL_TRACES_EXPORTER'];
  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  const asked =
    (exporter !== undefined && exporter !== '' && exporter !== 'none') ||
    (endpoint !== undefined && endpoint !== '');
  return {
    enabled: asked && env['OTEL_SDK_DISABLED'] !== 'true',
    serviceName: env['OTEL_SERVICE_NAME'] ?? 'dovewarden',
  };
}
