/** The seeded fuzz of malformed requests at every endpoint of every service, and the sender it uses. */
export * from './requests';
export * from './generate';
export * from './send';
