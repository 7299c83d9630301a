/**
 * `npm run bench [-- --recipients 1000000 --baseline 2000 --keep]`
 * Runs a sandbox SMS campaign of N recipients end to end through the real workflow, workers and
 * PostgreSQL (near-zero sandbox latency), then a naive baseline (one activity per message) on a
 * smaller N, and prints throughput, time to first message, history events and peak RSS of both.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import pino from 'pino';
import { Worker } from '@temporalio/worker';
import { connectTemporalClient } from '../api/server';
import { startTaskWorkflow } from '../api/services/task-starter';
import { SandboxProvider } from '../activities/channels/sandbox';
import { loadConfig } from '../core/config';
import { migrate } from '../db/orm';
import { createPool } from '../db/pool';
import { connectWorker, installWorkerRuntime, startWorkers } from '../worker/worker';
import { createNaiveActivities } from './bench/naive-activities';
import { seedSmsCampaign } from './bench/seed-campaign';
import { createDatabase, dropDatabase, startEmbeddedPostgres } from './services/postgres';
import { startTemporalDevServer } from './services/temporal-server';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const RECIPIENTS = arg('recipients', 100_000);
const BASELINE = arg('baseline', 2_000);
const KEEP = process.argv.includes('--keep');

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

interface Figures {
  recipients: number;
  seconds: number;
  perSecond: number;
  firstMessageMs: number;
  historyEvents: number;
  final: Record<string, number>;
}

async function main() {
  installWorkerRuntime('error');
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
  const connection = await connectWorker(config);
  const client = await connectTemporalClient(config);
  const workers = await startWorkers({ config, pool, connection, logger });
  const naiveWorker = await Worker.create({
    connection,
    taskQueue: 'bench-naive',
    workflowsPath: require.resolve('./bench/naive-workflow'),
    activities: createNaiveActivities(pool, new SandboxProvider('sms', pool, 1)),
    maxConcurrentActivityTaskExecutions: 200,
  });
  const naiveRun = naiveWorker.run();

  async function measure(label: string, recipients: number, start: (taskId: string) => Promise<string>): Promise<Figures> {
    const seedStart = Date.now();
    const { taskId } = await seedSmsCampaign(pool, { recipients, name: label });
    process.stdout.write(`${label}: seeded ${recipients} recipients in ${((Date.now() - seedStart) / 1000).toFixed(1)} s; running…\n`);
    const t0 = Date.now();
    const workflowId = await start(taskId);
    let lastLog = 0;
    for (;;) {
      const { rows } = await pool.query('select status from tasks where id = $1', [taskId]);
      if (rows[0].status === 'completed') break;
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        const progress = await pool.query(`select count(*) filter (where status in ('DELIVERED', 'READ'))::int as done from messages where task_id = $1`, [taskId]);
        process.stdout.write(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${progress.rows[0].done} delivered\n`);
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

  const engine = await measure('engine', RECIPIENTS, (taskId) => startTaskWorkflow(client, config, { id: taskId, name: 'bench', templateId: null }));
  const engineRss = peakRss;
  const naive = await measure('naive baseline', BASELINE, async (taskId) => {
    const workflowId = `naive-${taskId}`;
    await client.workflow.start('naiveCampaignWorkflow', { workflowId, taskQueue: 'bench-naive', args: [taskId] });
    return workflowId;
  });

  const line = (label: string, f: Figures) =>
    `${label.padEnd(16)} ${String(f.recipients).padStart(9)} ${f.seconds.toFixed(1).padStart(9)} ${f.perSecond.toFixed(0).padStart(10)} ${String(f.firstMessageMs).padStart(10)} ${String(f.historyEvents).padStart(9)}   ${JSON.stringify(f.final)}`;
  process.stdout.write('\n');
  process.stdout.write(`${'run'.padEnd(16)} ${'messages'.padStart(9)} ${'seconds'.padStart(9)} ${'msg/s'.padStart(10)} ${'first ms'.padStart(10)} ${'events'.padStart(9)}   final statuses\n`);
  process.stdout.write(`${line('engine', engine)}\n${line('naive baseline', naive)}\n`);
  process.stdout.write(`engine / naive throughput: ${(engine.perSecond / naive.perSecond).toFixed(1)}×; history events per 1,000 messages: engine ${((engine.historyEvents / engine.recipients) * 1000).toFixed(2)}, naive ${((naive.historyEvents / naive.recipients) * 1000).toFixed(0)}\n`);
  process.stdout.write(`peak RSS (API-less worker process, Postgres and Temporal excluded): ${mb(engineRss)} during the engine run, ${mb(peakRss)} overall\n`);
  process.stdout.write(`machine: ${os.cpus().length} cores, ${mb(os.totalmem())}; ${KEEP ? `database kept: ${dbName}` : ''}\n`);

  await workers.shutdown();
  naiveWorker.shutdown();
  await naiveRun;
  await connection.close();
  await client.connection.close();
  await pool.end();
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  clearInterval(rssTimer);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
