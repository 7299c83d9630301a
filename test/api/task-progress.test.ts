import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { MessageStatus } from '../../core/status';
import { insertMessages } from '../../db/messages';
import { startStack, type TestStack } from '../support/harness';

/**
 * GET /api/v1/tasks/:id/progress: a task of its own whose messages' statuses and status times are
 * set with SQL, so each step's cumulative counts are known.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

const START = Date.parse('2026-03-01T10:00:00Z');

/** A task started at START; each message gets its status `minutes` after the start. */
async function seedTask(status: string, rows: { status: MessageStatus; minutes: number }[]): Promise<string> {
  const taskId = randomUUID();
  await stack.deps.pool.query(
    `insert into tasks (id, name, type, status, workflow_id, created_at, started_at) values ($1, $2, 'sms', $3, $4, $5, $6)`,
    [taskId, `progress ${taskId.slice(0, 6)}`, status, `test-${taskId}`, new Date(START - 60_000), new Date(START)],
  );
  const ids = rows.map(() => randomUUID());
  await insertMessages(
    stack.deps.pool,
    rows.map((_, i) => ({
      id: ids[i]!,
      taskId,
      groupId: randomUUID(),
      sendId: `${taskId}:${i}`,
      seq: i,
      channel: 'sms',
      channelIndex: 0,
      optional: false,
      status: 'CREATED',
      statusDescription: null,
      sender: 'ACME',
      recipient: `+7999${String(i).padStart(7, '0')}`,
      externalId: null,
      text: `message ${i}`,
      payload: null,
      variables: null,
      templateId: null,
      templateName: null,
      parts: 1,
      cost: 0,
      lifetimeSeconds: 60,
      shortLink: null,
      links: [],
    })),
    'test',
  );
  await stack.deps.pool.query(
    `update messages m set status = r.status, status_at = $2::timestamptz + r.minutes * interval '1 minute'
     from unnest($1::uuid[], $3::text[], $4::int[]) as r(id, status, minutes) where m.id = r.id`,
    [ids, new Date(START), rows.map((r) => r.status), rows.map((r) => r.minutes)],
  );
  return taskId;
}

describe('GET /api/v1/tasks/:id/progress', () => {
  it('gives cumulative counts per step that end at the current counts', async () => {
    // Ends 60 minutes after its start: one step per minute.
    const taskId = await seedTask('completed', [
      { status: 'DELIVERED', minutes: 0 },
      { status: 'DELIVERED', minutes: 10 },
      { status: 'UNDELIVERED', minutes: 10 },
      { status: 'READ', minutes: 30 },
      { status: 'DELIVERED', minutes: 45 },
      { status: 'ERROR', minutes: 60 },
    ]);
    const { body } = await stack.admin().get(`/api/v1/tasks/${taskId}/progress`).expect(200);
    expect(body).toMatchObject({ taskId, from: '2026-03-01T10:00:00.000Z', to: '2026-03-01T11:00:00.000Z' });
    expect(body.statuses).toEqual(['DELIVERED', 'READ', 'UNDELIVERED', 'ERROR', 'CANCELED', 'SKIPPED']);
    expect(body.buckets).toHaveLength(60);
    expect(body.buckets[0].at).toBe('2026-03-01T10:01:00.000Z');
    expect(body.buckets[59].at).toBe('2026-03-01T11:00:00.000Z');
    const at = (step: number) => body.buckets[step - 1].counts;
    expect(at(1)).toEqual({ DELIVERED: 1, READ: 0, UNDELIVERED: 0, ERROR: 0, CANCELED: 0, SKIPPED: 0 });
    expect(at(10)).toMatchObject({ DELIVERED: 1, UNDELIVERED: 0 });
    expect(at(11)).toMatchObject({ DELIVERED: 2, UNDELIVERED: 1, READ: 0 });
    expect(at(31)).toMatchObject({ DELIVERED: 2, UNDELIVERED: 1, READ: 1 });
    expect(at(46)).toMatchObject({ DELIVERED: 3, ERROR: 0 });
    expect(at(60)).toEqual({ DELIVERED: 3, READ: 1, UNDELIVERED: 1, ERROR: 1, CANCELED: 0, SKIPPED: 0 });
    // Never decreasing, and the last step is the current counts.
    for (let i = 1; i < 60; i++) for (const s of body.statuses) expect(body.buckets[i].counts[s]).toBeGreaterThanOrEqual(body.buckets[i - 1].counts[s]);
    expect(body.counts).toEqual({ DELIVERED: 3, READ: 1, UNDELIVERED: 1, ERROR: 1 });
    const task = (await stack.admin().get(`/api/v1/tasks/${taskId}`).expect(200)).body;
    expect(task.counts).toEqual(body.counts);
  });

  it('runs to now while the task runs, with messages not yet final only in the current counts', async () => {
    const taskId = await seedTask('in_progress', [
      { status: 'DELIVERED', minutes: 1 },
      { status: 'SENT', minutes: 2 },
    ]);
    const before = Date.now();
    const { body } = await stack.admin().get(`/api/v1/tasks/${taskId}/progress`).expect(200);
    expect(Date.parse(body.to)).toBeGreaterThanOrEqual(before - 5_000);
    expect(body.buckets).toHaveLength(60);
    expect(body.buckets[0].counts.DELIVERED).toBe(1);
    expect(body.buckets[59].counts).toEqual({ DELIVERED: 1, READ: 0, UNDELIVERED: 0, ERROR: 0, CANCELED: 0, SKIPPED: 0 });
    expect(body.counts).toEqual({ DELIVERED: 1, SENT: 1 });
  });

  it('answers 404 for an unknown or malformed task id and 401 without a key', async () => {
    expect((await stack.admin().get(`/api/v1/tasks/${randomUUID()}/progress`).expect(404)).body.error.code).toBe('not_found');
    await stack.admin().get('/api/v1/tasks/not-a-uuid/progress').expect(404);
    await request(stack.app).get(`/api/v1/tasks/${randomUUID()}/progress`).expect(401);
  });
});
