/**
 * `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx scripts/bench/message-log-plans.ts [--rows 10000000] [--keep] [--reuse] [--out plans.md]`
 *
 * Builds a throw-away database `message_log_plans` next to DATABASE_URL's, fills it with a
 * production-shaped message log (scripts/bench/seed-message-log.ts), and prints EXPLAIN (ANALYZE,
 * BUFFERS) of the message log's own queries (db/message-log.ts) for each filter alone and for
 * combinations, on the first page and on a page 10,000 rows in, plus `withTotal` counts. Markdown
 * goes to `--out` (default: stdout). The database is dropped at the end unless `--keep`; `--reuse`
 * runs the plans on a database kept before.
 */
import fs from 'node:fs';
import { Client } from 'pg';
import { migrate } from '../../db/orm';
import { MESSAGE_LOG_PLANNER_SETTINGS, messageLogCountQuery, messageLogPageQuery, type LogPosition, type MessageLogFilter } from '../../db/message-log';
import { createDatabase, dropDatabase } from '../services/postgres';
import { seedMessageLog } from './seed-message-log';

const argValue = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const ROWS = Number(argValue('rows') ?? 10_000_000);
const KEEP = process.argv.includes('--keep');
const REUSE = process.argv.includes('--reuse');
const OUT = argValue('out');
const DATABASE = 'message_log_plans';
const PAGE = 50;
const LATER_PAGE_AFTER = 10_000;

const say = (line: string) => process.stderr.write(`${line}\n`);

async function main() {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) throw new Error('DATABASE_URL is required (the server to build the throw-away database on)');
  const url = new URL(baseUrl);
  url.pathname = `/${DATABASE}`;
  const databaseUrl = REUSE ? url.toString() : await createDatabase(baseUrl, DATABASE);
  const db = new Client({ connectionString: databaseUrl });
  const out: string[] = [];
  try {
    if (!REUSE) {
      await migrate(databaseUrl);
      await db.connect();
      say(`seeding ${ROWS.toLocaleString('en')} messages into ${DATABASE}…`);
      const started = Date.now();
      const { indexBuilds } = await seedMessageLog(db, { rows: ROWS, onProgress: say });
      out.push(`Seeded ${ROWS.toLocaleString('en')} rows in ${((Date.now() - started) / 1000).toFixed(0)} s. Index builds on the full table:`, '');
      out.push('| index | build | size |', '|---|---|---|');
      for (const i of indexBuilds) out.push(`| ${i.name} | ${i.seconds.toFixed(1)} s | ${i.size} |`);
      out.push('');
    } else {
      await db.connect();
    }
    out.push(...(await describeData(db)), '');
    for (const c of await cases(db)) out.push(...(await explainCase(db, c)));
    for (const c of await countCases(db)) out.push(...(await explainCount(db, c)));
  } finally {
    await db.end();
    if (!KEEP && !REUSE) await dropDatabase(baseUrl, DATABASE);
    else if (!KEEP) say(`(kept ${DATABASE}: it was reused; drop it with: drop database ${DATABASE})`);
  }
  const text = out.join('\n');
  if (OUT) fs.writeFileSync(OUT, `${text}\n`);
  else process.stdout.write(`${text}\n`);
}

async function describeData(db: Client): Promise<string[]> {
  const { rows } = await db.query(
    `select count(*) as rows, pg_size_pretty(pg_table_size('messages') + pg_table_size('message_search')) as table_size,
       pg_size_pretty(pg_indexes_size('messages') + pg_indexes_size('message_search')) as indexes_size,
       min(registered_at) as first, max(registered_at) as last,
       (select setting from pg_settings where name = 'shared_buffers') as shared_buffers_8k,
       (select setting from pg_settings where name = 'work_mem') as work_mem_kb, version()
     from message_search`,
  );
  const r = rows[0];
  return [
    `Data: ${Number(r.rows).toLocaleString('en')} rows registered ${r.first.toISOString()} … ${r.last.toISOString()}; tables (messages and message_search) ${r.table_size}, indexes ${r.indexes_size}.`,
    `Server: ${String(r.version).split(',')[0]}, shared_buffers ${Math.round((Number(r.shared_buffers_8k) * 8) / 1024)} MB, work_mem ${Math.round(Number(r.work_mem_kb) / 1024)} MB (defaults).`,
  ];
}

interface Case {
  title: string;
  filter: MessageLogFilter;
}

/** Filter values taken from the data, so each case matches what a user would look for. */
async function cases(db: Client): Promise<Case[]> {
  const sample = async (sql: string) => (await db.query(sql)).rows[0];
  const { last } = await sample('select max(registered_at) as last from message_search');
  // Rows from a while back, so that a filter on them has newer rows to skip.
  const older = `registered_at < '${new Date(last.getTime() - 20 * 86_400_000).toISOString()}' order by registered_at desc limit 1`;
  const phone: string = (await sample(`select recipient from message_search where channel = 'sms' and ${older}`)).recipient;
  const campaign: string = (await sample(`select task_id from message_search where task_id in (select id from tasks where type = 'sms') and ${older}`)).task_id;
  const bigTask: string = (await sample(`select overlay(overlay(md5('task' || 999999) placing '4' from 13) placing '8' from 17)::uuid as id`)).id;
  const apiTask: string = (await sample(`select task_id from message_search where task_id in (select id from tasks where type = 'api') and ${older}`)).task_id;
  const daysAgo = (n: number) => new Date(last.getTime() - n * 86_400_000);
  const dayStart = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = { from: dayStart(daysAgo(45)), to: dayStart(daysAgo(44)) };
  const month = { from: dayStart(daysAgo(30)), to: dayStart(last) };
  return [
    { title: 'no filter', filter: {} },
    { title: 'search: 7 digits of a phone number', filter: { search: phone.slice(-7) } },
    { title: 'search: a whole phone number', filter: { search: phone } },
    { title: 'search: 3 digits (in 0.7 % of the rows)', filter: { search: '779' } },
    { title: 'search: an e-mail domain (many matches)', filter: { search: 'mail.ru' } },
    { title: 'search: a channel name ("chat": its messages, or recipients containing it)', filter: { search: 'chat' } },
    { title: 'period: one day, 45 days ago', filter: day },
    { title: 'channel: chat (2 %)', filter: { channel: 'chat' } },
    { title: 'channel: sms (60 %)', filter: { channel: 'sms' } },
    { title: 'status: PAUSED (0.5 %)', filter: { status: 'PAUSED' } },
    { title: 'status: DELIVERED (65 %)', filter: { status: 'DELIVERED' } },
    { title: 'optional: true (20 %)', filter: { optional: true } },
    { title: 'taskId: a campaign (20,000 rows)', filter: { taskId: campaign } },
    { title: 'taskId: an API send (10 rows)', filter: { taskId: apiTask } },
    { title: 'taskId: the large campaign (8 % of all rows, 60 % of the table newer than it)', filter: { taskId: bigTask } },
    { title: 'channel sms + status UNDELIVERED + one day', filter: { channel: 'sms', status: 'UNDELIVERED', ...day } },
    { title: 'campaign + status DELIVERED', filter: { taskId: campaign, status: 'DELIVERED' } },
    { title: 'large campaign + status UNDELIVERED (8 %)', filter: { taskId: bigTask, status: 'UNDELIVERED' } },
    { title: 'large campaign + status PAUSED (0.5 %)', filter: { taskId: bigTask, status: 'PAUSED' } },
    { title: 'large campaign + channel chat + optional', filter: { taskId: bigTask, channel: 'chat', optional: true } },
    { title: 'search 7 digits + last 30 days', filter: { search: phone.slice(-7), ...month } },
    { title: 'channel email + optional + status ERROR', filter: { channel: 'email', optional: true, status: 'ERROR' } },
    { title: 'status PAUSED + channel chat + one day (a handful of rows)', filter: { status: 'PAUSED', channel: 'chat', ...day } },
    { title: 'search e-mail domain + channel email + last 30 days', filter: { search: 'gmail', channel: 'email', ...month } },
  ];
}

async function countCases(db: Client): Promise<Case[]> {
  const { rows } = await db.query('select max(registered_at) as last from message_search');
  const last: Date = rows[0].last;
  const from = new Date(last.getTime() - 86_400_000);
  return [
    { title: 'withTotal, no filter', filter: {} },
    { title: 'withTotal, channel sms', filter: { channel: 'sms' } },
    { title: 'withTotal, last 24 hours', filter: { from } },
    { title: 'withTotal, status PAUSED', filter: { status: 'PAUSED' } },
  ];
}

const sqlOf = (q: { text: string; values: unknown[] }) => q.text.replace(/\s+/g, ' ').trim();
const paramsOf = (q: { values: unknown[] }) => JSON.stringify(q.values);

/** EXPLAIN (ANALYZE, BUFFERS) as the API runs the query: pages in a transaction with the log's
 * planner settings, counts (`withTotal`) on their own. */
async function explain(db: Client, query: { text: string; values: unknown[] }, options = { inLogTransaction: true }): Promise<{ plan: string; ms: number }> {
  await db.query(options.inLogTransaction ? `begin read only; ${MESSAGE_LOG_PLANNER_SETTINGS}` : 'begin read only');
  let rows: Record<string, string>[];
  try {
    await db.query(query); // warm: the figure is the steady state, not the first read from disk
    rows = (await db.query({ text: `explain (analyze, buffers) ${query.text}`, values: query.values })).rows;
  } finally {
    await db.query('commit');
  }
  const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
  const ms = Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN);
  return { plan, ms };
}

async function explainCase(db: Client, c: Case): Promise<string[]> {
  say(`explain: ${c.title}`);
  const first = messageLogPageQuery(c.filter, PAGE);
  const firstPlan = await explain(db, first);
  // A page deep in the list: the position after the first 10,000 matching rows.
  const deep = await db.query(messageLogPageQuery(c.filter, LATER_PAGE_AFTER - 1));
  const lastRow = deep.rows[LATER_PAGE_AFTER - 1];
  const lines = [`### ${c.title}`, '', `Filter \`${JSON.stringify(c.filter)}\` — first page: **${firstPlan.ms.toFixed(2)} ms**`];
  let laterPlan: { plan: string; ms: number } | undefined;
  if (lastRow) {
    const after: LogPosition = { registeredAt: lastRow.position_at, id: lastRow.id };
    laterPlan = await explain(db, messageLogPageQuery(c.filter, PAGE, after));
    lines[2] += `, page after ${LATER_PAGE_AFTER.toLocaleString('en')} rows: **${laterPlan.ms.toFixed(2)} ms**`;
  } else {
    lines[2] += ` (fewer than ${LATER_PAGE_AFTER.toLocaleString('en')} rows match: no later page)`;
  }
  lines.push('', '```', `-- ${sqlOf(first)}`, `-- params ${paramsOf(first)}`, firstPlan.plan, '```');
  if (laterPlan) lines.push('', 'Later page:', '', '```', laterPlan.plan, '```');
  lines.push('');
  return lines;
}

async function explainCount(db: Client, c: Case): Promise<string[]> {
  say(`explain: ${c.title}`);
  const query = messageLogCountQuery(c.filter);
  const { plan, ms } = await explain(db, query, { inLogTransaction: false });
  return [`### ${c.title}`, '', `Filter \`${JSON.stringify(c.filter)}\`: **${ms.toFixed(0)} ms**`, '', '```', plan, '```', ''];
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
