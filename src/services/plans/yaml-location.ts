import { type Document, isMap, isNode, isPair, isScalar, isSeq, type LineCounter } from 'yaml';

/** A 1-based position in a YAML file, as editors show it. */
export interface YamlPosition {
  line: number;
  column: number;
}

/**
 * The position of the node at `path` (keys and sequence indexes, as zod reports them), or of its nearest
 * ancestor that exists: a missing field is reported where its parent mapping starts, so the line still
 * leads the reader to the right plan. A key's own line is preferred over its value's, because for a nested
 * mapping the value starts on the next line. `unrecognizedKey` points at an extra key inside the mapping.
 */
export function positionOf(
  document: Document,
  lineCounter: LineCounter,
  path: ReadonlyArray<string | number>,
  unrecognizedKey?: string,
): YamlPosition {
  let node: unknown = document.contents;
  let offset = rangeStart(node) ?? 0;
  const segments = unrecognizedKey === undefined ? path : [...path, unrecognizedKey];
  for (const segment of segments) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function rangeStart(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}
