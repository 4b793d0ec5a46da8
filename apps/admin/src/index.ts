export * from './start-admin';
export * from './admin-app';
