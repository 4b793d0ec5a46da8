export * from './dovewarden-process';
