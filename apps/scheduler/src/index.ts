export * from './start-scheduler';
export * from './sweep';
export * from './sweep-state';
export * from './scheduler-metrics';
export * from './verifier/start-verifier';
export * from './verifier/verify-user';
export * from './verifier/verification-walk';
