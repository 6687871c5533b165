/**
 * What happens to a charge after it is made: `/v1/charges` (read), `/v1/refunds`,
 * `/v1/disputes` and the hosted receipt page, as one resource module.
 */
import type { ResourceModule } from '../../core/http';
import * as charges from './charges-routes';
import * as disputes from './disputes';
import * as receipts from './receipts';
import * as refunds from './refunds';

export const chargeResources: ResourceModule = {
  routes: [...charges.routes, ...refunds.routes, ...disputes.routes, ...receipts.routes],
  setup: charges.setupCharges,
};
