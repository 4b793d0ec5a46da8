import { type IngestSettings, type RawOptions, buildConfig } from '@dovewarden/shared';

/** Ingest settings as a given set of options would configure them (defaults otherwise). */
export function ingestSettings(options: RawOptions = {}): IngestSettings {
  return buildConfig({ 'redis-mode': 'external', ...options }, 'ingest').ingest;
}
