import { startTaskWorkflow } from '../../workflows/client';
import { seedSmsCampaign } from '../../scripts/bench/seed-campaign';
import { statusQuery } from '../../workflows/definitions';
import { TASK_STATUS } from '../../core/search-attributes';
import { eventually, startStack, type TestStack } from '../support/harness';

/** The campaign path: one task workflow per task, controlled by Temporal updates. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: true, env: { SMS_RATE_PER_SECOND: '500' } });
});
afterAll(async () => {
  await stack.close();
});

const task = async (id: string) => (await stack.admin().get(`/api/v1/tasks/${id}`).expect(200)).body;
const handedOver = async (taskId: string) =>
  (await stack.deps.pool.query('select count(*)::int as n from sandbox_submissions s join messages m on m.send_id = s.send_id where m.task_id = $1', [taskId])).rows[0].n as number;

async function startCampaign(recipients: number, extra: Parameters<typeof seedSmsCampaign>[1] = { recipients }) {
  const { taskId } = await seedSmsCampaign(stack.deps.pool, { ...extra, recipients });
  const workflowId = await startTaskWorkflow(stack.deps.temporal, stack.config, { id: taskId, name: 'campaign', templateId: null });
  return { taskId, handle: stack.deps.temporal.workflow.getHandle(workflowId) };
}

it('pause stops dispatch within seconds and shows PAUSED; resume continues without re-sending or skipping', async () => {
  const { taskId, handle } = await startCampaign(3000);
  await eventually(() => handedOver(taskId), (n) => n > 0, 20_000, 50);
  await stack.admin().post(`/api/v1/tasks/${taskId}/pause`).expect(200, { status: 'paused' });
  const paused = await eventually(() => task(taskId), (t) => t.status === 'paused', 10_000, 100);
  expect(paused.counts.PAUSED).toBeGreaterThan(0);
  await eventually(() => handle.query(statusQuery), (s) => s.status === 'paused' && s.phase === 'paused', 5000, 100);
  await eventually(async () => (await handle.describe()).typedSearchAttributes.get(TASK_STATUS), (s) => s === 'paused', 5000, 100);
  const atPause = await handedOver(taskId);
  await new Promise((r) => setTimeout(r, 1500));
  expect(await handedOver(taskId)).toBe(atPause);
  await stack.admin().post(`/api/v1/tasks/${taskId}/pause`).expect(409);

  await stack.admin().post(`/api/v1/tasks/${taskId}/resume`).expect(200);
  const done = await eventually(() => task(taskId), (t) => t.status === 'completed', 60_000, 250);
  expect(done.counts).toEqual({ DELIVERED: 3000 });
  const { rows } = await stack.deps.pool.query(
    `select count(*)::int as accepted, coalesce(sum(duplicates), 0)::int as duplicates
     from sandbox_submissions s join messages m on m.send_id = s.send_id where m.task_id = $1`,
    [taskId],
  );
  expect(rows[0]).toEqual({ accepted: 3000, duplicates: 0 });
});

it('cancel marks every unsent message CANCELED and ends the workflow; resume is then refused', async () => {
  const { taskId, handle } = await startCampaign(3000);
  await eventually(() => handedOver(taskId), (n) => n > 0, 20_000, 50);
  await stack.admin().post(`/api/v1/tasks/${taskId}/cancel`).expect(200);
  expect(await handle.result()).toEqual({ status: 'canceled' });
  const done = await task(taskId);
  expect(done.status).toBe('canceled');
  expect(done.counts.CANCELED).toBeGreaterThan(0);
  expect(Object.keys(done.counts).filter((s) => ['CREATED', 'QUEUED', 'PAUSED', 'DELAYED'].includes(s))).toEqual([]);
  expect(await handedOver(taskId)).toBe(3000 - done.counts.CANCELED);
  await stack.admin().post(`/api/v1/tasks/${taskId}/resume`).expect(409);
});

it('a campaign outside its window waits as DELAYED on a durable timer, then sends when it opens', async () => {
  const open = new Date(Math.ceil((Date.now() + 1000) / 60_000) * 60_000);
  const hhmm = (d: Date) => d.toISOString().slice(11, 16);
  const { taskId, handle } = await startCampaign(20, { recipients: 20, sendWindows: [{ from: hhmm(open), to: hhmm(new Date(open.getTime() + 120_000)) }] });
  const waiting = await eventually(() => task(taskId), (t) => (t.counts.DELAYED ?? 0) === 20, 10_000, 100);
  expect(waiting.status).toBe('in_progress');
  // The sweep shows the rows DELAYED just before the workflow starts its wait for the window.
  const state = await eventually(() => handle.query(statusQuery), (s) => s.phase === 'waiting_for_window', Math.max(500, open.getTime() - Date.now() - 200), 50);
  expect(state.phase).toBe('waiting_for_window');
  expect(state.waitingUntil).toBe(open.toISOString());
  await handle.result();
  const { rows } = await stack.deps.pool.query('select min(sent_at) as first from messages where task_id = $1', [taskId]);
  expect(new Date(rows[0].first).getTime()).toBeGreaterThanOrEqual(open.getTime());
  expect((await task(taskId)).counts).toEqual({ DELIVERED: 20 });
}, 120_000);

it('a window that closes mid-campaign stops dispatch; the rest waits DELAYED for the next opening', async () => {
  let close = Math.ceil(Date.now() / 60_000) * 60_000;
  if (close - Date.now() < 8000) close += 60_000; // leave time to start before the window closes
  const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);
  const from = close - 5 * 60_000;
  // More recipients than 500/s can send before the window closes.
  const recipients = Math.ceil(((close - Date.now()) / 1000 + 15) * 500);
  const { taskId, handle } = await startCampaign(recipients, { recipients, sendWindows: [{ from: hhmm(from), to: hhmm(close) }] });
  await eventually(() => handedOver(taskId), (n) => n > 0, 20_000, 100);
  const waiting = await eventually(() => handle.query(statusQuery), (s) => s.phase === 'waiting_for_window', 90_000, 500);
  expect(waiting.waitingUntil).toBe(new Date(from + 24 * 3600_000).toISOString()); // tomorrow's opening
  const sentBeforeClose = await handedOver(taskId);
  expect(sentBeforeClose).toBeGreaterThan(0);
  expect(sentBeforeClose).toBeLessThan(recipients);
  // Nothing is claimed once the window has closed. (A batch claimed just before the close is still
  // answered after it: its sent_at may trail by the batch's time, seconds on a loaded machine.)
  const { rows } = await stack.deps.pool.query(
    `select max(e.created_at) as last from message_events e join messages m on m.id = e.message_id where m.task_id = $1 and e.status = 'QUEUED'`,
    [taskId],
  );
  expect(new Date(rows[0].last).getTime()).toBeLessThan(close + 1000);
  const t = await eventually(() => task(taskId), (x) => (x.counts.DELAYED ?? 0) > 0, 10_000, 200);
  expect(t.counts.DELAYED).toBe(recipients - sentBeforeClose);
  await stack.admin().post(`/api/v1/tasks/${taskId}/cancel`).expect(200);
  expect(await handle.result()).toEqual({ status: 'canceled' });
}, 150_000);
