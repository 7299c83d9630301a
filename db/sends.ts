import type { Pool } from 'pg';
import { BULK_CHUNK, insertMessages, MESSAGE_INSERT_PARAMS, type NewMessage, type Queryable } from './messages';
import { STREAM_TASK_TYPE } from './scope';

/** An API send: its task row (type `api`, running at once), the task's first timeline entries, and
 * its message rows. */
export interface NewSend {
  task: {
    id: string;
    name: string;
    templateId: string;
    timezone: string;
    sendWindows: unknown;
    total: number;
    workflowId: string;
    createdBy: string | null;
    events: { kind: string; detail: Record<string, unknown> }[];
  };
  rows: NewMessage[];
}

/**
 * Writes sends — tasks, timelines, messages — with the tasks and timelines in the first message
 * statement: up to BULK_CHUNK messages in all are one statement, atomic on its own.
 */
export async function writeSends(db: Queryable, sends: readonly NewSend[]): Promise<void> {
  const p = (n: number) => `$${MESSAGE_INSERT_PARAMS + n}`;
  const tasks = sends.map((s) => s.task);
  const events = tasks.flatMap((t) => t.events.map((e) => ({ taskId: t.id, ...e })));
  await insertMessages(
    db,
    sends.flatMap((s) => s.rows),
    'api',
    {
      ctes: `new_tasks as (
          insert into tasks (id, name, type, status, template_id, timezone, send_windows, total, workflow_id, created_by, started_at)
          select id, name, '${STREAM_TASK_TYPE}', 'in_progress', template_id, timezone, send_windows, total, workflow_id, created_by, now()
          from unnest(${p(1)}::uuid[], ${p(2)}::text[], ${p(3)}::uuid[], ${p(4)}::text[], ${p(5)}::jsonb[], ${p(6)}::int[], ${p(7)}::text[], ${p(8)}::uuid[])
            as t(id, name, template_id, timezone, send_windows, total, workflow_id, created_by)
          returning id),
        new_task_events as (
          insert into task_events (task_id, kind, detail)
          select e.task_id, e.kind, e.detail
          from unnest(${p(9)}::uuid[], ${p(10)}::text[], ${p(11)}::jsonb[]) with ordinality as e(task_id, kind, detail, n)
          where e.task_id in (select id from new_tasks)
          order by e.n)`,
      params: [
        tasks.map((t) => t.id),
        tasks.map((t) => t.name),
        tasks.map((t) => t.templateId),
        tasks.map((t) => t.timezone),
        tasks.map((t) => JSON.stringify(t.sendWindows)),
        tasks.map((t) => t.total),
        tasks.map((t) => t.workflowId),
        tasks.map((t) => t.createdBy),
        events.map((e) => e.taskId),
        events.map((e) => e.kind),
        events.map((e) => JSON.stringify(e.detail)),
      ],
    },
  );
}

/** Statements in flight at once per process. One: the requests that arrive while a batch is
 * written gather into the next, so the batches grow with the load — every statement and commit
 * costs the database more than the rows it adds (`npm run bench -- --api 10000`, two processes:
 * with four writers 3.8 sends a statement and 439–523 req/s, with two 7 and 550–652, with one 12
 * and 711–730, p99 260 ms). */
const CONCURRENT_WRITES = 1;

/** A write of fewer than LINGER_BELOW_SENDS sends waits this long for others to join it. At 1,000
 * sends a second a statement took only 1.3 sends without it (each one's commit, round trip and
 * statement overhead cost PostgreSQL and the API more than its rows): with it, 4 a statement and
 * 1.42 → 1.17–1.24 ms of CPU per send in all (`npm run bench -- --api 40000 --api-rate 1000`,
 * alternated runs), for 2 ms more at p50. Under a heavier load the queue is longer and nothing waits. */
const SEND_LINGER_MS = 2;
const LINGER_BELOW_SENDS = 8;

/**
 * Group commit for API sends: each request's send waits for a write to start — for the write in
 * progress to end, or for SEND_LINGER_MS when only a few sends are waiting; every send queued by
 * then — up to BULK_CHUNK messages — goes into that one statement, so at hundreds of requests a
 * second the database plans, writes and commits once per batch instead of once per request. A send
 * is durable when its promise resolves. If a batch fails, its sends are written one by one, so one
 * bad send fails alone.
 */
export class SendWriter {
  private readonly queue: { send: NewSend; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private writing = 0;
  private linger: NodeJS.Timeout | undefined;

  constructor(private readonly pool: Pool) {}

  write(send: NewSend): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ send, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.writing >= CONCURRENT_WRITES || this.queue.length === 0) return;
    if (this.queue.length < LINGER_BELOW_SENDS) {
      this.linger ??= setTimeout(() => this.drain(), SEND_LINGER_MS);
      return;
    }
    this.drain();
  }

  private drain(): void {
    clearTimeout(this.linger);
    this.linger = undefined;
    while (this.writing < CONCURRENT_WRITES && this.queue.length > 0) {
      let messages = 0;
      let count = 0;
      while (count < this.queue.length && (count === 0 || messages + this.queue[count]!.send.rows.length <= BULK_CHUNK)) {
        messages += this.queue[count]!.send.rows.length;
        count++;
      }
      const batch = this.queue.splice(0, count);
      this.writing++;
      void this.writeBatch(batch).finally(() => {
        this.writing--;
        this.pump();
      });
    }
  }

  private async writeBatch(batch: { send: NewSend; resolve: () => void; reject: (error: unknown) => void }[]): Promise<void> {
    try {
      await writeSends(this.pool, batch.map((b) => b.send));
      for (const b of batch) b.resolve();
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      for (const b of batch) {
        await writeSends(this.pool, [b.send]).then(b.resolve, b.reject);
      }
    }
  }
}

const writers = new WeakMap<Pool, SendWriter>();
/** The process's writer for a pool. */
export function sendWriter(pool: Pool): SendWriter {
  let writer = writers.get(pool);
  if (!writer) writers.set(pool, (writer = new SendWriter(pool)));
  return writer;
}
