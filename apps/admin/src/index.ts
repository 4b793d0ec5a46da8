export * from './start-admin';
