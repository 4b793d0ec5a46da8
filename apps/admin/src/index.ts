export * from './start-admin';
export * from './admin-app';
export * from './admin-metrics';
