export * from './start-scheduler';
export * from './sweep';
