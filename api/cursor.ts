import { z } from 'zod';
import { decodeCursor, encodeCursor } from './routing';

export { cursorListResponse } from './routing';

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

function positionCursor(position: ListPosition): string {
  return encodeCursor([position.createdAt.toISOString(), position.id]);
}

const positionSchema = z.tuple([z.iso.datetime(), z.uuid()]).transform(([createdAt, id]): ListPosition => ({ createdAt: new Date(createdAt), id }));

/** `pageSize`, `cursor` and `withTotal` of a cursor list, checked (400 naming the field). */
export const cursorQuery = {
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z
    .string()
    .max(200)
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      try {
        return decodeCursor(value, positionSchema);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not a cursor of this list: pass nextCursor from the previous page as given' });
        return undefined;
      }
    }),
  withTotal: z
    .enum(['true', 'false'], { error: 'true or false' })
    .optional()
    .transform((value) => value === 'true'),
};

/** One page from `limit + 1` rows read: the extra row only tells that a next page exists. */
export function cursorPage<R extends ListPosition, T>(rows: R[], pageSize: number, present: (row: R) => T): { items: T[]; nextCursor: string | null } {
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  return { items: page.map(present), nextCursor: rows.length > pageSize && last ? positionCursor(last) : null };
}
