import { prepared } from '../../db/sql';

describe('prepared (write-only statements as named ones)', () => {
  it('names each distinct text once, so every connection parses it once and reuses its plan', () => {
    const insert = 'insert into t (a) select * from unnest($1::int[])';
    const first = prepared(insert, [[1, 2]]);
    const again = prepared(insert, [[3]]);
    const other = prepared('insert into u (b) select * from unnest($1::text[])', [['x']]);
    expect(first.name).toBeDefined();
    expect(again).toEqual({ name: first.name, text: insert, values: [[3]] });
    expect(other.name).toBeDefined();
    expect(other.name).not.toBe(first.name);
  });

  it('sends texts past its limit unnamed, so a text built from data cannot fill the connections with statements', () => {
    const named = Array.from({ length: 300 }, (_, i) => prepared(`insert into t (a) values (${i})`).name);
    expect(named.filter((name) => name !== undefined).length).toBeLessThan(200);
    expect(named[named.length - 1]).toBeUndefined();
    expect(new Set(named.filter((name) => name !== undefined)).size).toBe(named.filter((name) => name !== undefined).length);
    // A text named before the limit keeps its name.
    expect(prepared('insert into t (a) values (0)').name).toBe(named[0]);
  });
});
