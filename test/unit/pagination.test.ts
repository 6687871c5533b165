import { decodeCursor, encodeCursor, pageSize } from '../../src/resolvers/pagination';

describe('pagination', () => {
  it('takes a page size of 1 to 100, 20 by default, and refuses anything else', () => {
    expect(pageSize(undefined)).toBe(20);
    expect(pageSize(100)).toBe(100);
    for (const bad of [0, 101, -1, 2.5]) {
      expect(() => pageSize(bad)).toThrow(
        expect.objectContaining({
          extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'first' }),
        }),
      );
    }
  });

  it('reads back the cursors it writes, and refuses forged ones with BAD_USER_INPUT', () => {
    const cursor = { createdAtMs: 1_700_000_000_000, id: '0b5b7e2e-7f5d-4c53-9d8b-3f1f6c1f2a11' };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    for (const forged of [
      'not-base64!',
      encodeCursor({ createdAtMs: 1, id: "x' or 1=1" }),
      encodeCursor({ id: cursor.id }),
    ]) {
      expect(() => decodeCursor(forged)).toThrow(
        expect.objectContaining({
          extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'after' }),
        }),
      );
    }
  });
});
