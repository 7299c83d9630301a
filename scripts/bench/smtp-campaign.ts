/**
 * `npm run bench -- --smtp 10000`: an email campaign of N recipients through the real engine
 * (task workflow, dispatch activities, PostgreSQL) and the SMTP adapter (a pool of SMTP
 * connections) to a counting SMTP sink running as a process of its own.
 *
 * Done = every row has left the waiting states (CREATED, QUEUED, DELAYED, PAUSED): SENT (the sink
 * answered 250) or final. SENT is not final for email (core/status.ts): a row stays SENT until a
 * bounce or the end of its lifetime, so the task itself completes only then; the campaign's
 * sending is over when the last row is SENT, and that is what is timed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { sqlUuidv7 } from '../../db/ids';
import path from 'node:path';
import type { NativeConnection } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { inTransaction } from '../../db/pool';
import type { Logger } from 'pino';
import type { AppConfig } from '../../core/config';
import { parseProvidersConfig } from '../../core/providers';
import { startTaskWorkflow } from '../../workflows/client';
import { taskWorkflowId } from '../../workflows/definitions';
import { startWorkers } from '../../worker/worker';

export interface SmtpCampaignFigures {
  recipients: number;
  seconds: number;
  emailsPerSecond: number;
  firstMessageMs: number;
  /** Messages and connections the sink saw. */
  received: number;
  connections: number;
  megabytes: number;
  statuses: Record<string, number>;
  settings: Record<string, unknown>;
}

/** Rows generated inside PostgreSQL, as the API would store them: HTML with a short link and the
 * open pixel, the subject in the payload. */
export async function seedEmailCampaign(pool: Pool, options: { recipients: number; sender: string; publicUrl: string; lifetimeSeconds?: number }): Promise<string> {
  const taskId = randomUUID();
  await inTransaction(pool, async (client) => {
    await client.query(
      `insert into tasks (id, name, type, status, template_id, timezone, send_windows, total, workflow_id)
       values ($1, $2, 'email', 'created', null, 'UTC', '[]', $3, $4)`,
      [taskId, `email campaign of ${options.recipients}`, options.recipients, taskWorkflowId(taskId)],
    );
    await client.query(
      `insert into messages (id, task_id, group_id, send_id, seq, channel, channel_index, optional, released, status,
         sender, recipient, text, payload, parts, cost, lifetime_seconds)
       select id, $1::uuid, id, $1::text || ':' || g || ':email', g, 'email', 0, false, true, 'CREATED',
         $2, 'user' || g || '@bench.example',
         '<html><body><p>Hello user ' || g || ',</p><p>Your order ' || g || ' is on its way.</p>'
           || '<p><a href="' || $5 || '/l/' || lpad(g::text, 10, 'A') || '">Track your order</a></p>'
           || '<img src="' || $5 || '/o/' || id || '.gif" width="1" height="1" alt=""></body></html>',
         jsonb_build_object('subject', 'Your order ' || g || ' is on its way'), 1, 0.001, $3
       from (select g, ${sqlUuidv7('g')} as id from generate_series(1, $4::int) g) s`,
      [taskId, options.sender, options.lifetimeSeconds ?? 3600, options.recipients, options.publicUrl],
    );
  });
  return taskId;
}

interface Sink {
  port: number;
  count(): Promise<{ messages: number; connections: number; bytes: number }>;
  stop(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  const child: ChildProcess = fork(path.join(__dirname, 'smtp-sink.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`SMTP sink exited with ${code}`)));
  });
  return {
    port,
    count: () =>
      new Promise((resolve) => {
        child.once('message', (m: { messages: number; connections: number; bytes: number }) => resolve(m));
        child.send('count');
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('stop');
      }),
  };
}

const WAITING = `'CREATED', 'QUEUED', 'DELAYED', 'PAUSED'`;

export async function benchSmtpCampaign(args: {
  config: AppConfig;
  pool: Pool;
  connection: NativeConnection;
  client: Client;
  logger: Logger;
  recipients: number;
  /** The SMTP provider's settings beyond host and port. */
  settings?: Record<string, unknown>;
  onProgress?: (line: string) => void;
  /** Called right before the campaign starts (the bench resets its statement and CPU counters). */
  onStart?: () => Promise<void>;
}): Promise<SmtpCampaignFigures> {
  const sink = await startSink();
  const settings = { maxConnections: 10, maxMessagesPerConnection: 1000, batchSize: 250, ...args.settings };
  const providers = parseProvidersConfig(
    JSON.stringify([{ name: 'bench-smtp', type: 'smtp', channels: ['email'], settings: { host: '127.0.0.1', port: sink.port, messageIdDomain: 'bench.example', ...settings } }]),
    'bench',
  );
  const config: AppConfig = { ...args.config, providers };
  const workers = await startWorkers({ config, pool: args.pool, connection: args.connection, logger: args.logger });
  try {
    const seeded = Date.now();
    const taskId = await seedEmailCampaign(args.pool, { recipients: args.recipients, sender: 'ACME News <news@acme.example>', publicUrl: config.api.publicUrl });
    args.onProgress?.(`email campaign: seeded ${args.recipients} recipients in ${((Date.now() - seeded) / 1000).toFixed(1)} s; running…\n`);
    await args.onStart?.();
    const t0 = Date.now();
    const workflowId = await startTaskWorkflow(args.client, config, { id: taskId, name: 'smtp bench', templateId: null });
    let lastLog = t0;
    const waiting = `from messages where task_id = $1 and status in (${WAITING})`;
    for (;;) {
      // Whether a row still waits (the first one found through the index of live rows answers),
      // not how many: counting the task's rows every 50 ms took a third of a core from the database
      // being measured.
      const { rows } = await args.pool.query<{ waits: boolean }>(`select exists (select 1 ${waiting}) as waits`, [taskId]);
      if (!rows[0]!.waits) break;
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        const { rows: left } = await args.pool.query<{ n: number }>(`select count(*)::int as n ${waiting}`, [taskId]);
        args.onProgress?.(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${args.recipients - left[0]!.n} sent\n`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (Date.now() - t0) / 1000;
    const first = await args.pool.query('select min(sent_at) as first from messages where task_id = $1', [taskId]);
    const counts = await args.pool.query('select status, count(*)::int as n from messages where task_id = $1 group by status', [taskId]);
    const sunk = await sink.count();
    // The task would stay in progress until the rows' lifetime ends (SENT is not final): stop it here.
    await args.client.workflow.getHandle(workflowId).terminate('benchmark done');
    return {
      recipients: args.recipients,
      seconds,
      emailsPerSecond: args.recipients / seconds,
      firstMessageMs: new Date(first.rows[0].first).getTime() - t0,
      received: sunk.messages,
      connections: sunk.connections,
      megabytes: sunk.bytes / 1024 / 1024,
      statuses: Object.fromEntries(counts.rows.map((r) => [r.status, r.n])),
      settings,
    };
  } finally {
    await workers.shutdown();
    await sink.stop();
  }
}
