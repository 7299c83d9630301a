// The API process on its own (docker-compose `api` service): needs DATABASE_URL and TEMPORAL_ADDRESS.
// With API_PROCESSES=N it forks N processes that share the port (Node's cluster): each request is
// handled by one of them, so the API uses N cores.
import cluster from 'node:cluster';
import pino from 'pino';
import { loadConfig } from '../core/config';
import { startFailure } from '../core/config-error';
import { migrate } from '../db/orm';
import { startApi } from './server';

async function main() {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  if (!config.databaseUrl || !config.temporal.address) throw new Error('DATABASE_URL and TEMPORAL_ADDRESS are required (npm start runs everything embedded)');
  if (cluster.isPrimary) await migrate(config.databaseUrl);
  if (cluster.isPrimary && config.api.processes > 1) {
    await superviseProcesses(config.api.processes, config.api.heapMb, logger);
    return;
  }
  const api = await startApi(config, logger);
  if (cluster.isPrimary) logger.info({ url: api.url }, 'API listening');
  const stop = async () => {
    await api.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Forks the API processes and keeps them running: one that dies is replaced; a stop signal stops
 * them all. With `API_HEAP_MB` each gets that old-space limit: under load V8 lets garbage grow
 * towards its much larger default before collecting it (290 MB per process at 250 requests/s; 205
 * MB with 192, for 15–30 % more CPU per request in collections). Task files are parsed in a worker
 * thread with a limit of its own (api/services/worksheet-rows.ts): a million-row import works at 192. */
async function superviseProcesses(count: number, heapMb: number, logger: pino.Logger): Promise<void> {
  let stopping = false;
  if (heapMb > 0) cluster.setupPrimary({ execArgv: [...process.execArgv, `--max-old-space-size=${heapMb}`] });
  const fork = () => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code, signal }, 'API process exited; starting another');
    setTimeout(fork, 1000);
  });
  for (let i = 0; i < count; i++) fork();
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    if (++listening === count) logger.info({ url: `http://${address.address ?? 'localhost'}:${address.port}`, processes: count }, 'API listening');
  });
  const stop = async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {});
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => (w!.isDead() ? resolve() : (w!.once('exit', () => resolve()), w!.process.kill('SIGTERM'))))));
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  console.error(startFailure(error));
  process.exit(1);
});
