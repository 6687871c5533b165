/**
 * Metadata keys we write on Stripe objects and read back later. Here, below every domain folder, because the
 * services that write a key and the ones that read it live in different folders.
 */

/** The subscription metadata key that marks a duplicate we cancelled, naming the subscription the account kept. */
export const DUPLICATE_OF_METADATA = 'duplicate_of';
