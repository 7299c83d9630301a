import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createPool } from '../../db/pool';
import { freePort } from '../../worker/ports';
import { statementProfile } from './statement-profile';
import { cpuSecondsOf, cpuSnapshot, DEPLOYED_HEAP_MB, memoryOf, processTree, ROOT, startApiProcess, startNodeProcess } from './processes';

const ADMIN_KEY = 'bench-api-admin-key-0123456789';

export interface ApiFigures {
  requests: number;
  processes: number;
  concurrency: number;
  /** Requests offered a second (open loop), or 0 (closed loop at `concurrency`). */
  rate: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  /** From the first request until every send had its final status. */
  finalSeconds: number;
  final: Record<string, number>;
  /** Peak RSS of the largest API process, of all of them together, and of the worker. */
  apiPeakRss: number;
  apiTotalPeakRss: number;
  workerPeakRss: number;
  /** CPU seconds used during the load by the API processes and by the worker. */
  apiCpuSeconds: number;
  workerCpuSeconds: number;
  /** CPU seconds during the load: the whole machine, the Temporal server, the load generator. */
  machineCpuSeconds: number;
  temporalCpuSeconds: number;
  loadCpuSeconds: number;
  /** pg_stat_statements per 1,000 sends, from the first request until every send was final. */
  statements: string;
}

/**
 * `POST /api/v1/notifications` as deployed: the API in `processes` processes of its own (cluster),
 * the worker in another (sandbox provider, 1 ms receipts), the load generator in a third
 * (scripts/bench/api-load.ts), PostgreSQL and Temporal as given. Every 202 must reach a final status.
 */
export async function benchApi(args: { databaseUrl: string; temporalAddress: string; requests: number; concurrency: number; processes: number; rate: number }): Promise<ApiFigures> {
  const env = { DATABASE_URL: args.databaseUrl, TEMPORAL_ADDRESS: args.temporalAddress, ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' };
  const worker = startNodeProcess('worker/main.ts', { ...env, SANDBOX_LATENCY_MS: '1', WORKER_METRICS_PORT: String(await freePort()) }, [], DEPLOYED_HEAP_MB.worker);
  const api = await startApiProcess({ ...env, API_PROCESSES: String(args.processes) }, DEPLOYED_HEAP_MB.api);
  const pool = createPool(args.databaseUrl, 2);
  try {
    const base = `http://127.0.0.1:${api.port}/api/v1`;
    const post = async (pathname: string, body: unknown) => {
      const res = await fetch(`${base}${pathname}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`${pathname}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string };
    };
    const sender = await post('/senders', { name: 'BENCH', channel: 'sms' });
    await post(`/senders/${sender.id}/approve`, {});
    const template = await post('/templates', { name: 'bench', channels: [{ channel: 'sms', sender: 'BENCH', text: 'Hi {name}', lifetimeMinutes: 10 }] });
    // Warm-up (JIT, connection pools, the worker's stream), not measured.
    await load(api.port, template.id, Math.min(500, args.requests), args.concurrency, 500_000);
    await waitAllFinal(pool, 0);
    const apiPids = () => processTree(api.child.pid!);
    const cpu = () => ({ api: apiPids().reduce((s, pid) => s + cpuSecondsOf(pid), 0), worker: cpuSecondsOf(worker.child.pid!) });
    let apiPeak = 0;
    let apiTotalPeak = 0;
    let workerPeak = 0;
    const sample = () => {
      const rss = apiPids().map((pid) => memoryOf(pid).rss);
      apiPeak = Math.max(apiPeak, ...rss);
      apiTotalPeak = Math.max(apiTotalPeak, rss.reduce((a, b) => a + b, 0));
      workerPeak = Math.max(workerPeak, memoryOf(worker.child.pid!).rss);
    };
    const sampler = setInterval(sample, 100);
    const statements = await statementProfile(pool);
    await statements.reset();
    const before = cpu();
    const machineBefore = cpuSnapshot();
    const t0 = performance.now();
    const { cpuSeconds: loadCpuSeconds, ...result } = await load(api.port, template.id, args.requests, args.concurrency, 0, args.rate);
    const after = cpu();
    const machineAfter = cpuSnapshot();
    const final = await waitAllFinal(pool, t0);
    clearInterval(sampler);
    sample();
    return {
      ...result,
      processes: args.processes,
      concurrency: args.concurrency,
      rate: args.rate,
      ...final,
      apiPeakRss: apiPeak,
      apiTotalPeakRss: apiTotalPeak,
      workerPeakRss: workerPeak,
      apiCpuSeconds: after.api - before.api,
      workerCpuSeconds: after.worker - before.worker,
      machineCpuSeconds: machineAfter.machine - machineBefore.machine,
      temporalCpuSeconds: machineAfter.temporal - machineBefore.temporal,
      loadCpuSeconds,
      statements: await statements.report(args.requests, { unit: 'sends' }),
    };
  } finally {
    await pool.end();
    await api.stop();
    await worker.stop();
  }
}

/** Runs the load generator process and returns what it printed. */
async function load(port: number, templateId: string, requests: number, concurrency: number, offset: number, rate = 0) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'scripts', 'bench', 'api-load.ts'), '--url', `http://127.0.0.1:${port}`, '--key', ADMIN_KEY, '--template', templateId, '--requests', String(requests), '--concurrency', String(concurrency), '--offset', String(offset), ...(rate > 0 ? ['--rate', String(rate)] : [])],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => (output += String(chunk)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the load generator failed (${code})`);
  return JSON.parse(output.trim().split('\n').pop()!) as { requests: number; statuses: Record<string, number>; perSecond: number; p50: number; p90: number; p99: number; max: number; cpuSeconds: number };
}

/** Waits until every API send is completed; the final statuses of their messages. */
async function waitAllFinal(pool: ReturnType<typeof createPool>, t0: number): Promise<{ finalSeconds: number; final: Record<string, number> }> {
  for (;;) {
    const { rows } = await pool.query(`select count(*)::int as open from tasks where type = 'api' and status <> 'completed'`);
    if (rows[0].open === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const finalSeconds = (performance.now() - t0) / 1000;
  const { rows } = await pool.query(`select m.status, count(*)::int as n from messages m join tasks t on t.id = m.task_id where t.type = 'api' group by m.status`);
  return { finalSeconds, final: Object.fromEntries(rows.map((r) => [r.status, r.n])) };
}
