import type { Writable } from 'node:stream';
import type { Response } from 'express';
import ExcelJS from 'exceljs';
import { z } from 'zod';
import { HLR_STATUSES } from '../../core/hlr';
import { normalizePhone, type NormalizedPhone } from '../../core/phone';
import { countHlrChecks, listHlrChecks, type HlrCheckRow, type HlrFilter } from '../../db/hlr';
import { cursorListResponse, cursorPage, cursorQuery } from '../cursor';
import type { ApiDeps } from '../deps';
import { HttpError, unprocessable, type ErrorDetail } from '../errors';
import { errorSchema, type ApiRegistry } from '../routing';
import { closedObject } from '../schemas';
import { createHlrProvider, runHlrChecks } from '../services/hlr/checks';
import { XLSX_CONTENT_TYPE } from '../services/task-files';

export const MAX_PHONES_PER_CHECK = 1000;
/** Rows read per statement while exporting: one batch in memory at a time. */
const EXPORT_BATCH = 5000;

const hlrCheckSchema = z.object({
  id: z.uuid(),
  phone: z.string(),
  status: z.enum(HLR_STATUSES),
  operator: z.string().nullable(),
  country: z.string().nullable(),
  ported: z.boolean().nullable(),
  roaming: z.boolean().nullable(),
  cost: z.number(),
  provider: z.string(),
  error: z.string().nullable(),
  createdAt: z.string(),
});

export function presentHlrCheck(check: HlrCheckRow): z.infer<typeof hlrCheckSchema> {
  return { ...check, createdAt: check.createdAt.toISOString() };
}

const checkBody = closedObject({
  // The 1,000 cap is enforced in the handler so it can answer 413, like POST /notifications.
  phones: z.array(z.string().max(64, 'at most 64 characters')).min(1, 'at least one phone'),
});

/** `phone`, `from`, `to`: the list's and the export's filters. */
const filterFields = {
  phone: z
    .string()
    .max(40)
    .transform((value) => value.replace(/[\s().-]/g, ''))
    .pipe(z.string().regex(/^\+?\d{1,16}$/, 'digits of the number (spaces, dashes, brackets ignored); a leading + matches from the start'))
    .optional(),
  from: z.iso.datetime({ offset: true, error: 'an ISO 8601 time, e.g. 2026-11-01T00:00:00Z (inclusive)' }).optional(),
  to: z.iso.datetime({ offset: true, error: 'an ISO 8601 time, e.g. 2026-12-01T00:00:00Z (exclusive)' }).optional(),
};
const periodIsOrdered = (q: { from?: string; to?: string }) => !q.from || !q.to || new Date(q.from) < new Date(q.to);
const periodError = { message: 'must be later than from', path: ['to'] };
const exportQuery = z.object(filterFields).refine(periodIsOrdered, periodError);
const listQuery = z.object({ ...filterFields, ...cursorQuery }).refine(periodIsOrdered, periodError);

function hlrFilter(query: { phone?: string; from?: string; to?: string }): HlrFilter {
  return { phone: query.phone, from: query.from ? new Date(query.from) : undefined, to: query.to ? new Date(query.to) : undefined };
}

/** Whether a write to `stream` was refused (returned false) and its 'drain' has not come yet.
 * archiver's streams are `readable-stream` 3, which predates `writableNeedDrain`. */
function needsDrain(stream: Writable): boolean {
  return stream.writableNeedDrain ?? (stream as unknown as { _writableState: { needDrain: boolean } })._writableState.needDrain;
}

/** Resolves when `stream` can take more data, or `res` is gone (closed by the client). */
function drained(stream: Writable, res: Response): Promise<void> {
  if (!needsDrain(stream) || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      res.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Where a streamed worksheet's XML goes: ExcelJS 4.4 writes it into the zip (archiver) without
 * heeding backpressure, so that input buffers without limit while the zip is being compressed or
 * the client is slow. Waiting for this stream to drain holds the export to the pace of both.
 */
function worksheetSink(sheet: ExcelJS.Worksheet): Writable {
  const sink = (sheet as unknown as { stream?: { pipes?: Writable[] } }).stream?.pipes?.[0];
  if (typeof sink?.on !== 'function' || typeof (sink.writableNeedDrain ?? (sink as unknown as { _writableState?: { needDrain?: boolean } })._writableState?.needDrain) !== 'boolean') {
    throw new Error('ExcelJS worksheet stream not found: the export could not pace itself');
  }
  return sink;
}

/** An AbortSignal that fires when the client goes away before the answer is complete. */
function clientGone(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

export function registerHlrRoutes(api: ApiRegistry, deps: ApiDeps): void {
  const provider = deps.hlr ?? createHlrProvider(deps.config.hlr);

  api.route(
    {
      method: 'post',
      path: '/api/v1/hlr',
      summary: `Check phone numbers at the network (HLR): up to ${MAX_PHONES_PER_CHECK.toLocaleString('en')} a call, each stored; a number given twice is checked once`,
      tag: 'Phone checks (HLR)',
      auth: 'operator',
      body: checkBody,
      responses: {
        200: { description: 'One check per distinct number, in the order given', schema: z.object({ checks: z.array(hlrCheckSchema) }) },
        400: { description: 'Malformed body', schema: errorSchema },
        413: { description: `More than ${MAX_PHONES_PER_CHECK} phones`, schema: errorSchema },
        422: { description: 'A phone that is not a valid number (each named, phones.N)', schema: errorSchema },
      },
    },
    async ({ req, res, body }) => {
      if (body.phones.length > MAX_PHONES_PER_CHECK) {
        throw new HttpError(413, 'too_many_phones', `at most ${MAX_PHONES_PER_CHECK} phones a call, got ${body.phones.length}`, [
          { path: 'phones', message: `at most ${MAX_PHONES_PER_CHECK} items` },
        ]);
      }
      const problems: ErrorDetail[] = [];
      const distinct = new Map<string, NormalizedPhone>();
      body.phones.forEach((input, index) => {
        const phone = normalizePhone(input, deps.config.defaultPhoneCountry);
        if (!phone) problems.push({ path: `phones.${index}`, message: `"${input}" is not a valid phone number` });
        else if (!distinct.has(phone.e164)) distinct.set(phone.e164, phone);
      });
      if (problems.length > 0) throw unprocessable(`${problems.length} phone(s) are not valid numbers; nothing was checked`, problems);
      const gone = clientGone(res);
      const checks = await runHlrChecks(deps.pool, provider, [...distinct.values()], {
        concurrency: deps.config.hlr.concurrency,
        createdBy: req.principal?.apiKeyId ?? null,
        stop: gone,
      });
      if (gone.aborted) {
        req.log.info({ checked: checks.length, asked: distinct.size }, 'HLR checks stopped: the client went away');
        return;
      }
      res.json({ checks: checks.map(presentHlrCheck) });
    },
  );

  // Before any /hlr/:id route, so "export.xlsx" is never taken for an id.
  api.route(
    {
      method: 'get',
      path: '/api/v1/hlr/export.xlsx',
      summary: 'The checks the list shows (same filters), newest first, as one .xlsx streamed from the database',
      tag: 'Phone checks (HLR)',
      auth: 'operator',
      query: exportQuery,
      responses: { 200: { description: 'The workbook', contentType: XLSX_CONTENT_TYPE }, 400: { description: 'Bad filter', schema: errorSchema } },
    },
    async ({ req, res, query }) => {
      const filter = hlrFilter(query);
      const gone = clientGone(res);
      res.setHeader('Content-Type', XLSX_CONTENT_TYPE);
      res.setHeader('Content-Disposition', 'attachment; filename="hlr-checks.xlsx"');
      const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: res, useStyles: true, useSharedStrings: false });
      const sheet = workbook.addWorksheet('HLR checks', { views: [{ state: 'frozen', ySplit: 1 }] });
      sheet.columns = HLR_EXPORT_COLUMNS.map((c) => ({ header: c.header, key: c.key, width: c.width, style: 'numFmt' in c ? { numFmt: c.numFmt } : {} }));
      sheet.getRow(1).font = { bold: true };
      sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: HLR_EXPORT_COLUMNS.length } };
      try {
        const sink = worksheetSink(sheet);
        // Keyset batches in the list's order; before reading the next, wait until the zip has taken
        // the last (compressed, and sent as fast as the client reads): memory holds about a batch.
        for (let after: HlrCheckRow | undefined; !gone.aborted; ) {
          const rows = await listHlrChecks(deps.pool, filter, EXPORT_BATCH, after);
          if (gone.aborted) break;
          // Keys of the columns are the row's fields: a Date becomes an Excel date, a number stays one.
          for (const check of rows) sheet.addRow(check).commit();
          if (rows.length < EXPORT_BATCH) break;
          after = rows[rows.length - 1];
          await drained(sink, res);
        }
        if (gone.aborted) {
          req.log.info('HLR export stopped: the client went away');
          return;
        }
        sheet.commit();
        await workbook.commit();
      } catch (error) {
        if (!res.headersSent) {
          res.removeHeader('Content-Disposition'); // the error answer is JSON, not a file to save
          throw error;
        }
        // Part of the file is sent: the only way left to tell the client is to cut it short.
        req.log.error({ err: error }, 'HLR export failed midway');
        res.destroy(error as Error);
      }
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/hlr',
      summary:
        'Phone checks, newest first, by cursor: phone = part of the number (a leading + matches from the start), from (inclusive) and to (exclusive) bound the check time; total only with withTotal=true',
      tag: 'Phone checks (HLR)',
      auth: 'operator',
      query: listQuery,
      responses: { 200: { description: 'A page of checks', schema: cursorListResponse(hlrCheckSchema) }, 400: { description: 'Bad filter or cursor', schema: errorSchema } },
    },
    async ({ res, query }) => {
      const filter = hlrFilter(query);
      const rows = await listHlrChecks(deps.pool, filter, query.pageSize + 1, query.cursor);
      const page = cursorPage(rows, query.pageSize, presentHlrCheck);
      res.json(query.withTotal ? { ...page, total: await countHlrChecks(deps.pool, filter) } : page);
    },
  );
}

/** The export's columns, keyed by the list's fields: times as Excel dates (UTC), cost as a number. */
export const HLR_EXPORT_COLUMNS = [
  { header: 'Checked at (UTC)', key: 'createdAt', width: 24, numFmt: 'yyyy-mm-dd hh:mm:ss.000' },
  { header: 'Phone', key: 'phone', width: 18 },
  { header: 'Status', key: 'status', width: 18 },
  { header: 'Operator', key: 'operator', width: 20 },
  { header: 'Country', key: 'country', width: 9 },
  { header: 'Ported', key: 'ported', width: 9 },
  { header: 'Roaming', key: 'roaming', width: 9 },
  { header: 'Cost', key: 'cost', width: 10, numFmt: '0.0000' },
  { header: 'Provider', key: 'provider', width: 14 },
  { header: 'Error', key: 'error', width: 40 },
  { header: 'Check ID', key: 'id', width: 38 },
] as const satisfies readonly { header: string; key: keyof HlrCheckRow; width: number; numFmt?: string }[];
