/**
 * The message log as an .xlsx file (`GET /api/v1/messages/export.xlsx`), written row by row with
 * ExcelJS's streaming writer straight into the response from a database cursor: a million-row
 * export holds one batch of rows at a time, and its first bytes leave before its last rows are read.
 */
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
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

/** One style object per column, shared by all its cells. */
const CELL_STYLES: Partial<ExcelJS.Style>[] = MESSAGE_EXPORT_COLUMNS.map((c) => (c.numFmt ? { numFmt: c.numFmt } : {}));

/** A worksheet holds 1,048,576 rows: after that many (header included) the export goes on in "Messages 2". */
export const ROWS_PER_SHEET = 1_048_575;
const FETCH_BATCH = 2000;
/** Rows written between two turns of the event loop (25 made a 400,000-row export ~40 % faster
 * than one turn per batch, on a loaded 2-core machine). */
const ROWS_PER_TURN = 25;

export interface ExportOptions {
  /** Workbook description: what was exported and in which time zone the times are. */
  description: string;
  /** True once the client has gone away: the export stops at the next batch. */
  aborted: () => boolean;
  rowsPerSheet?: number;
}

/**
 * Streams the cursor's rows into an .xlsx written to `out`, a batch at a time, each once the zip
 * and `out` have caught up with the one before (a slow client holds back the database instead of
 * filling memory). Returns the number of rows written (also when stopped early).
 */
export async function writeMessageWorkbook(out: Writable, cursor: MessageExportCursor, options: ExportOptions): Promise<number> {
  // Inline strings: no shared-string table held in memory. (The zip compresses at zlib level 1,
  // archiver's default: level 6 took 25 % longer for a file 15 % smaller.)
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  workbook.creator = 'Notification orchestrator';
  (workbook as unknown as { description: string }).description = options.description;
  const rowsPerSheet = options.rowsPerSheet ?? ROWS_PER_SHEET;
  const sheets = [addSheet(workbook, 'Messages')];
  let sheet = sheets[0]!;
  let sheetRows = 0;
  let written = 0;
  // The next batch is fetched while this one is written: the database and ExcelJS work side by side.
  const fetch = () => {
    const batch = cursor.next(FETCH_BATCH);
    batch.catch(() => undefined); // awaited below; a fetch cancelled by a disconnect is expected
    return batch;
  };
  let next = fetch();
  for (;;) {
    const rows = await next;
    if (options.aborted()) return written;
    const more = rows.length === FETCH_BATCH;
    if (more) next = fetch();
    for (const row of rows) {
      if (sheetRows === rowsPerSheet) {
        sheet.commit();
        sheet = addSheet(workbook, `Messages ${sheets.length + 1}`);
        sheets.push(sheet);
        sheetRows = 0;
      }
      const excelRow = sheet.addRow(MESSAGE_EXPORT_COLUMNS.map((c) => c.value(row)));
      // ExcelJS gives each new cell a copy of its column's style and looks the copy up by its XML;
      // one shared object per column is found in its cache instead (a quarter of the export's CPU).
      excelRow.eachCell({ includeEmpty: true }, (cell, column) => (cell.style = CELL_STYLES[column - 1]!));
      excelRow.commit();
      sheetRows += 1;
      written += 1;
      // zlib compresses on the thread pool and continues only when the event loop turns: a turn
      // every few rows lets it work while the next rows are written.
      if (sheetRows % ROWS_PER_TURN === 0) {
        await nextTurn();
        if (options.aborted()) return written;
      }
    }
    if (!more) break;
    await caughtUp(sheets, out, options.aborted);
    if (options.aborted()) return written;
  }
  await workbook.commit();
  return written;
}

function addSheet(workbook: ExcelJS.stream.xlsx.WorkbookWriter, name: string): ExcelJS.Worksheet {
  const sheet = workbook.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = MESSAGE_EXPORT_COLUMNS.map((c) => ({ header: c.header, width: c.width }));
  sheet.getRow(1).font = { bold: true };
  sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: MESSAGE_EXPORT_COLUMNS.length } };
  sheet.getRow(1).commit();
  return sheet;
}

/** Uncompressed bytes that may wait for the zip before the next batch is written. */
const MAX_PENDING_COMPRESSION = 8 * 1024 * 1024;

/**
 * Resolves once the workbook's output has caught up: the zip has compressed what the sheet wrote,
 * and the client has taken what was queued (a slow client holds the export back).
 *
 * ExcelJS 4.4.0's worksheet stream (utils/stream-buf.js) pushes into the zip entry's input without
 * waiting for it, and zlib compresses on the thread pool, a chunk per turn of the event loop: rows
 * written batch after batch, with only the database round trip in between, left zlib a turn or two
 * per batch, and the whole file waited in that input (1 GB of the API's memory at a million rows).
 * Waiting here until the input is below MAX_PENDING_COMPRESSION gives zlib its turns and keeps
 * memory flat. The input is the stream ExcelJS pipes into (its `pipes`; archiver wraps it in a
 * readable-stream PassThrough), measured by its buffered bytes; should a later ExcelJS keep it
 * elsewhere, only this wait is lost, and the memory figure of scripts/bench/export.ts shows it.
 */
async function caughtUp(sheets: ExcelJS.Worksheet[], out: Writable, aborted: () => boolean): Promise<void> {
  type Buffered = { _writableState?: { length: number }; _readableState?: { length: number } };
  type SheetStream = { buffers?: { length: number }[]; pipes?: Buffered[] };
  // A sheet's own buffer holds what the zip has not started reading (a new sheet waits for the last).
  const pendingCompression = () =>
    sheets.reduce((sum, sheet) => {
      const stream = (sheet as unknown as { stream?: SheetStream }).stream;
      const own = (stream?.buffers ?? []).reduce((n, b) => n + b.length, 0);
      const input = (stream?.pipes ?? []).reduce((n, s) => n + (s._writableState?.length ?? 0) + (s._readableState?.length ?? 0), 0);
      return sum + own + input;
    }, 0);
  while (!aborted() && pendingCompression() > MAX_PENDING_COMPRESSION) await new Promise((resolve) => setTimeout(resolve, 5));
  while (!aborted() && out.writableNeedDrain) {
    // The listener that did not fire is removed, or each batch would leave one behind.
    const settled = new AbortController();
    await Promise.race([once(out, 'drain', { signal: settled.signal }), once(out, 'close', { signal: settled.signal })]).finally(() => settled.abort());
  }
}
