/**
 * `npm run bench -- --import 1000000`: a generated task file uploaded through the API, as an
 * operator would, against a naive import (the whole workbook loaded in memory, one INSERT per row)
 * on a smaller file in the same run. Prints rows/s, the time until the task is `created`, and the
 * API process's peak RSS (read from /proc: the API runs as a process of its own).
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import ExcelJS from 'exceljs';
import type { Pool } from 'pg';
import { memoryOf, startApiProcess } from './processes';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const ADMIN_KEY = 'bench-admin-key';

/** An SMS task file of `rows` distinct recipients, written with ExcelJS's streaming writer. */
export async function writeSmsTaskFile(file: string, rows: number, sender: string): Promise<void> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: false, useStyles: false });
  const sheet = workbook.addWorksheet('Recipients');
  sheet.addRow(['phone', 'text', 'sender', 'externalId']).commit();
  for (let i = 0; i < rows; i++) {
    sheet.addRow([`+7999${String(i).padStart(6, '0')}0`, `Your order ${i} is ready`, sender, `crm-${i}`]).commit();
  }
  sheet.commit();
  await workbook.commit();
}

export interface ImportFigures {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  peakRss: number;
  fileBytes: number;
  total: number;
  rejected: number;
}

/** Uploads a file through an API process of its own and measures it. */
export async function benchImport(args: { databaseUrl: string; temporalAddress: string; tmp: string; rows: number }): Promise<ImportFigures> {
  const api = await startApiProcess({ DATABASE_URL: args.databaseUrl, TEMPORAL_ADDRESS: args.temporalAddress, ADMIN_API_KEY: ADMIN_KEY, TASK_UPLOAD_MAX_MB: '1024' });
  const { port } = api;
  try {
    const base = `http://127.0.0.1:${port}/api/v1`;
    const headers = { authorization: `Bearer ${ADMIN_KEY}` };
    const json = async (url: string, body?: unknown) => {
      const res = await fetch(url, { method: body === undefined ? 'GET' : 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return res.json();
    };
    const sender = (await json(`${base}/senders`, { name: 'BENCHIMP', channel: 'sms' })) as { id: string };
    await json(`${base}/senders/${sender.id}/approve`, {});

    const file = path.join(args.tmp, `import-${args.rows}.xlsx`);
    const written = performance.now();
    await writeSmsTaskFile(file, args.rows, 'BENCHIMP');
    const fileBytes = fs.statSync(file).size;
    process.stdout.write(`import: wrote a ${args.rows}-row file (${mb(fileBytes)}) in ${((performance.now() - written) / 1000).toFixed(1)} s; uploading…\n`);

    const uploadId = `bench-${Date.now()}`;
    const form = new FormData();
    form.append('name', `import bench ${args.rows}`);
    form.append('type', 'sms');
    form.append('file', await fs.openAsBlob(file), 'bench.xlsx');
    const t0 = performance.now();
    let lastLog = 0;
    const progress = setInterval(async () => {
      if (performance.now() - lastLog < 5000) return;
      lastLog = performance.now();
      const p = (await json(`${base}/uploads/${uploadId}`).catch(() => null)) as { rowsRead?: number } | null;
      if (p?.rowsRead !== undefined) process.stdout.write(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${p.rowsRead} rows read\n`);
    }, 500);
    const res = await fetch(`${base}/tasks`, { method: 'POST', headers: { ...headers, 'x-upload-id': uploadId }, body: form });
    clearInterval(progress);
    const seconds = (performance.now() - t0) / 1000;
    const body = (await res.json()) as { total?: number; rejected?: number; error?: unknown };
    if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${JSON.stringify(body)}`);
    fs.rmSync(file, { force: true });
    return { rows: args.rows, seconds, rowsPerSecond: args.rows / seconds, peakRss: memoryOf(api.child.pid!).hwm, fileBytes, total: body.total!, rejected: body.rejected! };
  } finally {
    await api.stop();
  }
}

/** The naive way: the whole workbook in memory, then one INSERT per row (rows/s and heap growth). */
export async function benchNaiveImport(pool: Pool, tmp: string, rows: number): Promise<{ rows: number; rowsPerSecond: number; heapGrowth: number }> {
  const file = path.join(tmp, `naive-${rows}.xlsx`);
  await writeSmsTaskFile(file, rows, 'BENCHIMP');
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.readFile(file);
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  const client = await pool.connect();
  try {
    await client.query('create temporary table if not exists naive_import (phone text, text text, sender text, external_id text)');
    for (const row of workbook.worksheets[0]!.getRows(2, rows) ?? []) {
      const v = row.values as unknown[];
      await client.query('insert into naive_import values ($1, $2, $3, $4)', [v[1], v[2], v[3], v[4]]);
    }
  } finally {
    client.release();
  }
  fs.rmSync(file, { force: true });
  return { rows, rowsPerSecond: rows / ((performance.now() - t0) / 1000), heapGrowth };
}

