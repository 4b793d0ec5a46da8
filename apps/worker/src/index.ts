export * from './job-handlers';
export * from './replicate-user';
export * from './start-worker';
export * from './sync-user-handler';
export * from './worker-metrics';
export * from './user-lease';
