export * from './event-filter';
export * from './ingest-app';
export * from './ingest-metrics';
export * from './start-ingest';
export * from './dovecot-config';
export * from './outage-recorder';
