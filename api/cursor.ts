import { z } from 'zod';

/**
 * Cursor lists (shared/API.md, "Lists"): `?pageSize=50&cursor=<opaque>` →
 * `{"items", "nextCursor"}`, newest first by (time, id). The cursor is the last row's position,
 * base64url-encoded: the next page starts strictly after it, so rows arriving meanwhile (which
 * sort before the first page) never shift a page.
 */
export interface ListPosition {
  createdAt: Date;
  id: string;
}

export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt.toISOString(), position.id])).toString('base64url');
}

const positionSchema = z.tuple([z.iso.datetime(), z.uuid()]);

/** The position a cursor names, or undefined when it is not one this API issued. */
export function decodeCursor(cursor: string): ListPosition | undefined {
  try {
    const parsed = positionSchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? { createdAt: new Date(parsed.data[0]), id: parsed.data[1] } : undefined;
  } catch {
    return undefined;
  }
}

/** `pageSize`, `cursor` and `withTotal` of a cursor list, checked (400 naming the field). */
export const cursorQuery = {
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z
    .string()
    .max(200)
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      const position = decodeCursor(value);
      if (!position) ctx.addIssue({ code: 'custom', message: 'not a cursor of this list: pass nextCursor from the previous page as given' });
      return position;
    }),
  withTotal: z
    .enum(['true', 'false'], { error: 'true or false' })
    .optional()
    .transform((value) => value === 'true'),
};

export function cursorListResponse<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z.string().nullable(),
    total: z.number().int().optional(),
  });
}

/** One page from `limit + 1` rows read: the extra row only tells that a next page exists. */
export function cursorPage<R extends ListPosition, T>(rows: R[], pageSize: number, present: (row: R) => T): { items: T[]; nextCursor: string | null } {
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  return { items: page.map(present), nextCursor: rows.length > pageSize && last ? encodeCursor(last) : null };
}
