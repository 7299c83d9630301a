import { z } from 'zod';
import { timeZoneProblem, utcToZonedParts, zonedTimeToUtc } from '../../core/send-window';
import { countMessageLog, MESSAGE_COLUMNS, MessageExportCursor, messageLogPage, type MessageLogFilter } from '../../db/message-log';
import type { ApiDeps } from '../deps';
import { messageEvents } from '../../db/messages';
import { badRequest, notFound } from '../errors';
import {
  booleanParam,
  cursorListResponse,
  cursorPaginationQuery,
  decodeCursor,
  encodeCursor,
  errorSchema,
  optionalParam,
  type ApiRegistry,
} from '../routing';
import { channelSchema, closedObject, messageStatusSchema } from '../schemas';
import { writeMessageWorkbook } from '../services/message-export';
import { XLSX_CONTENT_TYPE } from '../services/task-files';
import { canonicalTimeZone } from '../services/templates';

/** One message row as the API shows it; `uploadId` is the task the message came with. */
export function presentMessage(r: Record<string, any>) {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: r.id,
    uploadId: r.task_id,
    taskId: r.task_id,
    groupId: r.group_id,
    sendId: r.send_id,
    status: r.status,
    statusDescription: r.status_description,
    channel: r.channel,
    optional: r.optional,
    sender: r.sender,
    recipient: r.recipient,
    externalId: r.external_id,
    text: r.text,
    payload: r.payload,
    variables: r.variables,
    cost: r.cost,
    operator: r.operator,
    templateId: r.template_id,
    templateName: r.template_name,
    parts: r.parts,
    emailViews: r.email_views,
    emailClicks: r.email_clicks,
    shortLink: r.short_link,
    linkClicks: r.link_clicks,
    provider: r.provider,
    providerMessageId: r.provider_message_id,
    registeredAt: iso(r.registered_at),
    queuedAt: iso(r.queued_at),
    sentAt: iso(r.sent_at),
    statusAt: iso(r.status_at),
    delayedStartAt: iso(r.delayed_start_at),
    deliveryEndAt: iso(r.delivery_end_at),
  };
}

const nullableText = z.string().nullable();
const nullableTime = z.string().nullable();
const messageSchema = z.object({
  id: z.uuid(),
  uploadId: z.uuid(),
  taskId: z.uuid(),
  groupId: z.uuid(),
  sendId: z.string(),
  status: messageStatusSchema,
  statusDescription: nullableText,
  channel: channelSchema,
  optional: z.boolean(),
  sender: nullableText,
  recipient: z.string(),
  externalId: nullableText,
  text: nullableText,
  payload: z.record(z.string(), z.unknown()).nullable(),
  variables: z.record(z.string(), z.string()).nullable(),
  cost: z.number(),
  operator: nullableText,
  templateId: z.uuid().nullable(),
  templateName: nullableText,
  parts: z.number().int(),
  emailViews: z.number().int(),
  emailClicks: z.number().int(),
  shortLink: nullableText,
  linkClicks: z.number().int(),
  provider: nullableText,
  providerMessageId: nullableText,
  registeredAt: z.string(),
  queuedAt: nullableTime,
  sentAt: nullableTime,
  statusAt: z.string(),
  delayedStartAt: nullableTime,
  deliveryEndAt: nullableTime,
});
const messageEventSchema = z.object({ status: messageStatusSchema, description: z.string().nullable(), source: z.string(), at: z.string() });

const instant = z.iso.datetime({ offset: true, error: 'an ISO 8601 time with seconds and its offset, e.g. 2026-11-01T00:00:00Z or 2026-11-01T00:00:00+03:00' });

/** The filters of the list and the export (API.md, "Messages"). An empty parameter is no filter. */
const messageFilterFields = {
  // Shorter searches cannot use the trigram index: one that matched nothing read all 10 million
  // rows (20 s; docs/message-log-plans.md).
  search: optionalParam(z.string().trim().min(3, 'at least 3 characters').max(320, 'at most 320 characters')),
  from: optionalParam(instant.describe('registered at or after this time (inclusive)')),
  to: optionalParam(instant.describe('registered before this time (exclusive)')),
  channel: optionalParam(channelSchema),
  status: optionalParam(messageStatusSchema),
  optional: optionalParam(booleanParam),
  taskId: optionalParam(z.uuid({ error: 'a task id (UUID)' })),
};

/** A period must not end before it starts (400 naming `to`). Unknown parameters are refused too:
 * a misspelt filter would otherwise return, or export, everything. */
function filterQuery<T extends z.core.$ZodLooseShape>(shape: T) {
  return closedObject(shape).superRefine((q: Record<string, unknown>, ctx) => {
    if (typeof q.from === 'string' && typeof q.to === 'string' && Date.parse(q.to) < Date.parse(q.from)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must not be before from' });
    }
  });
}

const listQuery = filterQuery({ ...messageFilterFields, ...cursorPaginationQuery });

const exportQuery = filterQuery({
  ...messageFilterFields,
  timezone: optionalParam(
    z
      .string()
      .max(100)
      .refine((zone) => timeZoneProblem(zone) === undefined, { message: 'an IANA time zone name such as Europe/Moscow' })
      .describe('IANA time zone the dates are shown in (default UTC); also the zone of the default period'),
  ),
});

/** The dashboard's period: both ends required, at most 92 days (a bounded scan of the log's index). */
export const MAX_STATS_DAYS = 92;
const statsQuery = closedObject({
  from: instant.describe('registered at or after this time (inclusive)'),
  to: instant.describe('registered before this time (exclusive)'),
  timezone: optionalParam(
    z
      .string()
      .max(100)
      .refine((zone) => timeZoneProblem(zone) === undefined, { message: 'an IANA time zone name such as Europe/Moscow' })
      .describe('IANA time zone of the days (default UTC)'),
  ),
}).superRefine((q: Record<string, unknown>, ctx) => {
  if (typeof q.from !== 'string' || typeof q.to !== 'string') return;
  const span = Date.parse(q.to) - Date.parse(q.from);
  if (span <= 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
  else if (span > MAX_STATS_DAYS * 86_400_000) ctx.addIssue({ code: 'custom', path: ['to'], message: `the period is at most ${MAX_STATS_DAYS} days` });
});
const messageStatsSchema = z.object({
  from: z.string(),
  to: z.string(),
  timezone: z.string(),
  days: z.array(z.object({ day: z.string().describe('YYYY-MM-DD in timezone'), counts: z.record(z.string(), z.number().int()), total: z.number().int() })),
  channels: z.array(z.object({ channel: channelSchema, messages: z.number().int(), cost: z.number() })),
  total: z.object({ messages: z.number().int(), cost: z.number() }),
});

/** Where a page ends, inside the opaque cursor. */
const positionSchema = z.object({ registeredAt: z.iso.datetime(), id: z.uuid() });

function filterOf(q: { search?: string; from?: string; to?: string; channel?: MessageLogFilter['channel']; status?: MessageLogFilter['status']; optional?: boolean; taskId?: string }): MessageLogFilter {
  return {
    search: q.search,
    from: q.from ? new Date(q.from) : undefined,
    to: q.to ? new Date(q.to) : undefined,
    channel: q.channel,
    status: q.status,
    optional: q.optional,
    taskId: q.taskId,
  };
}

/** `messages-2026-11-01-2026-11-27.xlsx`: the period's first and last day in the export's zone. */
function exportFileName(filter: MessageLogFilter, timezone: string, now: Date): string {
  const day = (at: Date) => {
    const p = utcToZonedParts(at, timezone);
    return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
  };
  const last = filter.to ? new Date(Math.min(filter.to.getTime() - 1, now.getTime())) : now;
  return filter.from ? `messages-${day(filter.from)}-${day(last)}.xlsx` : `messages-until-${day(last)}.xlsx`;
}

export function registerMessageRoutes(api: ApiRegistry, deps: ApiDeps): void {
  api.route(
    {
      method: 'get',
      path: '/api/v1/messages',
      summary:
        'The message log, newest first (registration time, then id), paged by cursor: pass nextCursor back as cursor. ' +
        'search: part of the recipient (case-insensitive) or a channel name; from (inclusive) / to (exclusive): registration period. ' +
        'total only with withTotal=true (it counts every matching row)',
      tag: 'Messages',
      auth: 'operator',
      query: listQuery,
      responses: {
        200: { description: 'A page of messages', schema: cursorListResponse(messageSchema) },
        400: { description: 'A bad filter, page size or cursor, or an unknown parameter', schema: errorSchema },
      },
    },
    async ({ res, query }) => {
      const filter = filterOf(query);
      const after = query.cursor ? decodeCursor(query.cursor, positionSchema) : undefined;
      const [page, total] = await Promise.all([
        messageLogPage(deps.pool, filter, query.pageSize, after),
        query.withTotal ? countMessageLog(deps.pool, filter) : undefined,
      ]);
      res.json({
        items: page.rows.map(presentMessage),
        nextCursor: page.next ? encodeCursor(page.next) : null,
        ...(total !== undefined ? { total } : {}),
      });
    },
  );

  // Declared before /messages/:id, which would otherwise take "export.xlsx" for an id.
  api.route(
    {
      method: 'get',
      path: '/api/v1/messages/export.xlsx',
      summary:
        'The message log as an .xlsx file, streamed: the same filters as the list; without from and to, the period starts at the ' +
        'beginning of the current month (in timezone). Times are Excel dates shown in timezone (default UTC)',
      tag: 'Messages',
      auth: 'operator',
      query: exportQuery,
      responses: {
        200: { description: 'The workbook: one row per message, header frozen and filtered', contentType: XLSX_CONTENT_TYPE },
        400: { description: 'A bad filter or time zone, or an unknown parameter', schema: errorSchema },
      },
    },
    async ({ req, res, query }) => {
      const timezone = canonicalTimeZone(query.timezone ?? 'UTC');
      const now = new Date();
      const filter = filterOf(query);
      if (!filter.from && !filter.to) {
        const today = utcToZonedParts(now, timezone);
        filter.from = zonedTimeToUtc(today.year, today.month, 1, 0, timezone);
      }
      let cursor: MessageExportCursor;
      try {
        cursor = await MessageExportCursor.open(deps.pool, filter, timezone);
      } catch (error) {
        // A zone this runtime knows but PostgreSQL does not.
        if ((error as { code?: string }).code === '22023') throw badRequest('unknown time zone', [{ path: 'query.timezone', message: (error as Error).message }]);
        throw error;
      }
      let aborted = false;
      const stop = () => {
        aborted = true;
        void cursor.close();
      };
      res.on('close', () => {
        if (!res.writableFinished) stop();
      });
      // Gone while the cursor was opening: its 'close' came before anyone listened.
      if (res.closed) stop();
      res.setHeader('Content-Type', XLSX_CONTENT_TYPE);
      res.setHeader('Content-Disposition', `attachment; filename="${exportFileName(filter, timezone, now)}"`);
      res.setHeader('Cache-Control', 'no-store');
      const period = `${filter.from?.toISOString() ?? 'the beginning'} (inclusive) to ${filter.to?.toISOString() ?? now.toISOString()} (exclusive)`;
      try {
        const rows = await writeMessageWorkbook(res, cursor, {
          description: `Messages registered from ${period}; times in ${timezone}`,
          aborted: () => aborted,
        });
        req.log.info({ rows, aborted }, aborted ? 'message export stopped: the client went away' : 'message export sent');
      } catch (error) {
        if (!aborted) {
          req.log.error({ err: error }, 'message export failed after it started; the download is cut short');
          res.destroy(error as Error);
        }
      } finally {
        await cursor.close();
      }
    },
  );

  // Declared before /messages/:id, like the export.
  api.route(
    {
      method: 'get',
      path: '/api/v1/messages/stats',
      summary:
        'Messages of a period (registration time; from inclusive, to exclusive, at most 92 days) per day and status, and count ' +
        'and cost per channel, computed in SQL; days are calendar days in timezone (default UTC) — for the console\'s dashboard',
      tag: 'Messages',
      auth: 'operator',
      query: statsQuery,
      responses: {
        200: { description: 'Per day and status; per channel', schema: messageStatsSchema },
        400: { description: 'A missing or bad period (longer than 92 days), time zone, or an unknown parameter', schema: errorSchema },
      },
    },
    async ({ res, query }) => {
      const timezone = canonicalTimeZone(query.timezone ?? 'UTC');
      const period = [new Date(query.from), new Date(query.to)];
      const [days, channels] = await Promise.all([
        deps.pool.query<{ day: string; status: string; n: number }>(
          `select to_char(s.registered_at at time zone $3, 'YYYY-MM-DD') as day, m.status, count(*)::int as n
             from message_search s join messages m on m.id = s.id where s.registered_at >= $1 and s.registered_at < $2
            group by 1, 2 order by 1, 2`,
          [...period, timezone],
        ),
        deps.pool.query<{ channel: string; n: number; cost: number }>(
          `select s.channel, count(*)::int as n, coalesce(sum(m.cost), 0)::float8 as cost
             from message_search s join messages m on m.id = s.id where s.registered_at >= $1 and s.registered_at < $2
            group by s.channel order by s.channel`,
          period,
        ),
      ]);
      const byDay = new Map<string, Record<string, number>>();
      for (const row of days.rows) byDay.set(row.day, { ...byDay.get(row.day), [row.status]: row.n });
      const perChannel = channels.rows.map((r) => ({ channel: r.channel as z.infer<typeof channelSchema>, messages: r.n, cost: Math.round(r.cost * 10_000) / 10_000 }));
      res.json({
        from: period[0]!.toISOString(),
        to: period[1]!.toISOString(),
        timezone,
        days: [...byDay].map(([day, counts]) => ({ day, counts, total: Object.values(counts).reduce((a, b) => a + b, 0) })),
        channels: perChannel,
        total: {
          messages: perChannel.reduce((a, c) => a + c.messages, 0),
          cost: Math.round(perChannel.reduce((a, c) => a + c.cost, 0) * 10_000) / 10_000,
        },
      });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/messages/:id',
      summary: 'A message with every field and its event log',
      tag: 'Messages',
      auth: 'operator',
      responses: {
        200: {
          description: 'The message, its short links with their clicks, and its event log',
          schema: messageSchema.extend({
            shortLinks: z.array(z.object({ code: z.string(), url: z.string(), clicks: z.number().int(), lastClickAt: nullableTime })),
            events: z.array(messageEventSchema),
          }),
        },
        404: { description: 'Unknown message', schema: errorSchema },
      },
    },
    async ({ res, params }) => {
      const id = params.id!;
      if (!z.uuid().safeParse(id).success) throw notFound(`message ${id}`);
      const { rows } = await deps.pool.query(`select ${MESSAGE_COLUMNS} from messages where id = $1`, [id]);
      if (!rows[0]) throw notFound(`message ${id}`);
      const events = await messageEvents(deps.pool, id);
      // Each short link with its own clicks, in the order of the text (the message's counters add them up).
      const links = await deps.pool.query(
        `select l.code, l.url, l.clicks, l.last_click_at from short_links l join messages m on m.id = l.message_id
         where l.message_id = $1 order by strpos(m.text, '/l/' || l.code), l.code`,
        [id],
      );
      res.json({
        ...presentMessage(rows[0]),
        shortLinks: links.rows.map((l) => ({ code: l.code, url: l.url, clicks: l.clicks, lastClickAt: l.last_click_at?.toISOString() ?? null })),
        events: events.map((e) => ({ ...e, at: e.at.toISOString() })),
      });
    },
  );
}
