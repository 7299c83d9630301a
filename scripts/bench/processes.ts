import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../worker/ports';
import { startTemporalDevServer } from '../services/temporal-server';

/** The repository's root: benchmarks run the product's own entry points from it. */
export const ROOT = path.resolve(__dirname, '..', '..');

export interface BenchProcess {
  child: ChildProcess;
  /** Stops it (SIGTERM) and waits until it exited. */
  stop(): Promise<void>;
}

/** The V8 heap limits (MB) the processes are deployed with: docker-compose.yml's commands. */
export const DEPLOYED_HEAP_MB = { api: 192, worker: 256 } as const;

/** Runs one of the product's entry points (e.g. `api/main.ts`) as a process of its own, the way it
 * is deployed — with `heapMb`, the heap limit it is deployed with (an API primary's forks inherit
 * it) — with `env` added to this process's environment. Its output is passed through.
 * With BENCH_PROFILE_DIR set, it writes a CPU profile there when it exits (open it in Chrome's
 * DevTools, or summarise it with `scripts/bench/profile-top.ts`). */
export function startNodeProcess(script: string, env: Record<string, string>, args: string[] = [], heapMb?: number): BenchProcess {
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE_DIR)}`] : [];
  const heap = heapMb ? [`--max-old-space-size=${heapMb}`] : [];
  const child = spawn(process.execPath, [...profile, ...heap, '--import', 'tsx', path.join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** An API process of its own (`api/main.ts`) on a free port, answering `/health` when this resolves.
 * Without TEMPORAL_ADDRESS (in `env` or this process's environment) it is given a Temporal dev
 * server of its own, which `stop()` stops after it. */
export async function startApiProcess(env: Record<string, string>, heapMb?: number): Promise<BenchProcess & { port: number }> {
  let temporal: Awaited<ReturnType<typeof startTemporalDevServer>> | undefined;
  const temporalAddress = env.TEMPORAL_ADDRESS ?? process.env.TEMPORAL_ADDRESS ?? (temporal = await startTemporalDevServer()).address;
  const port = await freePort();
  const api = startNodeProcess('api/main.ts', { LOG_LEVEL: 'warn', ...env, TEMPORAL_ADDRESS: temporalAddress, PORT: String(port) }, [], heapMb);
  const stop = async () => {
    await api.stop();
    await temporal?.teardown();
  };
  try {
    await waitForHealth(port, api.child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { child: api.child, stop, port };
}

/** Waits until `/health` answers 200 (60 s at most), failing at once if the process exits. */
export async function waitForHealth(port: number, child?: ChildProcess): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`the process exited (${child.exitCode}) before it was healthy`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the API did not become healthy in 60 s');
}

/** Resident memory now and its high-water mark, from /proc (Linux). */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** A process and its children (e.g. the API's cluster workers), by pid. */
export function processTree(pid: number): number[] {
  const children = (() => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  })();
  return [pid, ...children.flatMap(processTree)];
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSecondsOf(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds spent so far: the whole machine (busy, from /proc/stat), this process, and the
 * Temporal server's processes. On a shared two-core machine throughput swings by a third from run
 * to run; CPU per message swings far less, and says which part of the stack spends it. */
export interface CpuSnapshot {
  machine: number;
  self: number;
  temporal: number;
}

export function cpuSnapshot(): CpuSnapshot {
  const ticks = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: busy is everything but idle and iowait.
  const busy = ticks.slice(0, 8).reduce((sum, t, i) => (i === 3 || i === 4 ? sum : sum + t), 0);
  let temporal = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'temporal') temporal += cpuSecondsOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return { machine: busy / 100, self: cpuSecondsOf(process.pid), temporal };
}

/** "CPU per 1,000 messages: …" between two snapshots. */
export function cpuPerThousand(before: CpuSnapshot, after: CpuSnapshot, messages: number, selfLabel: string, seconds: number): string {
  const per = (s: number) => ((s / messages) * 1000).toFixed(2);
  const machine = after.machine - before.machine;
  const self = after.self - before.self;
  const temporal = after.temporal - before.temporal;
  return (
    `CPU per 1,000 messages: ${per(machine)} s in all (${(machine / seconds).toFixed(2)} cores busy on average), of which ` +
    `${selfLabel} ${per(self)} s, Temporal ${per(temporal)} s, the rest (PostgreSQL, and anything else running) ${per(machine - self - temporal)} s\n`
  );
}
