/**
 * `npm run bench -- --smpp 20000`: an SMS campaign of N recipients through the real workflow,
 * workers and PostgreSQL, sent over SMPP to a local SMSC (scripts/bench/smpp-peer.ts) that accepts
 * every submit_sm `answerDelayMs` after it arrives and sends a DELIVRD receipt `receiptDelayMs` later. Measures messages/s until every message has
 * its final status (the task is completed).
 */
import type { Logger } from 'pino';
import type { Pool } from 'pg';
import { loadConfig, type AppConfig } from '../../core/config';
import { startTaskWorkflow } from '../../workflows/client';
import { connectTemporalClient } from '../../api/server';
import { connectWorker, startWorkers } from '../../worker/worker';
import { seedSmsCampaign } from './seed-campaign';
import { SmppPeer } from './smpp-peer';

export interface SmppCampaignFigures {
  recipients: number;
  seconds: number;
  perSecond: number;
  final: Record<string, number>;
  submits: number;
  receipts: number;
  maxOutstanding: number;
  windowSize: number;
  receiptDelayMs: number;
  answerDelayMs: number;
}

export async function benchSmppCampaign(args: {
  config: AppConfig;
  pool: Pool;
  logger: Logger;
  recipients: number;
  windowSize?: number;
  /** How long after its submit_sm_resp the SMSC sends a message's receipt (a handset takes seconds). */
  receiptDelayMs?: number;
  /** How long the SMSC takes to answer a submit_sm (a network round trip): what the window hides. */
  answerDelayMs?: number;
}): Promise<SmppCampaignFigures> {
  const windowSize = args.windowSize ?? 50;
  const receiptDelayMs = args.receiptDelayMs ?? 1000;
  const answerDelayMs = args.answerDelayMs ?? 10;
  const smsc = await SmppPeer.start({ systemId: 'bench', password: 'bench', decide: () => ({ delayMs: answerDelayMs, receiptAfter: 'DELIVRD', receiptDelayMs }), keepPdus: false });
  const providers = [
    {
      name: 'bench-smsc',
      type: 'smpp',
      channels: ['sms'],
      default: true,
      settings: { host: '127.0.0.1', port: smsc.port, systemId: 'bench', password: 'bench', windowSize },
    },
  ];
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: args.config.databaseUrl,
    TEMPORAL_ADDRESS: args.config.temporal.address,
    TEMPORAL_TASK_QUEUE: `bench-smpp-${Date.now()}`,
    LOG_LEVEL: 'error',
    PROVIDERS: JSON.stringify(providers),
  });
  const connection = await connectWorker(config);
  const client = await connectTemporalClient(config);
  const workers = await startWorkers({ config, pool: args.pool, connection, logger: args.logger });
  try {
    const { taskId } = await seedSmsCampaign(args.pool, { recipients: args.recipients, name: 'smpp bench' });
    const t0 = Date.now();
    await startTaskWorkflow(client, config, { id: taskId, name: 'smpp bench', templateId: null });
    let lastLog = 0;
    for (;;) {
      const { rows } = await args.pool.query('select status from tasks where id = $1', [taskId]);
      if (rows[0].status === 'completed') break;
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        process.stdout.write(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${smsc.acceptedCount} submit_sm accepted by the SMSC, ${smsc.receiptsAnswered} receipts acknowledged\n`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (Date.now() - t0) / 1000;
    const counts = await args.pool.query('select status, count(*)::int as n from messages where task_id = $1 group by status', [taskId]);
    return {
      recipients: args.recipients,
      seconds,
      perSecond: args.recipients / seconds,
      final: Object.fromEntries(counts.rows.map((r) => [r.status, r.n])),
      submits: smsc.submitCount,
      receipts: smsc.receiptsAnswered,
      maxOutstanding: smsc.maxOutstanding,
      windowSize,
      receiptDelayMs,
      answerDelayMs,
    };
  } finally {
    await workers.shutdown();
    await connection.close();
    await client.connection.close();
    await smsc.close();
  }
}
