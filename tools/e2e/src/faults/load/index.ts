/** The load of the fault suite and the ledger of what it sent. */
export * from './ledger';
export * from './generator';
