import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../api/app';
import { createApiKey, ensureBootstrapKey } from '../../api/auth';
import type { ApiDeps } from '../../api/deps';
import { webhookSignature } from '../../api/routes/webhooks';
import { connectTemporalClient } from '../../api/server';
import { streamWorkflowId } from '../../workflows/definitions';
import type { ProviderRegistry } from '../../activities/channels/types';
import type { Pool } from 'pg';
import { loadConfig, type AppConfig } from '../../core/config';
import { openOrm } from '../../db/orm';
import { createPool } from '../../db/pool';
import { connectWorker, startWorkers, type RunningWorkers } from '../../worker/worker';
import type { NativeConnection, WorkerInterceptors } from '@temporalio/worker';

export const ADMIN_KEY = 'test-admin-key';

export interface TestStack {
  app: Express;
  deps: ApiDeps;
  config: AppConfig;
  /** supertest with the admin key. */
  admin: () => ReturnType<typeof authed>;
  operatorKey: string;
  /** Stops the workers as Ctrl-C does (graceful shutdown), and starts them again. */
  stopWorkers(): Promise<void>;
  startWorkers(): Promise<void>;
  close(): Promise<void>;
}

function authed(app: Express, key: string) {
  const agent = request(app);
  return {
    get: (url: string) => agent.get(url).set('Authorization', `Bearer ${key}`),
    post: (url: string) => agent.post(url).set('Authorization', `Bearer ${key}`),
    put: (url: string) => agent.put(url).set('Authorization', `Bearer ${key}`),
    patch: (url: string) => agent.patch(url).set('Authorization', `Bearer ${key}`),
    delete: (url: string) => agent.delete(url).set('Authorization', `Bearer ${key}`),
  };
}

/** The API (in process, through supertest) against the test database and dev server; with
 * `worker: true` also the real workers, each test file on task queues of its own. */
export interface StackOptions {
  worker?: boolean;
  env?: Record<string, string>;
  logger?: Logger;
  /** Channel providers of the workers (default: the sandbox on every channel). */
  providers?: (pool: Pool) => ProviderRegistry;
  /** Worker interceptors, to inject faults into activities. */
  interceptors?: WorkerInterceptors;
}

export async function startStack(options: StackOptions = {}): Promise<TestStack> {
  const suffix = randomUUID().slice(0, 8);
  const config = loadConfig({
    ...process.env,
    ADMIN_API_KEY: ADMIN_KEY,
    SANDBOX_LATENCY_MS: '100',
    TEMPORAL_TASK_QUEUE: `orchestrator-${suffix}`,
    LOG_LEVEL: 'error',
    DEFAULT_PHONE_COUNTRY: 'RU',
    ...options.env,
  });
  const logger = options.logger ?? pino({ level: 'error' });
  const pool = createPool(config.databaseUrl, 10);
  const orm = await openOrm(config.databaseUrl);
  const temporal = await connectTemporalClient(config);
  await ensureBootstrapKey(pool, ADMIN_KEY);
  const deps: ApiDeps = { config, pool, orm, temporal, logger };
  const { app } = createApp(deps);
  const operator = await createApiKey(pool, `operator ${suffix}`, 'operator');
  const streamId = streamWorkflowId(config.orchestratorTaskQueue);
  let workers: RunningWorkers | undefined;
  let connection: NativeConnection | undefined;
  const start = async () => {
    connection ??= await connectWorker(config);
    workers = await startWorkers({ config, pool, connection, logger, providers: options.providers?.(pool), interceptors: options.interceptors });
  };
  if (options.worker) await start();
  return {
    app,
    deps,
    config,
    admin: () => authed(app, ADMIN_KEY),
    operatorKey: operator.key,
    async stopWorkers() {
      await workers?.shutdown();
      workers = undefined;
    },
    startWorkers: start,
    async close() {
      await workers?.shutdown();
      await temporal.workflow.getHandle(streamId).terminate('test finished').catch(() => undefined);
      await connection?.close();
      await temporal.connection.close();
      await orm.close(true);
      await pool.end();
    },
  };
}

/** A provider webhook as the provider sends it: the exact body, signed with the webhook secret
 * (or with `signature` when given, e.g. a wrong one). */
export function postWebhook(stack: TestStack, path: string, body: string, signature = webhookSignature(stack.config.webhookSecret, body)) {
  return request(stack.app).post(path).set('Content-Type', 'application/json').set('X-Signature', signature).send(body);
}

export function as(stack: TestStack, key: string) {
  return authed(stack.app, key);
}

/** An approved sender for each channel named (enabling the channel if needed). */
export async function approvedSender(stack: TestStack, channel: string, name = `ACME-${randomUUID().slice(0, 6)}`): Promise<string> {
  await stack.admin().post(`/api/v1/channels/${channel}/enable`).expect(200);
  const created = await stack.admin().post('/api/v1/senders').send({ name, channel }).expect(201);
  await stack.admin().post(`/api/v1/senders/${created.body.id}/approve`).expect(200);
  return name;
}

/** An approved sender on every channel that has senders (email's is an address), chat enabled. */
export async function approvedSendersForAllChannels(stack: TestStack): Promise<Record<'sms' | 'email' | 'push' | 'viber' | 'whatsapp', string>> {
  const senders = {
    sms: await approvedSender(stack, 'sms'),
    email: await approvedSender(stack, 'email', `news-${randomUUID().slice(0, 6)}@acme.test`),
    push: await approvedSender(stack, 'push'),
    viber: await approvedSender(stack, 'viber'),
    whatsapp: await approvedSender(stack, 'whatsapp'),
  };
  await stack.admin().post('/api/v1/channels/chat/enable').expect(200);
  return senders;
}

export async function smsTemplate(stack: TestStack, overrides: Record<string, unknown> = {}): Promise<string> {
  const sender = await approvedSender(stack, 'sms');
  const res = await stack
    .admin()
    .post('/api/v1/templates')
    .send({ name: `Order ready ${randomUUID().slice(0, 6)}`, channels: [{ channel: 'sms', sender, text: 'Hi {name}, order {order} is ready', lifetimeMinutes: 1 }], ...overrides });
  if (res.status !== 201) throw new Error(`template: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

export async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > until) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
    last = await probe();
  }
  return last;
}
