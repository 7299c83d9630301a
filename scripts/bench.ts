/**
 * `npm run bench [-- --recipients 1000000 --baseline 2000 --keep]`; `-- --import N`, `-- --smtp N` and `-- --smpp N` run
 * only the task-file import, the email campaign through SMTP (scripts/bench/smtp-campaign.ts) or the
 * SMS campaign through SMPP (scripts/bench/smpp-campaign.ts).
 * Runs a sandbox SMS campaign of N recipients end to end through the real workflow, workers and
 * PostgreSQL (near-zero sandbox latency), then a naive baseline (one activity per message) on a
 * smaller N, and prints throughput, time to first message, history events and peak RSS of both.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import v8 from 'node:v8';
import path from 'node:path';
import fs from 'node:fs';
import pino from 'pino';
import { Worker } from '@temporalio/worker';
import { performance } from 'node:perf_hooks';
import { connectTemporalClient } from '../api/server';
import { startTaskWorkflow } from '../workflows/client';
import { SandboxProvider } from '../activities/channels/sandbox';
import { loadConfig } from '../core/config';
import { migrate } from '../db/orm';
import { createPool } from '../db/pool';
import { connectWorker, installWorkerRuntime, startWorkers } from '../worker/worker';
import { createNaiveActivities } from './bench/naive-activities';
import { benchImport, benchNaiveImport } from './bench/import';
import { benchSmtpCampaign } from './bench/smtp-campaign';
import { seedSmsCampaign } from './bench/seed-campaign';
import { benchSmppCampaign } from './bench/smpp-campaign';
import { benchApi, type ApiFigures } from './bench/api';
import { statementProfile } from './bench/statement-profile';
import { quantileBetween, readEngineMetrics } from './bench/engine-metrics';
import { cpuPerThousand, cpuSnapshot, DEPLOYED_HEAP_MB } from './bench/processes';
import { createDatabase, dropDatabase, startEmbeddedPostgres } from './services/postgres';
import { startTemporalDevServer } from './services/temporal-server';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const RECIPIENTS = arg('recipients', 100_000);
const BASELINE = arg('baseline', 2_000);
const KEEP = process.argv.includes('--keep');
/** `--engine-only`: only the campaign, for profiling runs. */
const ENGINE_ONLY = process.argv.includes('--engine-only');
const API_REQUESTS = arg('api-requests', 5_000);
const API_CONCURRENCY = arg('api-concurrency', 64);
/** `--api N`: only the API benchmark, N requests. */
const API_ONLY = arg('api', 0);
/** API processes (API_PROCESSES): 1, the product's default. On these two cores, shared with
 * PostgreSQL, the worker and Temporal, a second process costs more CPU per send than it adds
 * (2.49–2.56 against 2.06 ms in all, session 10): more cores are what more processes are for. */
const API_PROCESSES = arg('api-processes', 1);
/** `--api-rate R`: open loop, R requests/s whatever the answers do (latency from when each was due);
 * without it, closed loop at `--api-concurrency`. */
const API_RATE = arg('api-rate', 0);
/** Figures measured before the performance work (issue #12, this machine, machine's PostgreSQL 15):
 * the bench prints each new figure's ratio to them. */
const BEFORE = { engine100kPerSecond: 3827, engine1mPerSecond: 2929, apiPerSecond: 227, apiP99Ms: 1300, emailsPerSecond: 381 };
/** `--import N`: only the task-file import benchmark, with an N-row file. */
const IMPORT_ROWS = arg('import', 0);
const IMPORT_BASELINE = arg('import-baseline', 20_000);
/** `--export N`: only the message-log benchmark: N seeded messages exported, and GET /messages per filter. */
const EXPORT_ROWS = arg('export', 0);
/** `--smtp N`: only the email campaign of N recipients through the SMTP adapter to a local sink. */
const SMTP_RECIPIENTS = arg('smtp', 0);
/** `--smpp N`: only an N-recipient SMS campaign sent over SMPP to a local SMSC. */
const SMPP_RECIPIENTS = arg('smpp', 0);
const SMPP_WINDOW = arg('smpp-window', 50);
const SMPP_RECEIPT_DELAY_MS = arg('smpp-receipt-delay', 1000);
const SMPP_ANSWER_DELAY_MS = arg('smpp-answer-delay', 10);

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
/** This process's V8 heap limit: with Node's default (a share of the machine's memory) garbage
 * grows far before it is collected; a deployment sets it (docker-compose.yml's worker: 256). */
const heapLimit = () => `V8 heap limit ${mb(v8.getHeapStatistics().heap_size_limit)}${/--max-old-space-size/.test(`${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`) ? '' : ' (Node default; NODE_OPTIONS=--max-old-space-size=256 as deployed)'}`;

interface Figures {
  recipients: number;
  seconds: number;
  perSecond: number;
  firstMessageMs: number;
  historyEvents: number;
  final: Record<string, number>;
}

async function main() {
  if (EXPORT_ROWS > 0) {
    // The export runs against an API process of its own, so its memory is its own: the script does it all.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'bench', 'export.ts'), '--rows', String(EXPORT_ROWS), '--verify'], { stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearInterval(rssTimer);
    process.exitCode = code ?? 1;
    return;
  }
  await installWorkerRuntime('error');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'notif-bench-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  let baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const pg = await startEmbeddedPostgres(path.join(tmp, 'postgres'));
    cleanups.push(() => pg.stop());
    baseUrl = pg.url;
  }
  const dbName = `notif_bench_${Date.now()}`;
  const databaseUrl = await createDatabase(baseUrl, dbName);
  if (!KEEP) cleanups.push(() => dropDatabase(baseUrl!, dbName));
  await migrate(databaseUrl);
  process.env.BENCH_DATABASE_URL = databaseUrl;
  if (process.env.BENCH_SQL) {
    const p = createPool(databaseUrl, 1);
    await p.query(process.env.BENCH_SQL);
    await p.end();
  }
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    // Same persistence as `npm start`: SQLite file with WAL and synchronous=OFF.
    const temporal = await startTemporalDevServer({ dbFilename: path.join(tmp, 'temporal.sqlite') });
    cleanups.push(() => temporal.teardown());
    temporalAddress = temporal.address;
  }
  const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, SANDBOX_LATENCY_MS: '1', LOG_LEVEL: 'error' });
  const logger = pino({ level: 'error' });
  const pool = createPool(databaseUrl, 20);
  /** Closes the pool, stops what the run started and removes its files. */
  const finish = async () => {
    await pool.end();
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    clearInterval(rssTimer);
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  if (IMPORT_ROWS > 0) {
    const figures = await benchImport({ databaseUrl, temporalAddress, tmp, rows: IMPORT_ROWS });
    const naive = await benchNaiveImport(pool, tmp, IMPORT_BASELINE);
    process.stdout.write(
      `\nimport of a ${IMPORT_ROWS}-row task file (${mb(figures.fileBytes)}) through POST /api/v1/tasks: ${figures.seconds.toFixed(1)} s until the task is created ` +
        `(${figures.total} rows stored, ${figures.rejected} rejected), ${figures.rowsPerSecond.toFixed(0)} rows/s, API process peak RSS ${mb(figures.peakRss)}\n` +
        `naive import (whole workbook in memory, one INSERT per row) of ${naive.rows} rows: ${naive.rowsPerSecond.toFixed(0)} rows/s, heap +${mb(naive.heapGrowth)} ` +
        `(${((naive.heapGrowth / naive.rows) * IMPORT_ROWS / 1024 / 1024 / 1024).toFixed(1)} GB at ${IMPORT_ROWS} rows) → import / naive: ${(figures.rowsPerSecond / naive.rowsPerSecond).toFixed(1)}×\n` +
        `targets (DESIGN.md): 1,000,000 rows in ≤ 60 s under 512 MB\n`,
    );
    await finish();
    return;
  }
  if (API_ONLY > 0) {
    const f = await benchApi({ databaseUrl, temporalAddress, requests: API_ONLY, concurrency: API_CONCURRENCY, processes: API_PROCESSES, rate: API_RATE });
    process.stdout.write(`\n${apiLine(f)}\nmachine: ${os.cpus().length} cores\n`);
    await finish();
    return;
  }
  if (SMTP_RECIPIENTS > 0) {
    const connection = await connectWorker(config);
    const client = await connectTemporalClient(config);
    const statements = await statementProfile(pool);
    let cpuBefore = cpuSnapshot();
    const onStart = async () => {
      await statements.reset();
      cpuBefore = cpuSnapshot();
    };
    const f = await benchSmtpCampaign({ config, pool, connection, client, logger, recipients: SMTP_RECIPIENTS, onProgress: (line) => process.stdout.write(line), onStart });
    const cpuAfter = cpuSnapshot();
    process.stdout.write(
      `\nemail campaign through SMTP: ${f.recipients} emails, ${f.emailsPerSecond.toFixed(0)} emails/s (${(f.emailsPerSecond / BEFORE.emailsPerSecond).toFixed(1)}× the ${BEFORE.emailsPerSecond} before, target 10,000; ${f.seconds.toFixed(1)} s until every row was SENT, first after ${f.firstMessageMs} ms); ` +
        `the sink took ${f.received} messages (${f.megabytes.toFixed(1)} MB) over ${f.connections} connections; statuses ${JSON.stringify(f.statuses)}; SMTP settings ${JSON.stringify(f.settings)}\n` +
        `peak RSS (worker process; sink, Postgres and Temporal excluded): ${mb(peakRss)}, ${heapLimit()}; machine: ${os.cpus().length} cores\n` +
        `  ${cpuPerThousand(cpuBefore, cpuAfter, f.recipients, 'the worker and the bench (this process)', f.seconds)}` +
        (await statements.report(f.recipients, { unit: 'emails', top: 8 })),
    );
    await connection.close();
    await client.connection.close();
    await finish();
    return;
  }
  if (SMPP_RECIPIENTS > 0) {
    const f = await benchSmppCampaign({ config, pool, logger, recipients: SMPP_RECIPIENTS, windowSize: SMPP_WINDOW, receiptDelayMs: SMPP_RECEIPT_DELAY_MS, answerDelayMs: SMPP_ANSWER_DELAY_MS });
    process.stdout.write(
      `\nSMS campaign through SMPP: ${f.recipients} messages, ${f.perSecond.toFixed(0)} msg/s to final status (${f.seconds.toFixed(1)} s; ` +
        `${f.submits} submit_sm, ${f.receipts} deliver_sm receipts, window ${f.windowSize}, at most ${f.maxOutstanding} outstanding; the SMSC answers in ${f.answerDelayMs} ms, receipts ${f.receiptDelayMs} ms later): ${JSON.stringify(f.final)}\n` +
        `machine: ${os.cpus().length} cores, ${mb(os.totalmem())}\n`,
    );
    await finish();
    return;
  }
  const connection = await connectWorker(config);
  const client = await connectTemporalClient(config);
  const workers = await startWorkers({ config, pool, connection, logger });

  async function measure(label: string, recipients: number, start: (taskId: string) => Promise<string>): Promise<Figures> {
    const seedStart = Date.now();
    const { taskId } = await seedSmsCampaign(pool, { recipients, name: label });
    process.stdout.write(`${label}: seeded ${recipients} recipients in ${((Date.now() - seedStart) / 1000).toFixed(1)} s; running…\n`);
    const deliveredBefore = (await readEngineMetrics()).delivered;
    const t0 = Date.now();
    const workflowId = await start(taskId);
    let lastLog = 0;
    for (;;) {
      const { rows } = await pool.query('select status from tasks where id = $1', [taskId]);
      if (rows[0].status === 'completed') break;
      if (Date.now() - lastLog > 5000) {
        // From the engine's counter (this process runs the worker): counting the task's rows every
        // 5 s cost a tenth of the database's time at a million rows.
        lastLog = Date.now();
        const { delivered } = await readEngineMetrics();
        process.stdout.write(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${delivered - deliveredBefore} delivered\n`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (Date.now() - t0) / 1000;
    const first = await pool.query('select min(sent_at) as first from messages where task_id = $1', [taskId]);
    const counts = await pool.query('select status, count(*)::int as n from messages where task_id = $1 group by status', [taskId]);
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return {
      recipients,
      seconds,
      perSecond: recipients / seconds,
      firstMessageMs: new Date(first.rows[0].first).getTime() - t0,
      historyEvents: history.events?.length ?? 0,
      final: Object.fromEntries(counts.rows.map((r) => [r.status, r.n])),
    };
  }

  const statements = await statementProfile(pool);
  const { rows: autovacuum } = await pool.query(`select setting from pg_settings where name = 'autovacuum'`);
  if (autovacuum[0]?.setting !== 'on') {
    process.stdout.write('warning: autovacuum is off on this PostgreSQL: dead row versions pile up and a large campaign slows down as it runs (not how it is deployed)\n');
  }
  const metricsBefore = await readEngineMetrics();
  let cpuBefore = cpuSnapshot();
  const engine = await measure('engine', RECIPIENTS, async (taskId) => {
    await statements.reset();
    cpuBefore = cpuSnapshot();
    return startTaskWorkflow(client, config, { id: taskId, name: 'bench', templateId: null });
  });
  const cpuAfter = cpuSnapshot();
  const engineRss = peakRss;
  const metricsAfter = await readEngineMetrics();
  process.stdout.write(await statements.report(RECIPIENTS));
  const before = RECIPIENTS >= 1_000_000 ? BEFORE.engine1mPerSecond : BEFORE.engine100kPerSecond;
  const engineLine =
    `engine: ${engine.recipients} recipients, ${engine.perSecond.toFixed(0)} msg/s to final status (${(engine.perSecond / before).toFixed(2)}× the ${before} before; target 10,000), ` +
    `${engine.seconds.toFixed(1)} s, first message ${engine.firstMessageMs} ms, ${engine.historyEvents} history events, peak RSS ${mb(engineRss)} (target < 512 MB; ${heapLimit()}): ${JSON.stringify(engine.final)}\n` +
    `  from /metrics: ${metricsAfter.delivered - metricsBefore.delivered} DELIVERED and ${metricsAfter.handedOver - metricsBefore.handedOver} hand-overs counted, ` +
    `receipt latency p50 ≤ ${quantileBetween(metricsBefore.receiptBuckets, metricsAfter.receiptBuckets, 0.5)} s, p99 ≤ ${quantileBetween(metricsBefore.receiptBuckets, metricsAfter.receiptBuckets, 0.99)} s, ` +
    `claim lag p50 ≤ ${quantileBetween(metricsBefore.claimLagBuckets, metricsAfter.claimLagBuckets, 0.5)} s, p99 ≤ ${quantileBetween(metricsBefore.claimLagBuckets, metricsAfter.claimLagBuckets, 0.99)} s (bucket bounds)\n`;
  process.stdout.write(engineLine);
  process.stdout.write(`  ${cpuPerThousand(cpuBefore, cpuAfter, engine.recipients, 'the worker and the bench (this process)', engine.seconds)}`);
  if (ENGINE_ONLY) {
    await workers.shutdown();
    await connection.close();
    await client.connection.close();
    await finish();
    return;
  }
  // Created only now: its workflow bundle and isolate are not the product's, and would count in the
  // engine run's peak RSS.
  const naiveWorker = await Worker.create({
    connection,
    taskQueue: 'bench-naive',
    workflowsPath: require.resolve('./bench/naive-workflow'),
    activities: createNaiveActivities(pool, new SandboxProvider('sms', pool, 1)),
    maxConcurrentActivityTaskExecutions: 200,
  });
  const naiveRun = naiveWorker.run();
  const naive = await measure('naive baseline', BASELINE, async (taskId) => {
    const workflowId = `naive-${taskId}`;
    await client.workflow.start('naiveCampaignWorkflow', { workflowId, taskQueue: 'bench-naive', args: [taskId] });
    return workflowId;
  });

  // POST /api/v1/notifications as deployed: API, worker and load generator in processes of their own.
  await workers.shutdown();
  const apiFigures = await benchApi({ databaseUrl, temporalAddress, requests: API_REQUESTS, concurrency: API_CONCURRENCY, processes: API_PROCESSES, rate: API_RATE });
  const naiveStarts = await measureWorkflowStarts(client, config, Math.min(API_REQUESTS, 2000));

  const line = (label: string, f: Figures) =>
    `${label.padEnd(16)} ${String(f.recipients).padStart(9)} ${f.seconds.toFixed(1).padStart(9)} ${f.perSecond.toFixed(0).padStart(10)} ${String(f.firstMessageMs).padStart(10)} ${String(f.historyEvents).padStart(9)}   ${JSON.stringify(f.final)}`;
  process.stdout.write('\n');
  process.stdout.write(`${'run'.padEnd(16)} ${'messages'.padStart(9)} ${'seconds'.padStart(9)} ${'msg/s'.padStart(10)} ${'first ms'.padStart(10)} ${'events'.padStart(9)}   final statuses\n`);
  process.stdout.write(`${line('engine', engine)}\n${line('naive baseline', naive)}\n`);
  process.stdout.write(engineLine);
  process.stdout.write(`engine / naive throughput: ${(engine.perSecond / naive.perSecond).toFixed(1)}×; history events per 1,000 messages: engine ${((engine.historyEvents / engine.recipients) * 1000).toFixed(2)}, naive ${((naive.historyEvents / naive.recipients) * 1000).toFixed(0)}\n`);
  process.stdout.write(`${apiLine(apiFigures)}\n`);
  process.stdout.write(
    `naive per-request workflow start (the cost a start per send would add): ${naiveStarts.toFixed(0)} starts/s at the same concurrency → API / naive: ${(apiFigures.perSecond / naiveStarts).toFixed(1)}×\n`,
  );
  process.stdout.write(`peak RSS (API-less worker process, Postgres and Temporal excluded): ${mb(engineRss)} during the engine run, ${mb(peakRss)} overall\n`);
  process.stdout.write(`machine: ${os.cpus().length} cores, ${mb(os.totalmem())}; ${KEEP ? `database kept: ${dbName}` : ''}\n`);

  naiveWorker.shutdown();
  await naiveRun;
  await connection.close();
  await client.connection.close();
  await finish();
}

/** The API benchmark's line, with the ratio to the issue's figure (#12: 205–227 req/s, p99 1.3–1.6 s). */
function apiLine(f: ApiFigures): string {
  return (
    `POST /api/v1/notifications (1 recipient; API in ${f.processes} process(es), worker and load generator in processes of their own; ${f.rate > 0 ? `open loop: ${f.rate} req/s offered over at most ${f.concurrency} connections, latency from when each request was due` : `closed loop: concurrency ${f.concurrency}`}): ` +
    `${f.requests} requests, ${f.perSecond.toFixed(0)} req/s (${(f.perSecond / BEFORE.apiPerSecond).toFixed(1)}× the ${BEFORE.apiPerSecond} before), p50 ${f.p50.toFixed(1)} ms, p90 ${f.p90.toFixed(1)} ms, p99 ${f.p99.toFixed(1)} ms, max ${f.max.toFixed(0)} ms; ` +
    `answers ${JSON.stringify(f.statuses)}; every send final ${f.finalSeconds.toFixed(1)} s after the first request: ${JSON.stringify(f.final)} (warm-up included)\n` +
    `  peak RSS: API ${mb(f.apiPeakRss)} per process (${mb(f.apiTotalPeakRss)} all), worker ${mb(f.workerPeakRss)} (heap limits ${DEPLOYED_HEAP_MB.api} and ${DEPLOYED_HEAP_MB.worker} MB, as deployed); CPU during the load: API ${f.apiCpuSeconds.toFixed(1)} s, worker ${f.workerCpuSeconds.toFixed(1)} s\n` +
    `  ${sendCpu(f)}\n` +
    `  ${f.statements}` +
    `  targets (DESIGN.md): ≥ 1,000 req/s, p99 ≤ 100 ms, API < 256 MB`
  );
}

/** Where the machine's CPU went per send: 1,000 req/s on two cores leaves at most 2 ms for all of it. */
function sendCpu(f: ApiFigures): string {
  const per = (seconds: number) => `${((seconds / f.requests) * 1000).toFixed(2)} ms`;
  const rest = f.machineCpuSeconds - f.apiCpuSeconds - f.workerCpuSeconds - f.temporalCpuSeconds - f.loadCpuSeconds;
  return (
    `CPU per send: ${per(f.machineCpuSeconds)} in all, of which API ${per(f.apiCpuSeconds)}, worker ${per(f.workerCpuSeconds)}, ` +
    `Temporal ${per(f.temporalCpuSeconds)}, load generator ${per(f.loadCpuSeconds)}, the rest (PostgreSQL, and anything else running) ${per(rest)}`
  );
}

/** Workflow starts per second at the API's concurrency: the floor a start-per-request API pays. */
async function measureWorkflowStarts(client: Awaited<ReturnType<typeof connectTemporalClient>>, config: ReturnType<typeof loadConfig>, count: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: API_CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        // A workflow type no worker polls for: only the start itself is measured.
        await client.workflow.start('naiveStartProbe', { workflowId: `naive-start-${Date.now()}-${i}`, taskQueue: `${config.orchestratorTaskQueue}-probe`, args: [] });
      }
    }),
  );
  return count / ((performance.now() - t0) / 1000);
}

// Exits when done: a client or child-process handle left open must not keep the benchmark alive.
main().then(
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
