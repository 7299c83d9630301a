// The API process on its own (docker-compose `api` service): needs DATABASE_URL and TEMPORAL_ADDRESS.
import pino from 'pino';
import { loadConfig } from '../core/config';
import { startFailure } from '../core/config-error';
import { migrate } from '../db/orm';
import { startApi } from './server';

async function main() {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  if (!config.databaseUrl || !config.temporal.address) throw new Error('DATABASE_URL and TEMPORAL_ADDRESS are required (npm start runs everything embedded)');
  await migrate(config.databaseUrl);
  const api = await startApi(config, logger);
  logger.info({ url: api.url }, 'API listening');
  const stop = async () => {
    await api.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  console.error(startFailure(error));
  process.exit(1);
});
