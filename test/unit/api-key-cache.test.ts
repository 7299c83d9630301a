import type { NextFunction, Request, Response } from 'express';
import type { Pool } from 'pg';
import { API_KEY_CACHE_MAX_ENTRIES, ApiKeyAuthenticator, hashApiKey, LruCache } from '../../api/auth';

describe('LruCache', () => {
  it('never holds more than its cap', () => {
    const cache = new LruCache<string, number>(10_000);
    for (let i = 0; i < 20_000; i++) cache.set(`key-${i}`, i);
    expect(cache.size).toBe(10_000);
    expect(cache.get('key-0')).toBeUndefined();
    expect(cache.get('key-9999')).toBeUndefined();
    expect(cache.get('key-10000')).toBe(10_000);
    expect(cache.get('key-19999')).toBe(19_999);
  });

  it('evicts the least recently used entry, counting reads as use', () => {
    const cache = new LruCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1);
    cache.set('d', 4);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
  });

  it('replaces a value without growing, and deletes', () => {
    const cache = new LruCache<string, number>(3);
    cache.set('a', 1);
    cache.set('a', 2);
    expect(cache.size).toBe(1);
    expect(cache.get('a')).toBe(2);
    expect(cache.delete('a')).toBe(true);
    expect(cache.get('a')).toBeUndefined();
  });
});

describe('ApiKeyAuthenticator', () => {
  /** A pool that knows one key and counts its lookups. */
  function fakePool(knownKey: string) {
    const pool = { lookups: 0, query: async (_sql: string, [hash]: string[]) => {
      pool.lookups++;
      return { rows: hash === hashApiKey(knownKey) ? [{ id: 'key-id', role: 'operator' }] : [] };
    } };
    return pool;
  }
  const requestWith = (key: string) => ({ get: (name: string) => (name === 'authorization' ? `Bearer ${key}` : undefined) }) as unknown as Request;
  const res = {} as Response;

  it('keeps its cache within the cap under a flood of unknown keys', async () => {
    const auth = new ApiKeyAuthenticator(fakePool('known') as unknown as Pool);
    for (let i = 0; i < 2 * API_KEY_CACHE_MAX_ENTRIES; i++) {
      await expect(auth.middleware(requestWith(`made-up-${i}`), res, jest.fn())).rejects.toMatchObject({ status: 401 });
    }
    expect(auth.cache.size).toBe(API_KEY_CACHE_MAX_ENTRIES);
  });

  it('caches a known key, and looks it up again once forgotten', async () => {
    const pool = fakePool('known');
    const auth = new ApiKeyAuthenticator(pool as unknown as Pool);
    const next: NextFunction = jest.fn();
    const req = requestWith('known');
    await auth.middleware(req, res, next);
    await auth.middleware(req, res, next);
    expect(req.principal).toEqual({ apiKeyId: 'key-id', role: 'operator' });
    expect(pool.lookups).toBe(1);
    auth.forget(hashApiKey('known'));
    await auth.middleware(req, res, next);
    expect(pool.lookups).toBe(2);
    expect(next).toHaveBeenCalledTimes(3);
  });
});
