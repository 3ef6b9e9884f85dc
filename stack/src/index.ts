export * from './definition';
export * from './process';
export * from './supervisor';
export * from './client-build';
export * from './nats';
export * from './cluster';
