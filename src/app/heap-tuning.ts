import { setFlagsFromString } from 'node:v8';

/**
 * How much the old generation may grow between two full collections, in percent (V8's `--heap-growing-percent`).
 *
 * With the image's 256 MB heap limit V8 picks its smallest growing factor, so a service whose live heap is about
 * 50 MB (the schema, the ORM's metadata, the SDKs) ran a full mark-compact every ~2,000 requests, each marking all
 * of it. At 50 % the old generation grows 1.5× first: about half the full collections for ~20 MB more RSS
 * (bench/README.md, 2026-12-07 14:42: 29 → 16 full collections over the same load, with 16 MB semi-spaces).
 */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Sets the service's collector tuning, once, before it allocates its heap's bulk. A flag, not `NODE_OPTIONS`:
 * Node refuses `--heap-growing-percent` there (it is not among the V8 options it allows), and V8 reads this one
 * at every collection, so setting it at start-up is as good as the command line. The heap's sizes themselves
 * (`--max-old-space-size`, `--max-semi-space-size`) are fixed when the heap is made and stay in `NODE_OPTIONS`
 * (Dockerfile, `npm start`).
 */
export function tuneHeap(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
