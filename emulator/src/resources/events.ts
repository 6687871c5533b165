import type { ApiRequest, Route } from '../core/http';
import { eventTypeMatches } from '../core/events';
import { invalidRequest } from '../core/errors';
import { paginate } from '../core/list';
import { COLLECTIONS } from '../core/collections';

/**
 * `types`: "An array of up to 20 strings containing specific event names" (`EventListParams.types` in the `stripe`
 * SDK's types; https://docs.stripe.com/api/events/list). A longer list is refused, not cut short.
 */
const MAX_TYPES = 20;

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const type = input.str('type');
  const types = input.strArray('types');
  if (type && types)
    throw invalidRequest('You may only specify one of these parameters: type, types.', 'types');
  if (types && types.length > MAX_TYPES)
    throw invalidRequest(
      `Invalid array: types must have at most ${MAX_TYPES} elements, but ${types.length} were given.`,
      'types',
    );
  const created = input.range('created');
  const deliverySuccess = input.bool('delivery_success');
  const items = emulator.store
    .all(COLLECTIONS.event)
    .filter(
      (e) =>
        (!type || eventTypeMatches(type, e.type)) &&
        (!types || types.some((t) => eventTypeMatches(t, e.type))) &&
        (!created || created(e.created)) &&
        (deliverySuccess === undefined || (e.pending_webhooks === 0) === deliverySuccess),
    );
  return paginate(items, input, req.path);
}

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/v1/events',
    params: ['created', 'delivery_success', 'type', 'types', 'limit', 'starting_after', 'ending_before'],
    handler: list,
  },
  {
    method: 'GET',
    path: '/v1/events/:id',
    params: [],
    handler: ({ emulator, pathParams }) => emulator.store.require(COLLECTIONS.event, pathParams.id, 'event'),
  },
];
