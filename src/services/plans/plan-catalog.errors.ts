/** One thing wrong in plans/plans.yaml, with where it is. */
export interface PlanCatalogIssue {
  line: number;
  column: number;
  /** The path in the file, e.g. `plans[1].prices[0].amount`; empty for the whole file. */
  path: string;
  reason: string;
}

/**
 * plans/plans.yaml cannot be used. The message starts with `file:line` of the first problem so an editor
 * or terminal jumps to it, and lists every problem found, so one edit-and-retry fixes them all.
 */
export class PlanCatalogError extends Error {
  readonly line: number;
  readonly reason: string;

  constructor(
    readonly file: string,
    readonly issues: PlanCatalogIssue[],
  ) {
    super(`${file} is invalid:\n${issues.map((issue) => `  ${formatIssue(file, issue)}`).join('\n')}`);
    this.name = 'PlanCatalogError';
    const [first] = issues;
    this.line = first?.line ?? 1;
    this.reason = first?.reason ?? 'unknown problem';
  }
}

function formatIssue(file: string, issue: PlanCatalogIssue): string {
  const where = issue.path ? `${issue.path}: ` : '';
  return `${file}:${issue.line}:${issue.column} ${where}${issue.reason}`;
}

/** A plan key that is not in the catalog: a caller's mistake (the GraphQL layer maps it to BAD_USER_INPUT). */
export class UnknownPlanError extends Error {
  readonly code = 'UNKNOWN_PLAN';

  constructor(readonly planKey: string) {
    super(`Unknown plan ${planKey}`);
    this.name = 'UnknownPlanError';
  }
}
