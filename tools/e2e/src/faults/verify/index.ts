/**
 * Verification of the whole stack's state against a Ledger of requests: reads the bus history, the query
 * view, the posts service and the comments service, and lists every anomaly — an acknowledged request
 * missing (lost), anything there twice (duplicated), anything that was refused showing up (phantom), a
 * wrong moderation status, services that disagree, or a state not settled yet.
 */
export * from './reading';
export * from './anomalies';
export * from './checks';
export * from './polling';
