import { uuidv7 } from '../../db/ids';

describe('uuidv7 (time-ordered message ids)', () => {
  it('is an RFC 9562 version 7 UUID carrying the time it was made', () => {
    const now = Date.UTC(2026, 10, 27, 10, 0, 0, 123);
    const id = uuidv7(now + 10_000_000);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now + 10_000_000);
  });

  it('keeps ids made in the same millisecond (or with the clock going back) increasing and distinct', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7(1_000));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    const later = uuidv7(Date.now());
    expect(later > ids[ids.length - 1]!).toBe(true);
  });
});
