/**
 * Metadata keys we write on Stripe objects and read back later. Here, below every domain folder, because the
 * services that write a key and the ones that read it live in different folders.
 */

/** The subscription metadata key that marks a duplicate we cancelled, naming the subscription the account kept. */
export const DUPLICATE_OF_METADATA = 'duplicate_of';

/**
 * Product and price metadata key that ties a Stripe object to the add-on it sells (plans/plans.yaml `addons:`).
 * On a price it is also the subscription item's role (ADR 0024): an item whose price carries it is an add-on,
 * whatever its lookup key became.
 */
export const ADDON_METADATA = 'coditect_addon';
