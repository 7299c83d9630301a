import type { Request, RequestHandler, Response, Router } from 'express';
import type { EntityManager, EntityName, FilterQuery, QueryOrderMap } from '@mikro-orm/core';
import { z } from 'zod';
import { requireRole, type Role } from './auth';
import { badRequest, zodDetails, type ErrorDetail } from './errors';

/**
 * One place where a route is declared: its request schemas validate the request and generate the
 * OpenAPI document (`GET /api/v1/openapi.json`), so the two cannot drift apart.
 */
export interface RouteSpec<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express path, e.g. `/api/v1/templates/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** `public` routes authenticate their own way (or not at all). */
  auth: Role | 'public';
  body?: B;
  query?: Q;
  /** Non-JSON request body (multipart uploads), documented as given. */
  requestContent?: Record<string, unknown>;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
}

export interface HandlerContext<B, Q> {
  req: Request;
  res: Response;
  body: B;
  query: Q;
  params: Record<string, string>;
}

type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;

export class ApiRegistry {
  readonly routes: RouteSpec<z.ZodType | undefined, z.ZodType | undefined>[] = [];

  constructor(private readonly router: Router) {}

  route<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
    spec: RouteSpec<B, Q>,
    handler: (ctx: HandlerContext<Infer<B>, Infer<Q>>) => Promise<unknown> | unknown,
  ): void {
    this.routes.push(spec as RouteSpec<z.ZodType | undefined, z.ZodType | undefined>);
    const middleware = spec.auth === 'admin' ? [requireRole('admin')] : [];
    this.router[spec.method](spec.path, ...middleware, async (req: Request, res: Response) => {
      const body = spec.body ? parseOr400(spec.body, req.body ?? {}, 'body') : undefined;
      const query = spec.query ? parseOr400(spec.query, req.query, 'query') : undefined;
      await handler({ req, res, body: body as Infer<B>, query: query as Infer<Q>, params: req.params as Record<string, string> });
    });
  }

  openApiDocument(info: { title: string; version: string; description: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const spec of this.routes) {
      const openApiPath = spec.path.replace(/:([A-Za-z_]+)(\.[a-z]+)?/g, (_m, name, ext) => `{${name}}${ext ?? ''}`);
      const parameters: unknown[] = [...spec.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }));
      if (spec.query) {
        const schema = toJsonSchema(spec.query) as { properties?: Record<string, unknown>; required?: string[] };
        for (const [name, propertySchema] of Object.entries(schema.properties ?? {})) {
          parameters.push({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: propertySchema });
        }
      }
      const operation: Record<string, unknown> = {
        summary: spec.summary,
        tags: [spec.tag],
        parameters,
        responses: Object.fromEntries(
          Object.entries(spec.responses).map(([status, r]) => [
            status,
            {
              description: r.description,
              ...(r.schema || r.contentType
                ? { content: { [r.contentType ?? 'application/json']: { schema: r.schema ? toJsonSchema(r.schema) : { type: 'string', format: 'binary' } } } }
                : {}),
            },
          ]),
        ),
      };
      if (spec.auth === 'public') operation.security = [];
      if (spec.body) operation.requestBody = { required: true, content: { 'application/json': { schema: toJsonSchema(spec.body) } } };
      if (spec.requestContent) operation.requestBody = { required: true, content: spec.requestContent };
      (paths[openApiPath] ??= {})[spec.method] = operation;
    }
    return {
      openapi: '3.1.0',
      info,
      servers: [{ url: '/' }],
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <api key>' } },
        schemas: { Error: toJsonSchema(errorSchema) },
      },
      security: [{ apiKey: [] }],
      paths,
    };
  }
}

function parseOr400<T extends z.ZodType>(schema: T, value: unknown, where: 'body' | 'query'): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw badRequest(`invalid request ${where}`, zodDetails(result.error, where === 'query' ? ['query'] : []));
  }
  return result.data;
}

const NUL = '\u0000';
/** Enough to show the problem; a body full of NULs need not be listed in full. */
const MAX_NUL_DETAILS = 20;

/**
 * Refuses a NUL character in any string or object key of a JSON body or query string, for every
 * route at once: PostgreSQL cannot store it in text or jsonb, so it would otherwise surface as a
 * 500 from whichever query first met it.
 */
export const rejectNulCharacters: RequestHandler = (req, _res, next) => {
  const details = [...nulCharacterDetails(req.query, 'query'), ...nulCharacterDetails(req.body, 'body')].slice(0, MAX_NUL_DETAILS);
  if (details.length > 0) throw badRequest('the request contains a NUL character (\\u0000), which cannot be stored', details);
  next();
};

/** One detail per string or key containing U+0000, with its path as parseOr400 names it. */
export function nulCharacterDetails(value: unknown, where: 'body' | 'query'): ErrorDetail[] {
  interface Node {
    value: unknown;
    key?: string;
    parent?: Node;
  }
  // Paths are built only when reported: copying one per node would cost O(depth²) on a deep body.
  const pathOf = (node: Node) => {
    const keys: string[] = [];
    for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) keys.push(n.key.replaceAll(NUL, '\\u0000'));
    if (where === 'query') keys.push('query');
    return keys.reverse().join('.') || where;
  };
  const details: ErrorDetail[] = [];
  // A stack rather than recursion: a deeply nested body must not overflow the call stack.
  const pending: Node[] = [{ value }];
  while (pending.length > 0 && details.length < MAX_NUL_DETAILS) {
    const node = pending.pop()!;
    if (node.key?.includes(NUL)) details.push({ path: pathOf(node), message: 'field name contains a NUL character (\\u0000), which is not allowed' });
    if (typeof node.value === 'string') {
      if (node.value.includes(NUL)) details.push({ path: pathOf(node), message: 'contains a NUL character (\\u0000), which is not allowed' });
    } else if (typeof node.value === 'object' && node.value !== null) {
      const entries = Array.isArray(node.value) ? node.value.map((item, i) => [String(i), item] as const) : Object.entries(node.value);
      // Pushed in reverse so that fields are reported in document order.
      for (let i = entries.length - 1; i >= 0; i--) pending.push({ value: entries[i]![1], key: entries[i]![0], parent: node });
    }
  }
  return details;
}

function toJsonSchema(schema: z.ZodType): unknown {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

/** `?page=1&pageSize=50` (shared/API.md, "Lists"). */
export const paginationQuery = {
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
};

/** One page of records for a `?page=&pageSize=` list, in the list shape of API.md ("Lists"). */
export async function listPage<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  orderBy: QueryOrderMap<T>,
  query: { page: number; pageSize: number },
  present: (record: T) => unknown,
) {
  const [records, total] = await em.findAndCount(entity, where, { orderBy, limit: query.pageSize, offset: (query.page - 1) * query.pageSize });
  return { items: records.map(present), total, page: query.page, pageSize: query.pageSize };
}

/** A query parameter left empty (`?channel=`) means "no filter", as forms send it. */
export const optionalParam = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

/** `true` or `false` in a query string. */
export const booleanParam = z.enum(['true', 'false'], { error: 'true or false' }).transform((value) => value === 'true');

/** `?pageSize=50&cursor=<opaque>&withTotal=true` (API.md, "Lists": the lists that grow to millions). */
export const cursorPaginationQuery = {
  pageSize: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: optionalParam(z.string().max(1000)),
  withTotal: optionalParam(booleanParam),
};

/** A page position as the opaque `cursor` a client passes back. */
export function encodeCursor(position: object): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** The position a `cursor` names, or 400 naming `query.cursor` when it is not one this list made. */
export function decodeCursor<T extends z.ZodType>(cursor: string, position: T): z.infer<T> {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const parsed = position.safeParse(decoded);
  if (!parsed.success) throw badRequest('invalid cursor', [{ path: 'query.cursor', message: 'not a cursor from this list: pass nextCursor back unchanged' }]);
  return parsed.data;
}

export function cursorListResponse<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable(), total: z.number().int().optional() });
}

export function listResponse<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), total: z.number().int(), page: z.number().int(), pageSize: z.number().int() });
}
