/**
 * The load generator of the API benchmark, run as a process of its own so that it never shares the
 * API's event loop: `--url --key --template --requests --concurrency --offset [--rate]`. Sends
 * `POST /api/v1/notifications` (one recipient each, distinct numbers) over keep-alive connections
 * and prints one JSON line: requests, answers by status, requests/s, p50/p90/p99/max in ms.
 *
 * Without `--rate` (closed loop), `concurrency` requests are in flight at all times: the API's
 * capacity, with latency = concurrency / throughput. With `--rate R` (open loop), request i is due
 * at i/R seconds whatever the answers do, over at most `concurrency` connections, and its latency
 * counts from when it was due: what a stream of CRM calls at R a second would see, queueing included.
 */
import fs from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) throw new Error(`--${name} is required`);
  return process.argv[i + 1]!;
}

async function main() {
  const url = new URL(arg('url'));
  const key = arg('key');
  const templateId = arg('template');
  const requests = Number(arg('requests'));
  const concurrency = Number(arg('concurrency'));
  const offset = Number(arg('offset'));
  const rate = process.argv.includes('--rate') ? Number(arg('rate')) : 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const post = (body: string, started = performance.now()) =>
    new Promise<{ status: number; ms: number }>((resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: '/api/v1/notifications', method: 'POST', agent, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const bodyOf = (i: number) => JSON.stringify({ templateId, recipients: [{ phone: `+7999${String(offset + i).padStart(6, '0')}0`, variables: { name: 'A' } }] });
  // BENCH_LATENCY_TRACE=file: each request's answer time and latency (ms since the start), to see when stalls happen.
  const traceFile = process.env.BENCH_LATENCY_TRACE;
  const trace: string[] = [];
  const record = (res: { status: number; ms: number }) => {
    if (traceFile) trace.push(`${(performance.now() - t0).toFixed(0)},${res.ms.toFixed(1)}`);
    latencies.push(res.ms);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  };
  if (rate > 0) {
    const dueAt = (i: number) => t0 + (i * 1000) / rate;
    const sent: Promise<void>[] = [];
    while (next < requests) {
      const wait = dueAt(next) - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      // Everything due by now goes out, each timed from when it was due.
      for (const now = performance.now(); next < requests && dueAt(next) <= now; next++) sent.push(post(bodyOf(next), dueAt(next)).then(record));
    }
    await Promise.all(sent);
  } else {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests) record(await post(bodyOf(next++)));
      }),
    );
  }
  const seconds = (performance.now() - t0) / 1000;
  if (traceFile) fs.writeFileSync(traceFile, `${trace.join('\n')}\n`);
  const cpu = process.cpuUsage(cpu0);
  // Its own CPU, so the bench can say what the rest of the machine spent per send.
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  agent.destroy();
  process.stdout.write(`${JSON.stringify({ requests, statuses, seconds, perSecond: requests / seconds, p50: at(50), p90: at(90), p99: at(99), max: latencies[latencies.length - 1] ?? 0, cpuSeconds })}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
