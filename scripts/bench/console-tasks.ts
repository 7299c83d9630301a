/**
 * `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx scripts/bench/console-tasks.ts [--tasks 10000] [--runs 5] [--keep]`
 *
 * The operator console's task list with many tasks, in headless Chromium (CHROMIUM_PATH, default
 * /usr/bin/chromium, driven by playwright-core):
 * 1. seeds N task rows (default 10,000; statuses spread, each with counts per status) directly with
 *    SQL into a throw-away database (`notif_console_bench`, dropped afterwards unless --keep);
 * 2. builds the console when it is outdated, starts the API as a process of its own on that database
 *    (it serves the console at /);
 * 3. opens /tasks signed in (the key put in sessionStorage before the page loads) `--runs` times,
 *    each in a fresh browser context (a cold HTTP cache, as a first visit), and reads the page's own
 *    performance timing: first contentful paint, and the moment the first page of task rows is in
 *    the DOM (performance.now() when `tr[data-task]` appears), plus the `GET /api/v1/tasks`
 *    request's duration from Resource Timing;
 * 4. prints the built bundle's size (each .js/.css in console/dist/assets, raw and gzip -9).
 * Without TEMPORAL_ADDRESS a Temporal dev server is started (the API connects to one).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Client } from 'pg';
import { chromium } from 'playwright-core';
import { migrate } from '../../db/orm';
import { CONSOLE_BUILD, ensureConsoleBuilt } from '../console-build';
import { createDatabase, dropDatabase } from '../services/postgres';
import { startApiProcess } from './processes';

const argValue = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const TASKS = Number(argValue('tasks') ?? 10_000);
const RUNS = Number(argValue('runs') ?? 5);
const KEEP = process.argv.includes('--keep');
const ADMIN_KEY = 'bench-console-admin-key';
const DATABASE = 'notif_console_bench';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const say = (line: string) => process.stdout.write(`${line}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** N tasks as an import leaves them: every status, a file's row counts, per-status message counts. */
async function seedTasks(db: Client, count: number): Promise<void> {
  await db.query(
    `insert into tasks (id, name, type, status, timezone, send_windows, total, rejected, workflow_id, created_at, started_at, finished_at, file_name)
     select id, 'Campaign ' || lpad(i::text, 5, '0'), (array['sms','universal','viber','full'])[1 + i % 4],
            (array['created','in_progress','paused','completed','completed','completed','canceled','failed'])[1 + i % 8],
            'Europe/Moscow', '[{"from":"09:00","to":"21:00"}]'::jsonb, 1000 + i % 5000, i % 7, 'task-' || id,
            now() - (i * interval '4 minutes'), now() - (i * interval '4 minutes') + interval '1 minute',
            case when i % 8 >= 3 then now() - (i * interval '4 minutes') + interval '30 minutes' end, 'campaign-' || i || '.xlsx'
       from (select gen_random_uuid() as id, i from generate_series(1, $1) i) s`,
    [count],
  );
  await db.query(
    `insert into task_counts (task_id, status, n)
     select id, s.status, s.share * total / 100 from tasks,
       (values ('DELIVERED', 80), ('UNDELIVERED', 12), ('SENT', 5), ('ERROR', 3)) s(status, share)`,
  );
  await db.query('analyze tasks; analyze task_counts');
}

function bundleSizes(): void {
  const assets = path.join(CONSOLE_BUILD, 'assets');
  let raw = 0;
  let gz = 0;
  for (const name of fs.readdirSync(assets).sort()) {
    if (!/\.(js|css)$/.test(name)) continue;
    const bytes = fs.readFileSync(path.join(assets, name));
    const packed = zlib.gzipSync(bytes, { level: 9 }).length;
    raw += bytes.length;
    gz += packed;
    say(`  ${name.padEnd(32)} ${(bytes.length / 1024).toFixed(1).padStart(8)} KiB   gzip ${(packed / 1024).toFixed(1).padStart(7)} KiB`);
  }
  say(`  ${'total'.padEnd(32)} ${(raw / 1024).toFixed(1).padStart(8)} KiB   gzip ${(gz / 1024).toFixed(1).padStart(7)} KiB`);
}

async function main() {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) throw new Error('DATABASE_URL is required (the server to build the throw-away database on)');
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    await ensureConsoleBuilt();
    say('console bundle (console/dist/assets):');
    bundleSizes();

    await dropDatabase(baseUrl, DATABASE).catch(() => undefined);
    const databaseUrl = await createDatabase(baseUrl, DATABASE);
    if (!KEEP) cleanups.push(() => dropDatabase(baseUrl, DATABASE));
    await migrate(databaseUrl);
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    const seeded = Date.now();
    await seedTasks(db, TASKS);
    const { rows } = await db.query<{ n: string }>('select count(*) as n from tasks');
    await db.end();
    say(`seeded ${Number(rows[0]!.n).toLocaleString('en')} tasks in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);

    const api = await startApiProcess({ DATABASE_URL: databaseUrl, ADMIN_API_KEY: ADMIN_KEY });
    cleanups.unshift(() => api.stop());
    const { port } = api;

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
    });
    cleanups.unshift(() => browser.close());
    const base = `http://127.0.0.1:${port}`;
    const results: { fcp: number; rows: number; api: number }[] = [];
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext({ viewport: { width: 1500, height: 1000 }, locale: 'en-GB' });
      // In the page (a string: this file is type-checked without the DOM's types): sign in, and note
      // the moment the first task row enters the DOM and the first frame painted after it.
      await context.addInitScript({
        content: `
          sessionStorage.setItem('console.apiKey', ${JSON.stringify(ADMIN_KEY)});
          sessionStorage.setItem('console.role', 'admin');
          new MutationObserver((_, observer) => {
            if (window.__rowsAt === undefined && document.querySelector('tr[data-task]')) {
              window.__rowsAt = performance.now();
              requestAnimationFrame(() => setTimeout(() => (window.__rowsPaintedAt = performance.now()), 0));
              observer.disconnect();
            }
          }).observe(document, { childList: true, subtree: true });`,
      });
      const page = await context.newPage();
      await page.goto(`${base}/tasks`);
      await page.waitForFunction('window.__rowsPaintedAt !== undefined', undefined, { timeout: 30_000 });
      const timing = (await page.evaluate(`(() => {
        const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN;
        const list = performance.getEntriesByType('resource').find((e) => /\\/api\\/v1\\/tasks\\?/.test(e.name));
        return { fcp, rows: window.__rowsAt, painted: window.__rowsPaintedAt, api: list ? list.responseEnd - list.startTime : NaN, apiStart: list ? list.startTime : NaN, rowCount: document.querySelectorAll('tr[data-task]').length };
      })()`)) as { fcp: number; rows: number; painted: number; api: number; apiStart: number; rowCount: number };
      results.push({ fcp: timing.fcp, rows: timing.painted, api: timing.api });
      say(`run ${run + 1}: first contentful paint ${timing.fcp.toFixed(0)} ms, task rows in the DOM at ${timing.rows.toFixed(0)} ms and painted by ${timing.painted.toFixed(0)} ms, GET /api/v1/tasks sent at ${timing.apiStart.toFixed(0)} ms and answered in ${timing.api.toFixed(0)} ms (${timing.rowCount} rows on the page)`);
      await context.close();
    }
    say(`median of ${RUNS} (fresh context each, ${TASKS.toLocaleString('en')} tasks): first contentful paint ${median(results.map((r) => r.fcp)).toFixed(0)} ms, task rows painted by ${median(results.map((r) => r.rows)).toFixed(0)} ms, GET /api/v1/tasks ${median(results.map((r) => r.api)).toFixed(0)} ms`);
  } finally {
    for (const cleanup of cleanups) await cleanup().catch((error) => say(`cleanup: ${error}`));
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
