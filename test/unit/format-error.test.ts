import { formatError } from '../../src/graphql/format-error';

describe('formatError', () => {
  it('keeps deliberate errors and drops stack traces', () => {
    const unexpected = jest.fn();
    const formatted = formatError(
      { message: 'Nope', extensions: { code: 'FORBIDDEN', stacktrace: ['at x'] } },
      unexpected,
    );
    expect(formatted).toEqual({ message: 'Nope', extensions: { code: 'FORBIDDEN' } });
    expect(unexpected).not.toHaveBeenCalled();
  });

  it('masks anything unexpected and reports it', () => {
    const unexpected = jest.fn();
    const formatted = formatError(
      {
        message: 'connect ECONNREFUSED 10.0.0.1:5432 password=hunter2',
        path: ['viewer'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
      unexpected,
    );
    expect(formatted).toEqual({
      message: 'Internal server error',
      path: ['viewer'],
      locations: undefined,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(unexpected).toHaveBeenCalledTimes(1);
  });

  it('turns class-validator errors into BAD_USER_INPUT naming the field', () => {
    const formatted = formatError(
      {
        message: 'Argument Validation Error',
        extensions: {
          code: 'BAD_USER_INPUT',
          validationErrors: [
            { property: 'email', value: 'x', constraints: { isEmail: 'email must be an email' } },
          ],
        },
      },
      jest.fn(),
    );
    expect(formatted.message).toBe('Invalid input: email must be an email');
    expect(formatted.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'email' });
  });

  it('keeps Apollo request errors such as parse failures', () => {
    const formatted = formatError(
      { message: 'Syntax Error', extensions: { code: 'GRAPHQL_PARSE_FAILED' } },
      jest.fn(),
    );
    expect(formatted.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });
});
