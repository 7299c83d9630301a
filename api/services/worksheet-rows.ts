import { Worker } from 'node:worker_threads';
import type ExcelJS from 'exceljs';

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

type FromWorker = { rows: [number, ExcelJS.CellValue[]][] } | { end: true; sheets: number } | { failed: string };

// Plain JavaScript run with `eval`, so it loads the same way under tsx, Jest and the compiled
// build (a .ts worker file would need a loader in each). It only parses: every rule about what a
// row means stays in the importer.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
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
(async () => {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(fs.createReadStream(workerData.file), {
    sharedStrings: 'emit', hyperlinks: 'cache', styles: 'ignore', worksheets: 'emit', entries: 'emit',
  });
  let sheets = 0;
  for await (const item of reader.parse()) {
    // ExcelJS yields each shared string as a bare { index, text } (not as a 'shared-strings' event).
    if (item.eventType === undefined && typeof item.index === 'number') {
      keepShared(item.index, item.text);
      continue;
    }
    if (item.eventType !== 'worksheet') continue;
    const value = item.value;
    sheets += 1;
    let rows = [];
    for await (const row of value) {
      const values = row.values;
      for (let i = 0; i < values.length; i++) {
        const cell = values[i];
        if (cell !== null && typeof cell === 'object' && 'sharedString' in cell) values[i] = sharedString(cell.sharedString);
      }
      rows.push([row.number, values]);
      if (rows.length === workerData.rowsPerBatch) { await send(rows); rows = []; }
    }
    if (rows.length > 0) await send(rows);
    break; // only the first sheet holds recipients (the others explain the columns)
  }
  parentPort.postMessage({ end: true, sheets });
})().catch((error) => parentPort.postMessage({ failed: error && error.message ? error.message : String(error) }));
`;

/** The first worksheet's rows, in order; `sheets` (0 or 1) is known once the rows are done. */
export async function* worksheetRows(filePath: string, result: { sheets: number }): AsyncGenerator<WorksheetRow[]> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    // A bound of its own makes the parser collect its garbage early instead of growing towards the
    // process's limit (≈ 200 MB less at a million rows).
    resourceLimits: { maxOldGenerationSizeMb: READER_HEAP_MB },
    workerData: { file: filePath, exceljs: require.resolve('exceljs'), rowsPerBatch: ROWS_PER_BATCH, batchesAhead: BATCHES_AHEAD },
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
