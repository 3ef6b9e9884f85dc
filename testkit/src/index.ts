export * from './ports';
export * from './wait';
export * from './http';
export * from './stats';
export * from './random';
export * from './stack';
export * from './nats';
export * from './replicated-stack';
