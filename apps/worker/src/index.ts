export * from './replicate-user';
export * from './start-worker';
export * from './sync-user';
export * from './sync-user-processor';
export * from './sync-failure';
export * from './worker-metrics';
export * from './sync-record';
