// The worker process on its own (docker-compose `worker` service, scalable): needs DATABASE_URL and TEMPORAL_ADDRESS.
import pino from 'pino';
import { loadConfig } from '../core/config';
import { migrate } from '../db/orm';
import { createPool } from '../db/pool';
import { connectWorker, startWorkers } from './worker';

async function main() {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  if (!config.databaseUrl || !config.temporal.address) throw new Error('DATABASE_URL and TEMPORAL_ADDRESS are required (npm start runs everything embedded)');
  await migrate(config.databaseUrl);
  const pool = createPool(config.databaseUrl, 20);
  const connection = await connectWorker(config);
  const workers = await startWorkers({ config, pool, connection, logger });
  const stop = async () => {
    await workers.shutdown();
    await connection.close();
    await pool.end();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await workers.done;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
