// The worker process on its own (docker-compose `worker` service, scalable): needs DATABASE_URL and TEMPORAL_ADDRESS.
import http from 'node:http';
import pino from 'pino';
import client from 'prom-client';
import { engineMetrics, engineMetricsText } from '../activities/metrics';
import { loadConfig } from '../core/config';
import { startFailure } from '../core/config-error';
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
  const metricsServer = serveMetrics(config.workerMetricsPort);
  const stop = async () => {
    metricsServer?.close();
    await workers.shutdown();
    await connection.close();
    await pool.end();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await workers.done;
}

/** The worker's own /metrics (providers, dispatch): the API's /metrics shows only its own process. */
function serveMetrics(port: number): http.Server | undefined {
  if (!port) return undefined;
  client.collectDefaultMetrics({ register: engineMetrics });
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': engineMetrics.contentType }).end(await engineMetricsText());
  });
  server.listen(port);
  return server;
}

main().catch((error) => {
  console.error(startFailure(error));
  process.exit(1);
});
