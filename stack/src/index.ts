export * from './definition';
export * from './process';
export * from './supervisor';
export * from './client-build';
