import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Pool } from 'pg';
import { HttpError } from './errors';

export type Role = 'admin' | 'operator';
export interface Principal {
  apiKeyId: string;
  role: Role;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** API keys are long random strings, so one fast SHA-256 is a sufficient one-way hash. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateApiKey(): string {
  return `nok_${randomBytes(24).toString('base64url')}`;
}

/** Stores the bootstrap admin key (ADMIN_API_KEY) so it authenticates like any other key. */
export async function ensureBootstrapKey(pool: Pool, adminKey: string): Promise<void> {
  await pool.query(
    `insert into api_keys (id, name, role, key_hash, key_prefix) values ($1, 'bootstrap admin (ADMIN_API_KEY)', 'admin', $2, $3)
     on conflict (key_hash) do update set revoked_at = null`,
    [randomUUID(), hashApiKey(adminKey), adminKey.slice(0, 8)],
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

/** Authenticates `Authorization: Bearer <key>`; keys are cached briefly to keep lookups off the hot path. */
export function authenticate(pool: Pool): RequestHandler {
  const cache = new Map<string, { principal: Principal | null; until: number }>();
  const TTL_MS = 10_000;
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new HttpError(401, 'unauthorized', 'missing API key: send "Authorization: Bearer <key>"');
    const hash = hashApiKey(match[1]!);
    let entry = cache.get(hash);
    if (!entry || entry.until < Date.now()) {
      const { rows } = await pool.query('select id, role from api_keys where key_hash = $1 and revoked_at is null', [hash]);
      entry = { principal: rows[0] ? { apiKeyId: rows[0].id, role: rows[0].role } : null, until: Date.now() + TTL_MS };
      cache.set(hash, entry);
    }
    if (!entry.principal) throw new HttpError(401, 'unauthorized', 'invalid or revoked API key');
    req.principal = entry.principal;
    next();
  };
}

export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    if (role === 'admin' && req.principal?.role !== 'admin') throw new HttpError(403, 'forbidden', 'this action needs an admin API key');
    next();
  };
}
