/**
 * The message log as an .xlsx file (`GET /api/v1/messages/export.xlsx`), written row by row with
 * ExcelJS's streaming writer straight into the response from a database cursor: a million-row
 * export holds one batch of rows at a time, and its first bytes leave before its last rows are read.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import type { ExportRow, MessageExportCursor } from '../../db/message-log';

const DATE_FORMAT = 'yyyy-mm-dd hh:mm:ss';

/** The columns, in API.md's order ("Messages"), each with how a row fills it. */
export const MESSAGE_EXPORT_COLUMNS: readonly { header: string; width: number; value: (r: ExportRow) => ExcelJS.CellValue; numFmt?: string }[] = [
  { header: 'Message ID', width: 38, value: (r) => r.id },
  { header: 'Upload ID', width: 38, value: (r) => r.task_id },
  { header: 'Group ID', width: 38, value: (r) => r.group_id },
  { header: 'Send ID', width: 30, value: (r) => r.send_id },
  { header: 'Status', width: 13, value: (r) => r.status },
  { header: 'Status description', width: 30, value: (r) => cellText(r.status_description) },
  { header: 'Channel', width: 10, value: (r) => r.channel },
  { header: 'Sender', width: 16, value: (r) => cellText(r.sender) },
  { header: 'Recipient', width: 18, value: (r) => cellText(r.recipient) },
  { header: 'Text', width: 50, value: (r) => cellText(r.text) },
  { header: 'Cost', width: 9, value: (r) => r.cost, numFmt: '0.00##' },
  { header: 'Operator', width: 14, value: (r) => cellText(r.operator) },
  { header: 'Template ID', width: 38, value: (r) => r.template_id },
  { header: 'Template name', width: 24, value: (r) => cellText(r.template_name) },
  { header: 'Variables', width: 30, value: (r) => (r.variables && Object.keys(r.variables).length > 0 ? cellText(JSON.stringify(r.variables)) : null) },
  { header: 'Parts', width: 7, value: (r) => r.parts },
  { header: 'Email views', width: 8, value: (r) => r.email_views },
  { header: 'Email clicks', width: 8, value: (r) => r.email_clicks },
  { header: 'Short link', width: 28, value: (r) => cellText(r.short_link) },
  { header: 'Link clicks', width: 8, value: (r) => r.link_clicks },
  { header: 'Registered at', width: 20, value: (r) => localDate(r.registered_at_local_ms), numFmt: DATE_FORMAT },
  { header: 'Sent at', width: 20, value: (r) => localDate(r.sent_at_local_ms), numFmt: DATE_FORMAT },
  { header: 'Status at', width: 20, value: (r) => localDate(r.status_at_local_ms), numFmt: DATE_FORMAT },
  { header: 'Delayed start at', width: 20, value: (r) => localDate(r.delayed_start_at_local_ms), numFmt: DATE_FORMAT },
  { header: 'Delivery end at', width: 20, value: (r) => localDate(r.delivery_end_at_local_ms), numFmt: DATE_FORMAT },
];

/** The most characters a cell holds (Excel refuses to open a file with a longer one). */
export const MAX_CELL_TEXT = 32_767;
const TRUNCATED = '…';

/** Text as a cell holds it: cut to Excel's limit (an e-mail's HTML may be longer), never inside a
 * surrogate pair. */
function cellText(text: string | null): string | null {
  if (text === null || text.length <= MAX_CELL_TEXT) return text;
  let end = MAX_CELL_TEXT - TRUNCATED.length;
  if (/[\uD800-\uDBFF]/.test(text[end - 1]!)) end -= 1;
  return text.slice(0, end) + TRUNCATED;
}

/** The export's times arrive as wall-clock milliseconds in its time zone; ExcelJS writes a Date's
 * UTC fields, so the cell shows that wall clock. */
function localDate(milliseconds: number | null): Date | null {
  return milliseconds === null ? null : new Date(milliseconds);
}

/** A worksheet holds 1,048,576 rows: after that many (header included) the export goes on in "Messages 2". */
export const ROWS_PER_SHEET = 1_048_575;
const FETCH_BATCH = 2000;
/** Bytes the workbook may have queued for a slow client before the next batch waits. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export interface ExportOptions {
  /** Workbook description: what was exported and in which time zone the times are. */
  description: string;
  /** True once the client has gone away: the export stops at the next batch. */
  aborted: () => boolean;
  rowsPerSheet?: number;
}

/**
 * Streams the cursor's rows into an .xlsx written to `out`, waiting for `out` to drain between
 * batches so a slow client holds back the database instead of filling memory. Returns the number
 * of rows written (also when stopped early).
 */
export async function writeMessageWorkbook(out: Writable, cursor: MessageExportCursor, options: ExportOptions): Promise<number> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  workbook.creator = 'Notification orchestrator';
  (workbook as unknown as { description: string }).description = options.description;
  const rowsPerSheet = options.rowsPerSheet ?? ROWS_PER_SHEET;
  let sheet = addSheet(workbook, 'Messages');
  let sheetRows = 0;
  let sheets = 1;
  let written = 0;
  for (;;) {
    const rows = await cursor.next(FETCH_BATCH);
    if (options.aborted()) return written;
    for (const row of rows) {
      if (sheetRows === rowsPerSheet) {
        sheet.commit();
        sheet = addSheet(workbook, `Messages ${++sheets}`);
        sheetRows = 0;
      }
      sheet.addRow(MESSAGE_EXPORT_COLUMNS.map((c) => c.value(row))).commit();
      sheetRows += 1;
    }
    written += rows.length;
    if (rows.length < FETCH_BATCH) break;
    await drained(out, options.aborted);
    if (options.aborted()) return written;
  }
  await workbook.commit();
  return written;
}

function addSheet(workbook: ExcelJS.stream.xlsx.WorkbookWriter, name: string): ExcelJS.Worksheet {
  const sheet = workbook.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = MESSAGE_EXPORT_COLUMNS.map((c, i) => ({ header: c.header, key: String(i), width: c.width, style: c.numFmt ? { numFmt: c.numFmt } : {} }));
  sheet.getRow(1).font = { bold: true };
  sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: MESSAGE_EXPORT_COLUMNS.length } };
  sheet.getRow(1).commit();
  return sheet;
}

/** Resolves once `out` has taken what was queued (or the client left). */
async function drained(out: Writable, aborted: () => boolean): Promise<void> {
  while (!aborted() && (out.writableNeedDrain || out.writableLength > MAX_QUEUED_BYTES)) {
    await Promise.race([once(out, 'drain'), once(out, 'close')]);
  }
}
