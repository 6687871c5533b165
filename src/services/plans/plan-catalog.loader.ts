import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { ZodIssue } from 'zod';
import type { Catalog } from './plan.types';
import { catalogFileSchema, toCatalog } from './plan-catalog.schema';
import { type PlanCatalogIssue, PlanCatalogError } from './plan-catalog.errors';
import { positionOf } from './yaml-location';
import { decimalPointIssues } from './yaml-numbers';

/**
 * Reads and validates plans/plans.yaml text into a `Catalog`, or throws a `PlanCatalogError` naming the line
 * and reason of every problem. YAML syntax errors come from the parser with its own positions; shape and
 * cross-check errors are zod issues whose paths are mapped back to lines through the parsed document.
 */
export function parseCatalog(text: string, file: string): Catalog {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new PlanCatalogError(
      file,
      document.errors.map((error) => {
        const position = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
        return { line: position.line, column: position.col, path: '', reason: firstLine(error.message) };
      }),
    );
  }
  const parsed = catalogFileSchema.safeParse(document.toJS());
  const issues = [
    ...decimalPointIssues(document, lineCounter),
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => toCatalogIssue(issue, document, lineCounter))),
  ].sort((a, b) => a.line - b.line || a.column - b.column);
  if (issues.length > 0 || !parsed.success) throw new PlanCatalogError(file, issues);
  return toCatalog(parsed.data);
}

/** Reads the file at `path` (relative to the working directory) and parses it. */
export function readCatalogFile(path: string): Catalog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PlanCatalogError(path, [{ line: 1, column: 1, path: '', reason: `cannot be read: ${reason}` }]);
  }
  return parseCatalog(text, path);
}

function toCatalogIssue(
  issue: ZodIssue,
  document: Parameters<typeof positionOf>[0],
  lineCounter: LineCounter,
): PlanCatalogIssue {
  // An unknown key is best shown on its own line, not on the line of the mapping that holds it.
  const extraKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const { line, column } = positionOf(document, lineCounter, issue.path, extraKey);
  return { line, column, path: formatPath(issue.path), reason: reasonOf(issue) };
}

function reasonOf(issue: ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.received === 'undefined') return 'is required';
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (check the spelling)`;
  }
  return issue.message;
}

/** `plans[1].prices[0].amount`: how a reader would name the entry. */
function formatPath(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>(
    (text, segment) =>
      typeof segment === 'number' ? `${text}[${segment}]` : text ? `${text}.${segment}` : segment,
    '',
  );
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
