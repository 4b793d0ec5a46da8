export * from './start-scheduler';
export * from './sweep';
export * from './scheduler-metrics';
