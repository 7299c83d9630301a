import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { temporalConnectionOptions, type AppConfig } from '../core/config';
import { openOrm } from '../db/orm';
import { createPool } from '../db/pool';
import { createApp } from './app';
import { ensureBootstrapKey } from './auth';
import type { ApiDeps } from './deps';

export interface RunningApi {
  url: string;
  deps: ApiDeps;
  close(): Promise<void>;
}

export async function connectTemporalClient(config: AppConfig): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(config));
  return new Client({ connection, namespace: config.temporal.namespace });
}

export async function startApi(config: AppConfig, logger: Logger): Promise<RunningApi> {
  const pool = createPool(config.databaseUrl, 20);
  const orm = await openOrm(config.databaseUrl);
  const temporal = await connectTemporalClient(config);
  await ensureBootstrapKey(pool, config.adminApiKey);
  const deps: ApiDeps = { config, pool, orm, temporal, logger };
  const { app } = createApp(deps);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.api.port, config.api.host, () => resolve(s));
    s.on('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.api.port;
  return {
    url: `http://${config.api.host === '0.0.0.0' ? 'localhost' : config.api.host}:${port}`,
    deps,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await temporal.connection.close();
      await orm.close(true);
      await pool.end();
    },
  };
}
