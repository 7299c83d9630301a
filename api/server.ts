import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import type { AppConfig } from '../core/config';
import { openOrm } from '../db/orm';
import { createPool } from '../db/pool';
import { createApp } from './app';
import { ensureBootstrapKey } from './auth';
import type { ApiDeps } from './deps';
import { startTaskWorkflow } from './services/task-starter';

export interface RunningApi {
  url: string;
  deps: ApiDeps;
  close(): Promise<void>;
}

export async function connectTemporalClient(config: AppConfig): Promise<Client> {
  const connection = await Connection.connect({
    address: config.temporal.address,
    tls: config.temporal.tls ? {} : undefined,
    apiKey: config.temporal.apiKey,
  });
  return new Client({ connection, namespace: config.temporal.namespace });
}

/**
 * Starts the workflows of accepted sends whose start did not go through (Temporal briefly
 * unreachable when the 202 went out): the send is durable in Postgres, so it is never lost.
 */
export function startTaskRecovery(deps: ApiDeps, everyMs = 5000): () => void {
  const timer = setInterval(async () => {
    try {
      const { rows } = await deps.pool.query(
        `select id, name, template_id from tasks where status = 'created' and type = 'api'
           and created_at < now() - interval '10 seconds' order by created_at limit 100`,
      );
      for (const task of rows) {
        await startTaskWorkflow(deps.temporal, deps.config, { id: task.id, name: task.name, templateId: task.template_id });
      }
    } catch (error) {
      deps.logger.warn({ err: error }, 'task recovery pass failed; will retry');
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

export async function startApi(config: AppConfig, logger: Logger): Promise<RunningApi> {
  const pool = createPool(config.databaseUrl, 20);
  const orm = await openOrm(config.databaseUrl);
  const temporal = await connectTemporalClient(config);
  await ensureBootstrapKey(pool, config.adminApiKey);
  const deps: ApiDeps = { config, pool, orm, temporal, logger };
  const { app } = createApp(deps);
  const stopRecovery = startTaskRecovery(deps);
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
      stopRecovery();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await temporal.connection.close();
      await orm.close(true);
      await pool.end();
    },
  };
}
