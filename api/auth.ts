import { hash, randomBytes, randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Pool } from 'pg';
import { HttpError } from './errors';

export type Role = 'admin' | 'operator';
export interface Principal {
  apiKeyId: string;
  /** The key's name, for the timelines that say who did what. */
  keyName: string;
  role: Role;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** API keys are long random strings, so one fast SHA-256 is a sufficient one-way hash. */
export function hashApiKey(key: string): string {
  // crypto.hash is the one-shot form: no Hash object per request (it is on every authenticated call).
  return hash('sha256', key, 'hex');
}

export function generateApiKey(): string {
  return `nok_${randomBytes(24).toString('base64url')}`;
}

/**
 * Stores the bootstrap admin key (ADMIN_API_KEY) so it authenticates like any other key. Once
 * revoked it stays revoked across restarts; a new ADMIN_API_KEY value makes a new bootstrap key.
 */
export async function ensureBootstrapKey(pool: Pool, adminKey: string): Promise<void> {
  // The prefix is listed to admins: for a short hand-picked key, 8 characters could be all of it.
  const keyPrefix = adminKey.slice(0, Math.min(8, Math.floor(adminKey.length / 2)));
  await pool.query(
    `insert into api_keys (id, name, role, key_hash, key_prefix) values ($1, 'bootstrap admin (ADMIN_API_KEY)', 'admin', $2, $3)
     on conflict (key_hash) do nothing`,
    [randomUUID(), hashApiKey(adminKey), keyPrefix],
  );
}

export async function createApiKey(pool: Pool, name: string, role: Role) {
  const key = generateApiKey();
  const id = randomUUID();
  const { rows } = await pool.query(
    'insert into api_keys (id, name, role, key_hash, key_prefix) values ($1, $2, $3, $4, $5) returning created_at',
    [id, name, role, hashApiKey(key), key.slice(0, 8)],
  );
  return { id, name, role, key, createdAt: rows[0].created_at as Date };
}

/**
 * A Map capped at `maxEntries` that evicts the least recently used entry, so keys chosen by
 * callers (a flood of made-up API keys) cost bounded memory.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // A Map iterates in insertion order: re-inserting makes the entry the most recent.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }
}

export const API_KEY_CACHE_MAX_ENTRIES = 10_000;
const API_KEY_CACHE_TTL_MS = 10_000;

/**
 * Authenticates `Authorization: Bearer <key>`. Lookups, unknown keys included, are cached by key
 * hash for a few seconds to keep the database off the hot path; `forget` drops a revoked key at
 * once in this process (other processes notice within the TTL).
 */
export class ApiKeyAuthenticator {
  readonly cache = new LruCache<string, { principal: Principal | null; until: number }>(API_KEY_CACHE_MAX_ENTRIES);

  constructor(private readonly pool: Pool) {}

  readonly middleware: RequestHandler = async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new HttpError(401, 'unauthorized', 'missing API key: send "Authorization: Bearer <key>"');
    const hash = hashApiKey(match[1]!);
    let entry = this.cache.get(hash);
    if (!entry || entry.until < Date.now()) {
      const { rows } = await this.pool.query('select id, name, role from api_keys where key_hash = $1 and revoked_at is null', [hash]);
      entry = { principal: rows[0] ? { apiKeyId: rows[0].id, keyName: rows[0].name, role: rows[0].role } : null, until: Date.now() + API_KEY_CACHE_TTL_MS };
      this.cache.set(hash, entry);
    }
    if (!entry.principal) throw new HttpError(401, 'unauthorized', 'invalid or revoked API key');
    req.principal = entry.principal;
    next();
  };

  forget(keyHash: string): void {
    this.cache.delete(keyHash);
  }
}

export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    if (role === 'admin' && req.principal?.role !== 'admin') throw new HttpError(403, 'forbidden', 'this action needs an admin API key');
    next();
  };
}
