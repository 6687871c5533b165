import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Random bytes drawn from the CSPRNG 4 KiB at a time: every request gets an id (`req_…`), and one `randomBytes`
 * call per id was 8 % of the emulator's CPU under the webhook bench (issue 14).
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++] as number;
}

/** Random base62 string; rejection sampling keeps every character equally likely. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    // 248 = 62 * 4: bytes above it would bias the first characters.
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

/**
 * A Stripe-looking id: `prefix_` + base62. Stripe's customer ids carry 14 characters,
 * most other objects 24 (`price_1MoBy5LkdIwHu7ixZhnattbh`); clients must not rely on either.
 */
export function newId(prefix: string, length = 24): string {
  return `${prefix}_${randomBase62(length)}`;
}
