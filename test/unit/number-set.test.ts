import { NumberSet } from '../../core/number-set';

describe('NumberSet', () => {
  it('adds each number once, as a Set would, through many growths', () => {
    const set = new NumberSet();
    const reference = new Set<number>();
    // E.164-sized numbers, neighbours and repeats: what a task file's phones look like.
    for (let i = 0; i < 50_000; i++) {
      const value = 79_990_000_000 + ((i * 7919) % 30_000) * 10;
      expect(set.add(value)).toBe(!reference.has(value));
      reference.add(value);
    }
    expect(set.size).toBe(reference.size);
    expect(set.has(79_990_000_000)).toBe(true);
    expect(set.has(79_990_000_001)).toBe(false);
    expect(set.add(999_999_999_999_999)).toBe(true);
    expect(set.has(999_999_999_999_999)).toBe(true);
    expect(set.add(0)).toBe(true);
    expect(set.add(0)).toBe(false);
  });

  it('refuses what it cannot hold exactly', () => {
    const set = new NumberSet();
    expect(() => set.add(-1)).toThrow(RangeError);
    expect(() => set.add(2 ** 53)).toThrow(RangeError);
    expect(() => set.add(1.5)).toThrow(RangeError);
  });
});
