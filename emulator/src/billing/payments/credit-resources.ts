/** Credit notes and customer balance transactions, as one resource module. */
import type { Route } from '../../core/http';
import * as creditNotes from './credit-notes';
import * as customerBalance from './customer-balance';

export const routes: Route[] = [...creditNotes.routes, ...customerBalance.routes];
