/**
 * `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx scripts/bench/message-log-write-cost.ts [--rows 50000] [--rounds 2]`
 *
 * What the message log's indexes cost the engine's writes: in a throw-away database, inserts N
 * messages with db/messages.ts#insertMessages and moves each through QUEUED, SENT and DELIVERED
 * with applyStatusChanges (every status change is a new row version, so every index gets an entry),
 * once with the log's indexes (Migration20261128100000_message_log's status index on `messages`,
 * the keys' row and indexes in `message_search`) and once without them (no status index, no
 * `message_search` rows), alternating, `--rounds` times each.
 */
import { randomUUID } from 'node:crypto';
import { applyStatusChanges, insertMessages, type NewMessage } from '../../db/messages';
import { migrate } from '../../db/orm';
import { createPool } from '../../db/pool';
import { createDatabase, dropDatabase } from '../services/postgres';

const argValue = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const ROWS = Number(argValue('rows') ?? 50_000);
const ROUNDS = Number(argValue('rounds') ?? 2);
const DATABASE = 'notif_log_write_cost';

async function measure(baseUrl: string, withLogIndexes: boolean): Promise<{ insertMs: number; statusMs: number }> {
  const url = await createDatabase(baseUrl, DATABASE);
  try {
    await migrate(url);
    const pool = createPool(url, 2);
    try {
      if (!withLogIndexes) {
        await pool.query('drop index messages_log_status; drop trigger message_search_after_insert on messages');
      }
      const taskId = randomUUID();
      await pool.query(`insert into tasks (id, name, type, status, workflow_id) values ($1, 'write cost', 'api', 'in_progress', $2)`, [taskId, `bench-${taskId}`]);
      const rows: NewMessage[] = Array.from({ length: ROWS }, (_, i) => ({
        id: randomUUID(), taskId, groupId: randomUUID(), sendId: `${taskId}:${i}`, seq: i, channel: 'sms', channelIndex: 0, optional: false,
        status: 'CREATED', statusDescription: null, sender: 'ACME', recipient: `+7999${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
        externalId: null, text: 'Hi, your order is ready', payload: null, variables: null, templateId: null, templateName: null, parts: 1,
        cost: 0.05, lifetimeSeconds: 60, shortLink: null, links: [],
      }));
      let started = performance.now();
      await insertMessages(pool, rows, 'bench');
      const insertMs = performance.now() - started;
      started = performance.now();
      for (const status of ['QUEUED', 'SENT', 'DELIVERED'] as const) {
        await applyStatusChanges(pool, rows.map((r) => ({ messageId: r.id, status })), 'bench');
      }
      return { insertMs, statusMs: performance.now() - started };
    } finally {
      await pool.end();
    }
  } finally {
    await dropDatabase(baseUrl, DATABASE);
  }
}

async function main() {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) throw new Error('DATABASE_URL is required (the server to build the throw-away database on)');
  for (let round = 1; round <= ROUNDS; round++) {
    for (const withLogIndexes of [false, true]) {
      const r = await measure(baseUrl, withLogIndexes);
      process.stdout.write(
        `${withLogIndexes ? 'with the log indexes   ' : 'without the log indexes'}  insert ${ROWS.toLocaleString('en')}: ${(r.insertMs / 1000).toFixed(1)} s;` +
          ` QUEUED → SENT → DELIVERED, each: ${(r.statusMs / 1000).toFixed(1)} s\n`,
      );
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
