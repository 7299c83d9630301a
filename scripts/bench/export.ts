/**
 * `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx scripts/bench/export.ts [--rows 1000000] [--client-mbps 2] [--verify] [--keep]`
 * (or `npm run bench -- --export 1000000`)
 *
 * The message export at scale: seeds N production-shaped messages (scripts/bench/seed-message-log.ts)
 * into a throw-away database, starts the API as a process of its own (`api/main.ts`, so its memory
 * is its own), downloads `GET /api/v1/messages/export.xlsx` of all of them, and prints the time to
 * the first byte, the total time, the file size and the API process's resident memory: before, and
 * at its peak during the download (sampled every 20 ms, and the kernel's high-water mark reset just
 * before the request). `--client-mbps` reads the download at that rate (a slow client: the export
 * must wait for it, not buffer); `--verify` reads the file back and counts its rows.
 * Without TEMPORAL_ADDRESS a Temporal dev server is started (the API connects to one).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { Client } from 'pg';
import { migrate } from '../../db/orm';
import { createDatabase, dropDatabase } from '../services/postgres';
import { memoryOf, startApiProcess } from './processes';
import { seedMessageLog } from './seed-message-log';

const argValue = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const ROWS = Number(argValue('rows') ?? 1_000_000);
const CLIENT_MBPS = argValue('client-mbps') ? Number(argValue('client-mbps')) : undefined;
const VERIFY = process.argv.includes('--verify');
const KEEP = process.argv.includes('--keep');
const ADMIN_KEY = 'bench-export-admin-key';
const DATABASE = 'notif_export_bench';

const say = (line: string) => process.stdout.write(`${line}\n`);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

async function main() {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) throw new Error('DATABASE_URL is required (the server to build the throw-away database on)');
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const databaseUrl = await createDatabase(baseUrl, DATABASE);
    if (!KEEP) cleanups.push(() => dropDatabase(baseUrl, DATABASE));
    await migrate(databaseUrl);
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    const seeded = Date.now();
    // Ten days: every row inside one `from`, whatever today's date.
    await seedMessageLog(db, { rows: ROWS, days: 10 });
    await db.end();
    say(`seeded ${ROWS.toLocaleString('en')} messages in ${((Date.now() - seeded) / 1000).toFixed(0)} s`);

    const api = await startApiProcess({ DATABASE_URL: databaseUrl, ADMIN_API_KEY: ADMIN_KEY });
    cleanups.unshift(() => api.stop());
    const { port } = api;
    const apiPid = api.child.pid!;

    const from = new Date(Date.now() - 11 * 86_400_000).toISOString();
    // Warm-up: the first export loads ExcelJS and the query plan; its memory is not the export's.
    await download(port, `/api/v1/messages/export.xlsx?from=${from}&to=${new Date(Date.now() - 10 * 86_400_000 + 60_000).toISOString()}`);
    const before = memoryOf(apiPid);
    // Reset the kernel's high-water mark, so VmHWM is this download's peak (Linux ≥ 4.0).
    fs.writeFileSync(`/proc/${apiPid}/clear_refs`, '5');
    let sampledPeak = before.rss;
    let received = 0;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, memoryOf(apiPid).rss)), 20);
    // Every 10 s: how far the download is and the API's memory, to see whether it stays flat.
    const exportStarted = Date.now();
    const progress = setInterval(() => {
      const { rss } = memoryOf(apiPid);
      say(`  ${((Date.now() - exportStarted) / 1000).toFixed(0).padStart(3)} s: ${mb(received).padStart(7)} received, API RSS ${mb(rss)}`);
    }, 10_000);
    const file = path.join(os.tmpdir(), `messages-export-bench-${process.pid}.xlsx`);
    cleanups.push(async () => fs.promises.rm(file, { force: true }));
    const result = await download(port, `/api/v1/messages/export.xlsx?from=${from}`, file, CLIENT_MBPS, (bytes) => (received = bytes));
    clearInterval(sampler);
    clearInterval(progress);
    const after = memoryOf(apiPid);

    say(`export of ${ROWS.toLocaleString('en')} rows${CLIENT_MBPS ? ` read at ${CLIENT_MBPS} MB/s` : ''}: ${result.status}, ${mb(result.bytes)}`);
    say(`  time to first byte  ${result.firstByteMs.toFixed(0)} ms`);
    say(`  total time          ${(result.totalMs / 1000).toFixed(1)} s (${((ROWS / result.totalMs) * 1000).toFixed(0)} rows/s)`);
    say(`  API process RSS     before ${mb(before.rss)}, peak during the export ${mb(Math.max(after.hwm, sampledPeak))} (VmHWM ${mb(after.hwm)}, sampled ${mb(sampledPeak)}), after ${mb(after.rss)}`);
    await listLatencies(port, from, databaseUrl);
    if (VERIFY) {
      const counted = await countRows(file);
      say(`  read back: ${counted.sheets} sheet(s), ${counted.rows.toLocaleString('en')} data rows ${counted.rows === ROWS ? '(all)' : `(expected ${ROWS})`}`);
    }
  } finally {
    for (const cleanup of cleanups) await cleanup().catch((error) => say(`cleanup: ${error}`));
  }
}

/** p50/p99 of `GET /api/v1/messages` (first page, 50 rows) for each filter alone and a combination,
 * at the seeded size: what an operator paging the log waits for. */
async function listLatencies(port: number, from: string, databaseUrl: string): Promise<void> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const { rows } = await db.query<{ task_id: string; recipient: string }>("select task_id, recipient from messages where channel = 'sms' limit 1");
  await db.end();
  const { task_id: taskId, recipient } = rows[0]!;
  const part = encodeURIComponent(recipient.slice(3, 9));
  const to = new Date(Date.parse(from) + 86_400_000).toISOString();
  const filters: [string, string][] = [
    ['no filter', ''],
    ['search (part of the recipient)', `search=${part}`],
    ['period (one day)', `from=${from}&to=${to}`],
    ['channel', 'channel=viber'],
    ['status', 'status=UNDELIVERED'],
    ['optional', 'optional=true'],
    ['task', `taskId=${taskId}`],
    ['channel + status + period', `channel=sms&status=DELIVERED&from=${from}&to=${to}`],
    ['with total (status)', 'status=READ&withTotal=true'],
  ];
  const REQUESTS = 40;
  say(`GET /api/v1/messages at ${ROWS.toLocaleString('en')} rows, first page of 50, ${REQUESTS} requests each:`);
  for (const [label, query] of filters) {
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const result = await download(port, `/api/v1/messages?pageSize=50${query ? `&${query}` : ''}`);
      if (result.status !== 200) throw new Error(`${label}: HTTP ${result.status}`);
      times.push(result.totalMs);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!;
    say(`  ${label.padEnd(32)} p50 ${at(0.5).toFixed(1).padStart(7)} ms   p99 ${at(0.99).toFixed(1).padStart(7)} ms`);
  }
}

/** Downloads `url`, optionally to `file` and at most `mbps` MB/s, timing the first byte and the end. */
function download(port: number, url: string, file?: string, mbps?: number, onBytes?: (bytes: number) => void) {
  return new Promise<{ status: number; bytes: number; firstByteMs: number; totalMs: number }>((resolve, reject) => {
    const started = performance.now();
    let firstByteMs = NaN;
    let bytes = 0;
    const request = http.get({ host: '127.0.0.1', port, path: url, headers: { Authorization: `Bearer ${ADMIN_KEY}` } }, (res) => {
      const out = file ? fs.createWriteStream(file) : undefined;
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) firstByteMs = performance.now() - started;
        bytes += chunk.length;
        onBytes?.(bytes);
        out?.write(chunk);
        if (mbps) {
          // Ahead of the allowed rate: stop reading until the rate catches up.
          const dueMs = (bytes / (mbps * 1024 * 1024)) * 1000 - (performance.now() - started - firstByteMs);
          if (dueMs > 5) {
            res.pause();
            setTimeout(() => res.resume(), dueMs);
          }
        }
      });
      res.on('end', () => {
        const totalMs = performance.now() - started;
        if (out) out.end(() => resolve({ status: res.statusCode!, bytes, firstByteMs, totalMs }));
        else resolve({ status: res.statusCode!, bytes, firstByteMs, totalMs });
      });
      res.on('error', reject);
    });
    request.on('error', reject);
  });
}

async function countRows(file: string): Promise<{ sheets: number; rows: number }> {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, { worksheets: 'emit', sharedStrings: 'ignore', styles: 'ignore', hyperlinks: 'ignore' });
  let sheets = 0;
  let rows = 0;
  for await (const sheet of reader) {
    sheets += 1;
    for await (const row of sheet) if (row.number > 1) rows += 1;
  }
  return { sheets, rows };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
