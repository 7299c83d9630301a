import type { Client } from 'pg';

/**
 * Fills `messages` with a message log shaped like production's, generated inside PostgreSQL
 * (generate_series) in chunks of a million rows:
 * - 80 % campaign rows in blocks of 20,000 per task, each block registered at one instant (a task
 *   file is imported in one transaction, so its rows share `now()`), except one large campaign that
 *   takes the campaign rows of the table's 4th tenth (8 %: 800,000 rows of 10 million); 20 % API
 *   sends, one task per 10 rows, each row at its own instant. Times spread evenly over the `days`
 *   before now.
 * - channels sms 60 %, viber 15 %, whatsapp 10 %, email 8 %, push 5 %, chat 2 %; 20 % optional;
 *   statuses mostly final (DELIVERED 65 %), a few % of each waiting one, PAUSED 0.5 %.
 * - recipients drawn from 2 million customers (phones +79…, e-mail addresses, push tokens, chat ids).
 * Indexes other than the primary key and unique constraints (of `messages` and `message_search`)
 * are dropped for the load and built afterwards (timed); the triggers are off while loading, and
 * `message_search` is filled from `messages` in one statement after it.
 */
export async function seedMessageLog(
  db: Client,
  options: { rows: number; days?: number; onProgress?: (line: string) => void },
): Promise<{ indexBuilds: { name: string; seconds: number; size: string }[] }> {
  const days = options.days ?? 90;
  const log = options.onProgress ?? (() => undefined);
  const { rows: indexes } = await db.query<{ name: string; definition: string }>(
    `select i.relname as name, pg_get_indexdef(i.oid) as definition
     from pg_index x join pg_class i on i.oid = x.indexrelid
     where x.indrelid in ('messages'::regclass, 'message_search'::regclass) and not x.indisprimary
       and not exists (select 1 from pg_constraint c where c.conindid = i.oid)`,
  );
  for (const index of indexes) await db.query(`drop index ${index.name}`);
  await db.query('alter table messages disable trigger user');
  await db.query(`set maintenance_work_mem = '512MB'`);

  // One large campaign: the campaign rows of the 4th tenth of the table (8 % of all rows).
  const bigFrom = Math.floor(options.rows * 0.3);
  const bigTo = Math.floor(options.rows * 0.4);
  // Task rows first (messages reference them): one per campaign block, one per 10 API rows.
  await db.query(
    `insert into tasks (id, name, type, status, workflow_id, created_at, total)
     select overlay(overlay(md5('task' || t) placing '4' from 13) placing '8' from 17)::uuid, 'task ' || t, case when t >= 1000000 then 'api' else 'sms' end, 'completed', 'task-' || t,
            now() - make_interval(days => $2::int), 0
     from (select distinct case when ((g - 1) / 20000) % 5 = 4 then 1000000 + (g - 1) / 10 when g > $3::bigint and g <= $4::bigint then 999999
                                else (g - 1) / 20000 end as t
           from generate_series(1, $1::bigint) g) tasks`,
    [options.rows, days, bigFrom, bigTo],
  );
  const chunk = 1_000_000;
  for (let low = 1; low <= options.rows; low += chunk) {
    const high = Math.min(options.rows, low + chunk - 1);
    const started = Date.now();
    await db.query(
      `insert into messages (id, task_id, group_id, send_id, seq, channel, channel_index, optional, released, status,
         sender, recipient, text, variables, parts, cost, lifetime_seconds, registered_at, sent_at, status_at, delivery_end_at)
       select gen_random_uuid(), overlay(overlay(md5('task' || task_no) placing '4' from 13) placing '8' from 17)::uuid, gen_random_uuid(), task_no || ':' || g, g, channel, 0, optional, true, status,
         'ACME',
         case channel
           when 'email' then 'user' || customer || '@' || (array['gmail.com', 'mail.ru', 'yandex.ru', 'example.com'])[1 + customer % 4]
           when 'push' then md5('push' || customer)
           when 'chat' then (customer * 7919 % 1000000000)::text
           else '+79' || lpad((customer * 7919 % 1000000000)::text, 9, '0')
         end,
         'Hi, your order A-' || g || ' is ready. Track it: https://ex.am/' || left(md5(g::text), 8),
         case when g % 2 = 0 then jsonb_build_object('order', 'A-' || g) end, parts, 0.05 * parts, 86400,
         registered_at,
         case when status not in ('CREATED', 'DELAYED', 'PAUSED', 'QUEUED', 'CANCELED') then registered_at + interval '1 second' end,
         registered_at + interval '5 seconds', registered_at + interval '1 day'
       from (
         select g, task_no, big, optional, parts, customer,
           case when c < 0.60 then 'sms' when c < 0.75 then 'viber' when c < 0.85 then 'whatsapp'
                when c < 0.93 then 'email' when c < 0.98 then 'push' else 'chat' end as channel,
           case when s < 0.65 then 'DELIVERED' when s < 0.71 then 'READ' when s < 0.79 then 'UNDELIVERED'
                when s < 0.82 then 'ERROR' when s < 0.87 then 'SKIPPED' when s < 0.90 then 'CANCELED'
                when s < 0.93 then 'SENT' when s < 0.95 then 'PENDING' when s < 0.96 then 'QUEUED'
                when s < 0.98 then 'CREATED' when s < 0.995 then 'DELAYED' else 'PAUSED' end as status,
           case when big then t0 + $5::bigint * step when campaign then t0 + (g - 1 - (g - 1) % 20000) * step else t0 + (g - 1) * step end as registered_at
         from (
           select g,
             ((g - 1) / 20000) % 5 <> 4 as campaign,
             ((g - 1) / 20000) % 5 <> 4 and g > $5::bigint and g <= $6::bigint as big,
             case when ((g - 1) / 20000) % 5 = 4 then 1000000 + (g - 1) / 10 when g > $5::bigint and g <= $6::bigint then 999999
                  else (g - 1) / 20000 end as task_no,
             random() < 0.2 as optional,
             1 + (random() < 0.3)::int as parts,
             floor(random() * 2000000)::bigint as customer,
             random() as c,
             random() as s,
             now() - make_interval(days => $3::int) as t0,
             make_interval(days => $3::int) / $4::bigint as step
           from generate_series($1::bigint, $2::bigint) g
         ) drawn
       ) shaped`,
      [low, high, days, options.rows, bigFrom, bigTo],
    );
    log(`  rows ${low.toLocaleString('en')}–${high.toLocaleString('en')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  await db.query(
    `insert into task_counts (task_id, status, n) select task_id, status, count(*) from messages group by task_id, status
     on conflict (task_id, status) do update set n = excluded.n`,
  );
  await db.query('update tasks t set total = c.n from (select task_id, sum(n) as n from task_counts group by task_id) c where c.task_id = t.id');
  // The log's keys, as the insert trigger (off for the load) would have copied them.
  const keysStarted = Date.now();
  await db.query('insert into message_search (id, task_id, channel, recipient, registered_at) select id, task_id, channel, recipient, registered_at from messages');
  log(`  message_search: ${((Date.now() - keysStarted) / 1000).toFixed(1)} s`);
  await db.query('alter table messages enable trigger user');

  const indexBuilds: { name: string; seconds: number; size: string }[] = [];
  for (const index of indexes) {
    const started = Date.now();
    await db.query(index.definition);
    const { rows } = await db.query<{ size: string }>('select pg_size_pretty(pg_relation_size($1::regclass)) as size', [index.name]);
    indexBuilds.push({ name: index.name, seconds: (Date.now() - started) / 1000, size: rows[0]!.size });
    log(`  index ${index.name}: ${indexBuilds.at(-1)!.seconds.toFixed(1)} s, ${rows[0]!.size}`);
  }
  await db.query('vacuum (analyze) messages');
  await db.query('vacuum (analyze) message_search');
  await db.query('vacuum (analyze) tasks');
  return { indexBuilds };
}
