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
(async () => {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(fs.createReadStream(workerData.file), {
    sharedStrings: 'cache', hyperlinks: 'cache', styles: 'ignore', worksheets: 'emit', entries: 'emit',
  });
  let sheets = 0;
  for await (const worksheet of reader) {
    sheets += 1;
    let rows = [];
    for await (const row of worksheet) {
      rows.push([row.number, row.values]);
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
  worker.on('error', (error) => deliver({ failed: error.message }));
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
