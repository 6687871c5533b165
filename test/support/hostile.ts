/**
 * What every refused request must look like (issue 8): an error with a stable code and a plain message, and
 * nothing of the inside: no stack trace, no exception object, no SQL, file paths or driver messages.
 */
export function expectCleanError(answer: {
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}): void {
  expect(answer.errors?.length).toBeGreaterThan(0);
  for (const error of answer.errors ?? []) {
    expect(typeof error.extensions?.code).toBe('string');
    expect(error.extensions).not.toHaveProperty('stacktrace');
    expect(error.extensions).not.toHaveProperty('exception');
    expect(error.message).not.toMatch(INTERNALS);
  }
}

/** Text that only the inside of the service would produce. */
export const INTERNALS =
  /\bat .+\.(ts|js):\d+|node_modules|\/src\/|\b(select|insert into|update .+ set|delete from)\b|relation "|violates|ECONNREFUSED|Maximum call stack|Cannot read propert|undefined is not|TypeError|RangeError/i;
