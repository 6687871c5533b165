import { type Document, isPair, isScalar, isSeq, type LineCounter, visit } from 'yaml';
import type { PlanCatalogIssue } from './plan-catalog.errors';

/**
 * Whole numbers written with a decimal point (`amount: 19.00`). YAML reads `19.00` as the number 19, which the
 * schema would accept as 19 cents: a hundredfold mistake on every invoice. The parser remembers the trailing
 * zeros (`minFractionDigits`), so the written form can still be refused here, before the schema runs.
 */
export function decimalPointIssues(document: Document, lineCounter: LineCounter): PlanCatalogIssue[] {
  const issues: PlanCatalogIssue[] = [];
  visit(document, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'number' || !Number.isInteger(node.value) || !node.minFractionDigits) return;
      const { line, col } = lineCounter.linePos(node.range?.[0] ?? 0);
      issues.push({
        line,
        column: col,
        path: pathOf(ancestors, node),
        reason: `write whole numbers without a decimal point (${node.value}, not ${node.value.toFixed(node.minFractionDigits)}); amounts are in cents: 1900 for $19.00`,
      });
    },
  });
  return issues;
}

/** The readable path (`plans[1].prices[0].amount`) of a node from the visitor's ancestor chain. */
function pathOf(ancestors: readonly unknown[], node: unknown): string {
  const chain = [...ancestors, node];
  let path = '';
  chain.forEach((ancestor, index) => {
    const child = chain[index + 1];
    if (isSeq(ancestor) && child !== undefined) path += `[${ancestor.items.indexOf(child)}]`;
    if (isPair(ancestor) && isScalar(ancestor.key) && child === ancestor.value) {
      path += path ? `.${String(ancestor.key.value)}` : String(ancestor.key.value);
    }
  });
  return path;
}
