export * from './periods';
export * from './proration';
export * from './retry';
export * from './tiers';
export * from './totals';
export * from './usage';
