export * from './private-redis';
export * from './test-redis';
