import { Worker } from 'node:worker_threads';
import type ExcelJS from 'exceljs';
import { locateWorkbookParts, WorkbookProblemError } from '../../core/workbook-check';

/**
 * Reads the rows of a workbook's first worksheet in a worker thread and hands them over in
 * batches. Parsing the XML is a third of an import's CPU: on its own thread it runs beside the
 * checking and writing of the rows already read, and the API's event loop stays free for other
 * requests. The worker reads ahead by at most `BATCHES_AHEAD` batches, so memory stays flat
 * however long the file.
 */

export interface WorksheetRow {
  number: number;
  values: ExcelJS.CellValue[];
}

/** A workbook ExcelJS could not read: its message says why. */
export class UnreadableWorkbookError extends Error {}

const ROWS_PER_BATCH = 500;
const BATCHES_AHEAD = 4;
const READER_HEAP_MB = 128;
/** The parts the reader may open: the workbook, its relationships, shared strings and sheets. */
const isReadPart = (name: string) => name === 'xl/_rels/workbook.xml.rels' || (name.startsWith('xl/') && name.endsWith('.xml'));

type FromWorker = { rows: [number, ExcelJS.CellValue[]][] } | { end: true; sheets: number } | { failed: string };

// Plain JavaScript run with `eval`, so it loads the same way under tsx, Jest and the compiled
// build (a .ts worker file would need a loader in each). It only parses: every rule about what a
// row means stays in the importer.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const { PassThrough, Readable, Transform, pipeline } = require('node:stream');
const ExcelJS = require(workerData.exceljs);
let credit = workerData.batchesAhead;
let wake = null;
parentPort.on('message', () => { credit += 1; if (wake) { const w = wake; wake = null; w(); } });
async function send(rows) {
  while (credit === 0) await new Promise((resolve) => (wake = resolve));
  credit -= 1;
  parentPort.postMessage({ rows });
}
// Shared strings are kept here, not by ExcelJS: its cache holds each one as a slice of the XML it
// came from (≈ 1 GB for a million distinct texts). Here they are UTF-8 bytes end to end in one
// buffer, outside the JavaScript heap, and a string is made only when a cell refers to it.
let sharedBytes = Buffer.alloc(1 << 20);
let sharedEnds = new Uint32Array(1 << 14);
let sharedCount = 0;
function keepShared(index, text) {
  const plain = text === null || text === undefined ? '' : typeof text === 'string' ? text : text.richText.map((run) => run.text || '').join('');
  const start = sharedCount === 0 ? 0 : sharedEnds[sharedCount - 1];
  const length = Buffer.byteLength(plain);
  if (start + length > sharedBytes.length) {
    const bigger = Buffer.alloc(Math.max(start + length, Math.ceil(sharedBytes.length * 1.5)));
    sharedBytes.copy(bigger, 0, 0, start);
    sharedBytes = bigger;
  }
  if (index >= sharedEnds.length) {
    const more = new Uint32Array(sharedEnds.length * 2);
    more.set(sharedEnds);
    sharedEnds = more;
  }
  sharedBytes.write(plain, start);
  sharedEnds[index] = start + length;
  sharedCount = index + 1;
}
function sharedString(index) {
  if (index >= sharedCount) return '';
  return sharedBytes.toString('utf8', index === 0 ? 0 : sharedEnds[index - 1], sharedEnds[index]);
}
// Each part is read through the zip's directory (core/workbook-check.ts located them): the first
// sheet of the workbook's own order, after the parts it depends on. ExcelJS's one pass over the
// local headers lost an entry now and then under load ("Cannot read properties of undefined
// (reading 'sheets')", exceljs#3064), and it copied every sheet to a temporary file first. The
// parts are parsed by the reader's own _parseRels/_parseWorkbook/_parseSharedStrings/_parseWorksheet:
// internals of ExcelJS 4.4.0, which package.json pins exactly (test/unit/worksheet-rows.test.ts).
const parts = new Map(workerData.parts.map((part) => [part.name, part]));
function partStream(part) {
  const inflated = part.method === 8 ? zlib.createInflateRaw() : new PassThrough();
  let produced = 0;
  // The directory's sizes were checked for a zip bomb; a part that inflates beyond its stated size lied.
  const limit = new Transform({
    transform(chunk, _encoding, callback) {
      produced += chunk.length;
      if (produced > part.uncompressedSize) return callback(new Error('the part ' + part.name + ' unpacks to more than its zip directory says: the file is damaged, or a zip bomb'));
      callback(null, chunk);
    },
  });
  if (part.compressedSize === 0) return pipeline(Readable.from([]), inflated, limit, () => undefined);
  const raw = fs.createReadStream(workerData.file, { start: part.dataStart, end: part.dataStart + part.compressedSize - 1 });
  return pipeline(raw, inflated, limit, () => undefined);
}
/** The part a workbook relationship's target names (relative to xl/, or absolute from the root). */
const targetPart = (target) => parts.get(target.startsWith('/') ? target.slice(1) : 'xl/' + target.replace(/^\\.\\//, ''));
function firstSheetPart(reader) {
  const sheet = reader.model && reader.model.sheets && reader.model.sheets[0];
  const rel = sheet && (reader.workbookRels || []).find((r) => r.Id === sheet.rId);
  if (rel) return targetPart(rel.Target);
  // No usable workbook.xml or relationships: the lowest-numbered sheet part.
  const numbered = [...parts.keys()].map((name) => /^xl\\/worksheets\\/sheet(\\d+)\\.xml$/.exec(name)).filter(Boolean);
  numbered.sort((a, b) => Number(a[1]) - Number(b[1]));
  return numbered.length > 0 ? parts.get(numbered[0][0]) : undefined;
}
(async () => {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(null, {
    sharedStrings: 'emit', hyperlinks: 'cache', styles: 'ignore', worksheets: 'emit', entries: 'ignore',
  });
  const rels = parts.get('xl/_rels/workbook.xml.rels');
  if (rels) await reader._parseRels(partStream(rels));
  const book = parts.get('xl/workbook.xml');
  if (book) await reader._parseWorkbook(partStream(book));
  const shared = parts.get('xl/sharedStrings.xml');
  if (shared) for await (const item of reader._parseSharedStrings(partStream(shared))) keepShared(item.index, item.text);
  const sheetPart = firstSheetPart(reader);
  if (!sheetPart) return parentPort.postMessage({ end: true, sheets: 0 });
  const sheetNo = (/(\\d+)\\.xml$/.exec(sheetPart.name) || [])[1] || '1';
  // Only the first sheet holds recipients (the others explain the columns).
  for (const item of reader._parseWorksheet(partStream(sheetPart), sheetNo)) {
    let rows = [];
    for await (const row of item.value) {
      const values = row.values;
      for (let i = 0; i < values.length; i++) {
        const cell = values[i];
        if (cell !== null && typeof cell === 'object' && 'sharedString' in cell) values[i] = sharedString(cell.sharedString);
      }
      rows.push([row.number, values]);
      if (rows.length === workerData.rowsPerBatch) { await send(rows); rows = []; }
    }
    if (rows.length > 0) await send(rows);
  }
  parentPort.postMessage({ end: true, sheets: 1 });
})().catch((error) => parentPort.postMessage({ failed: error && error.message ? error.message : String(error) }));
`;

/** The first worksheet's rows, in order; `sheets` (0 or 1) is known once the rows are done. */
export async function* worksheetRows(filePath: string, result: { sheets: number }): AsyncGenerator<WorksheetRow[]> {
  const parts = await locateWorkbookParts(filePath, isReadPart).catch((error: unknown) => {
    throw error instanceof WorkbookProblemError ? new UnreadableWorkbookError(error.message) : error;
  });
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    // A bound of its own makes the parser collect its garbage early instead of growing towards the
    // process's limit (≈ 200 MB less at a million rows).
    resourceLimits: { maxOldGenerationSizeMb: READER_HEAP_MB },
    workerData: { file: filePath, parts, exceljs: require.resolve('exceljs'), rowsPerBatch: ROWS_PER_BATCH, batchesAhead: BATCHES_AHEAD },
  });
  const inbox: FromWorker[] = [];
  let waiting: (() => void) | null = null;
  const deliver = (message: FromWorker) => {
    inbox.push(message);
    waiting?.();
    waiting = null;
  };
  worker.on('message', deliver);
  worker.on('error', (error: Error & { code?: string }) =>
    deliver({
      failed:
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `reading it needs more than the reader's ${READER_HEAP_MB} MB: split it into several tasks`
          : error.message,
    }),
  );
  worker.on('exit', (code) => deliver({ failed: `the reader stopped (exit code ${code})` }));
  try {
    for (;;) {
      if (inbox.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
      const message = inbox.shift()!;
      if ('failed' in message) throw new UnreadableWorkbookError(message.failed);
      if ('end' in message) {
        result.sheets = message.sheets;
        return;
      }
      yield message.rows.map(([number, values]) => ({ number, values }));
      worker.postMessage(1); // the batch is done with: the worker may read one more
      // Batches may be queued already: let the event loop serve other requests between them.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    worker.removeAllListeners();
    await worker.terminate();
  }
}
