import { randomUUID } from 'node:crypto';
import { seedSmsCampaign } from '../../scripts/bench/seed-campaign';
import { sweep } from '../../db/sweep';
import { CONTROL_ANSWER_ROWS, controlTask, setTaskStatus } from '../../db/tasks';
import { startTaskWorkflow } from '../../workflows/client';
import { statusQuery } from '../../workflows/definitions';
import { approvedSender, eventually, smsTemplate, startStack, type TestStack } from '../support/harness';
import { sandboxWith, SlowProvider, ThrottlingProvider } from '../support/providers';

/**
 * One control model (DESIGN.md): pause, resume, cancel, windows and sweeping mean the same for a
 * campaign (its own workflow) and an API send (the notifications stream), and what the API answers
 * is what happens. SMS here goes to a provider that takes 40 ms a call of at most 10 messages (an
 * HTTP API, about 250 messages a second), so a pause can land in the middle of a page; it throttles
 * numbers ending in 7 once, with a 3 s Retry-After.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    worker: true,
    env: { SUPERVISE_SECONDS: '1' },
    providers: (pool) =>
      sandboxWith(pool, { sms: (sandbox) => new SlowProvider(new ThrottlingProvider(sandbox, (to) => to.endsWith('7'), 3000, 1), 10, 40) }),
  });
});
afterAll(async () => {
  await stack.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);
const task = async (id: string) => (await stack.admin().get(`/api/v1/tasks/${id}`).expect(200)).body;
const history = async (id: string) => (await stack.admin().get(`/api/v1/tasks/${id}/history`).expect(200)).body;
const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;
const control = (id: string, action: 'pause' | 'resume' | 'cancel') => stack.admin().post(`/api/v1/tasks/${id}/${action}`);
/** Messages of the task the carrier received. */
async function handedOver(taskId: string): Promise<number> {
  const { rows } = await stack.deps.pool.query(
    'select count(*)::int as n from sandbox_submissions s join messages m on m.send_id = s.send_id where m.task_id = $1',
    [taskId],
  );
  return rows[0].n;
}
const waitingRows = (t: { counts: Record<string, number> }) => ['CREATED', 'QUEUED', 'DELAYED', 'PAUSED'].reduce((n, s) => n + (t.counts[s] ?? 0), 0);

async function campaign(options: Omit<Parameters<typeof seedSmsCampaign>[1], 'name'>) {
  const { taskId } = await seedSmsCampaign(stack.deps.pool, { ...options, name: `campaign ${randomUUID().slice(0, 6)}`, timezone: 'UTC' });
  const workflowId = await startTaskWorkflow(stack.deps.temporal, stack.config, { id: taskId, name: 'campaign', templateId: null });
  return { taskId, handle: stack.deps.temporal.workflow.getHandle(workflowId) };
}

async function sendSms(templateId: string, phones: string[]) {
  const res = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'A', order: 'B' }, recipients: phones.map((phone) => ({ phone })) });
  if (res.status !== 202) throw new Error(`send: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
  return res.body as { taskId: string; messages: { id: string; channel: string; status: string }[] };
}
/** n Russian mobile numbers: +7 997, a two-digit prefix, a four-digit index, the sandbox digit. */
const phones = (n: number, prefix: string, digit: string) => Array.from({ length: n }, (_, i) => `+7997${prefix}${String(i).padStart(4, '0')}${digit}`);

it('windows are checked when a row is claimed: a resume at night, a fallback released at night, pause and cancel while waiting for the window or the start', async () => {
  let opening = Math.ceil(Date.now() / 60_000) * 60_000;
  if (opening - Date.now() < 25_000) opening += 60_000;
  const laterToday = [{ from: hhmm(opening), to: hhmm(opening + 120_000) }];

  // An API send at night: DELAYED; paused, then resumed at night — DELAYED again, not CREATED.
  const nightTemplate = await smsTemplate(stack, { timezone: 'UTC', sendWindows: laterToday });
  const night = await sendSms(nightTemplate, phones(3, '10', '0'));
  expect(night.messages.map((m) => m.status)).toEqual(['DELAYED', 'DELAYED', 'DELAYED']);
  expect((await control(night.taskId, 'pause').expect(200)).body).toEqual({ status: 'paused' });
  expect((await message(night.messages[0]!.id)).status).toBe('PAUSED');
  expect((await control(night.taskId, 'resume').expect(200)).body).toEqual({ status: 'in_progress' });
  const resumed = await message(night.messages[0]!.id);
  expect([resumed.status, resumed.delayedStartAt]).toEqual(['DELAYED', new Date(opening).toISOString()]);

  // Campaigns waiting for the window: one paused and resumed, one left paused.
  const resumedCampaign = await campaign({ recipients: 5, sendWindows: laterToday });
  const pausedCampaign = await campaign({ recipients: 5, sendWindows: laterToday });
  for (const c of [resumedCampaign, pausedCampaign]) {
    await eventually(() => c.handle.query(statusQuery), (s) => s.phase === 'waiting_for_window', 10_000, 100);
    await control(c.taskId, 'pause').expect(200, { status: 'paused' });
  }
  await control(resumedCampaign.taskId, 'resume').expect(200, { status: 'in_progress' });

  // Campaigns waiting for their start time: one paused, one canceled.
  const startAt = new Date(Date.now() + 4000);
  const pausedBeforeStart = await campaign({ recipients: 5, startAt });
  const canceledBeforeStart = await campaign({ recipients: 5, startAt });
  for (const c of [pausedBeforeStart, canceledBeforeStart]) {
    await eventually(() => c.handle.query(statusQuery), (s) => s.phase === 'waiting_for_start', 10_000, 100);
  }
  await control(pausedBeforeStart.taskId, 'pause').expect(200, { status: 'paused' });
  await control(canceledBeforeStart.taskId, 'cancel').expect(200, { status: 'canceled' });
  expect(await canceledBeforeStart.handle.result()).toEqual({ status: 'canceled' });

  // A fallback released after the window closed: viber says nothing and its lifetime ends just
  // after the closing, so the optional SMS is released at night.
  const viber = await approvedSender(stack, 'viber');
  const sms = await approvedSender(stack, 'sms');
  const closingWindow = [{ from: hhmm(opening - 10 * 60_000), to: hhmm(opening) }];
  const fallbackTemplate = (
    await stack.admin().post('/api/v1/templates').send({
      name: `closing ${randomUUID().slice(0, 6)}`,
      timezone: 'UTC',
      sendWindows: closingWindow,
      channels: [
        { channel: 'viber', sender: viber, text: 'viber', lifetimeMinutes: (opening - Date.now() + 4000) / 60_000 },
        { channel: 'sms', sender: sms, text: 'sms', lifetimeMinutes: 1 },
      ],
    })
  ).body.id;
  const fallback = await sendSms(fallbackTemplate, ['+79970008883']);
  const [viberRow, smsRow] = fallback.messages;
  await eventually(() => message(viberRow!.id), (m) => m.status === 'SENT', 10_000, 100);

  await sleep(Math.max(0, opening - Date.now() - 1500));
  for (const id of [night.taskId, resumedCampaign.taskId, pausedCampaign.taskId, pausedBeforeStart.taskId, canceledBeforeStart.taskId]) {
    expect(await handedOver(id)).toBe(0);
  }
  expect((await task(pausedBeforeStart.taskId)).status).toBe('paused');

  // The window opens: the resumed ones go, the paused ones stay, the night fallback waits for tomorrow.
  const delivered = await eventually(() => Promise.all(night.messages.map((m) => message(m.id))), (ms) => ms.every((m) => m.status === 'DELIVERED'), 30_000, 250);
  for (const m of delivered) expect(new Date(m.sentAt).getTime()).toBeGreaterThanOrEqual(opening);
  expect(await resumedCampaign.handle.result()).toEqual({ status: 'completed' });
  const { rows } = await stack.deps.pool.query('select min(sent_at) as first from messages where task_id = $1', [resumedCampaign.taskId]);
  expect(rows[0].first.getTime()).toBeGreaterThanOrEqual(opening);
  const skipped = await eventually(() => message(viberRow!.id), (m) => m.status === 'SKIPPED', 20_000, 250);
  expect(skipped.statusDescription).toBe('Skipped, but optional: lifetime expired');
  const waitingSms = await eventually(() => message(smsRow!.id), (m) => m.status === 'DELAYED', 10_000, 250);
  expect(waitingSms.delayedStartAt).toBe(new Date(opening - 10 * 60_000 + 24 * 3600_000).toISOString());
  await sleep(2000);
  expect((await message(smsRow!.id)).status).toBe('DELAYED');
  expect(await handedOver(fallback.taskId)).toBe(1); // the viber message only
  expect(await handedOver(pausedCampaign.taskId)).toBe(0);
  expect(await handedOver(pausedBeforeStart.taskId)).toBe(0);

  for (const c of [pausedCampaign, pausedBeforeStart]) {
    await control(c.taskId, 'cancel').expect(200, { status: 'canceled' });
    expect(await c.handle.result()).toEqual({ status: 'canceled' });
  }
  await control(fallback.taskId, 'cancel').expect(200);
}, 150_000);

describe('pause and cancel mid-page: no hand-over a second after the answer', () => {
  async function pauseThenCancel(taskId: string, total: number) {
    await eventually(() => handedOver(taskId), (n) => n >= 100, 20_000, 50);
    expect((await control(taskId, 'pause').expect(200)).body).toEqual({ status: 'paused' });
    await sleep(1000);
    const aSecondLater = await handedOver(taskId);
    await sleep(2000);
    expect(await handedOver(taskId)).toBe(aSecondLater);
    expect(aSecondLater).toBeLessThan(total);
    const paused = await task(taskId);
    expect(paused.status).toBe('paused');
    expect(paused.counts.PAUSED).toBe(total - aSecondLater);
    await control(taskId, 'pause').expect(409);

    await control(taskId, 'resume').expect(200, { status: 'in_progress' });
    await eventually(() => handedOver(taskId), (n) => n > aSecondLater + 50, 20_000, 50);
    expect((await control(taskId, 'cancel').expect(200)).body).toEqual({ status: 'canceled' });
    await sleep(1000);
    const atCancel = await handedOver(taskId);
    await sleep(2000);
    expect(await handedOver(taskId)).toBe(atCancel);
    const canceled = await eventually(() => task(taskId), (t) => waitingRows(t) === 0, 5000, 100);
    expect(canceled.status).toBe('canceled');
    expect(canceled.counts.CANCELED).toBe(total - atCancel);
    await control(taskId, 'resume').expect(409);
  }

  it('a campaign', async () => {
    const c = await campaign({ recipients: 3000 });
    await pauseThenCancel(c.taskId, 3000);
    expect(await c.handle.result()).toEqual({ status: 'canceled' });
  }, 60_000);

  it('an API send', async () => {
    const templateId = await smsTemplate(stack);
    const sent = await sendSms(templateId, phones(3000, '20', '0'));
    await pauseThenCancel(sent.taskId, 3000);
  }, 60_000);
});

it('a pause between rounds (rows waiting to be retried) holds: nothing is handed over until resumed', async () => {
  // Every number ends in 7: the provider answers "try later, in 3 s" once for each.
  const c = await campaign({ recipients: 20, lastDigit: 7 });
  await eventually(
    async () => (await stack.deps.pool.query(`select count(*)::int as n from message_events e join messages m on m.id = e.message_id where m.task_id = $1 and e.description like 'carrier: throttled%'`, [c.taskId])).rows[0].n,
    (n) => n === 20,
    10_000,
    100,
  );
  await eventually(() => c.handle.query(statusQuery), (st) => st.phase === 'waiting_for_receipts' && st.lastSweep?.waiting === 20, 3000, 50);
  await control(c.taskId, 'pause').expect(200, { status: 'paused' });
  await sleep(4500); // past the retry time
  expect(await handedOver(c.taskId)).toBe(0);
  expect((await task(c.taskId)).counts).toEqual({ PAUSED: 20 });
  await control(c.taskId, 'resume').expect(200);
  expect(await c.handle.result()).toEqual({ status: 'completed' });
  expect((await task(c.taskId)).counts).toEqual({ DELIVERED: 20 });
}, 60_000);

it('a canceled campaign keeps sweeping what is in flight: every row ends final, then the workflow ends', async () => {
  // Digit 3: accepted, never a receipt — the 4 s lifetime decides.
  const c = await campaign({ recipients: 30, lastDigit: 3, lifetimeSeconds: 4 });
  await eventually(() => task(c.taskId), (t) => t.counts.SENT === 30, 20_000, 100);
  await control(c.taskId, 'cancel').expect(200, { status: 'canceled' });
  expect((await task(c.taskId)).status).toBe('canceled');
  expect(await c.handle.result()).toEqual({ status: 'canceled' });
  const done = await task(c.taskId);
  expect(done).toMatchObject({ status: 'canceled', counts: { UNDELIVERED: 30 } });
}, 60_000);

it('a terminated campaign workflow leaves its task failed, with the reason, and sends nothing more', async () => {
  const c = await campaign({ recipients: 3000 });
  await eventually(() => handedOver(c.taskId), (n) => n >= 100, 20_000, 50);
  await c.handle.terminate('operator pulled the plug');
  const failed = await eventually(() => task(c.taskId), (t) => t.status === 'failed', 10_000, 200);
  expect(failed.statusReason).toBe('workflow terminated: operator pulled the plug');
  await sleep(1000);
  const after = await handedOver(c.taskId);
  await sleep(2000);
  expect(await handedOver(c.taskId)).toBe(after);
  const final = await eventually(() => task(c.taskId), (t) => waitingRows(t) === 0, 5000, 100);
  expect(final.counts.CANCELED).toBe(3000 - after);
  const timeline = await history(c.taskId);
  expect(timeline.events.at(-1)).toMatchObject({ kind: 'failed', detail: { reason: 'workflow terminated: operator pulled the plug' } });
  await control(c.taskId, 'resume').expect(409);
}, 60_000);

it('100 API sends paused, resumed and canceled at once, 100 calls each: every answer is right', async () => {
  const templateId = await smsTemplate(stack);
  const sends = await Promise.all(Array.from({ length: 100 }, (_, i) => sendSms(templateId, phones(100, String(i).padStart(2, '0'), '0'))));
  const ids = sends.map((s) => s.taskId);
  const answered = { pause: 'paused', resume: 'in_progress', cancel: 'canceled' } as const;
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    const answers = await Promise.all(ids.map((id) => control(id, action)));
    const now = await Promise.all(ids.map(task));
    answers.forEach((answer, i) => {
      if (answer.status === 409) {
        expect(now[i].status).toBe('completed'); // it ended on its own before the call
        return;
      }
      expect([answer.status, answer.body.status]).toEqual([200, answered[action]]);
      // What the answer says is what happened (a resumed task may have finished since).
      expect(action === 'resume' ? ['in_progress', 'completed'] : [answer.body.status]).toContain(now[i].status);
    });
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(90);
  }
  await eventually(() => Promise.all(ids.map(task)), (ts) => ts.every((t) => waitingRows(t) === 0), 10_000, 250);
}, 90_000);

describe('a large task: the answer moves the task row and a first batch of rows, the sweep the rest', () => {
  const total = CONTROL_ANSWER_ROWS * 3 + 123;
  const countsOf = async (taskId: string) => (await task(taskId)).counts as Record<string, number>;
  const pending = async (taskId: string) => (await stack.deps.pool.query('select control_pending from tasks where id = $1', [taskId])).rows[0].control_pending as boolean;
  /** Rows of the task a dispatcher gave back with `status` (it held them when the change came). */
  const givenBack = async (taskId: string, status: string) =>
    (
      await stack.deps.pool.query(
        `select count(*)::int as n from message_events e join messages m on m.id = e.message_id
         where m.task_id = $1 and e.status = $2 and e.source = 'dispatcher'`,
        [taskId, status],
      )
    ).rows[0].n as number;
  const lastEvent = async (taskId: string) => (await history(taskId)).events.at(-1) as { kind: string; detail: { messages: number } };

  it('without a workflow: exactly a first batch moves in the answer; each sweep finishes the rows of the latest change', async () => {
    // A running campaign no workflow drives and the stream does not cover (a paused or running
    // campaign is its own workflow's): only the calls below move its rows.
    const { taskId } = await seedSmsCampaign(stack.deps.pool, { recipients: total, name: 'large, no workflow' });
    await setTaskStatus(stack.deps.pool, taskId, 'in_progress');
    // Started "later", so the supervisor does not start its missing workflow during the test.
    await stack.deps.pool.query(`update tasks set started_at = now() + interval '1 hour' where id = $1`, [taskId]);

    await controlTask(stack.deps.pool, taskId, 'pause');
    expect(await countsOf(taskId)).toEqual({ CREATED: total - CONTROL_ANSWER_ROWS, PAUSED: CONTROL_ANSWER_ROWS });
    expect([await pending(taskId), await lastEvent(taskId)]).toEqual([true, expect.objectContaining({ kind: 'paused', detail: { messages: CONTROL_ANSWER_ROWS } })]);
    expect((await sweep(stack.deps.pool, { taskId })).settled).toBe(total - CONTROL_ANSWER_ROWS);
    expect(await countsOf(taskId)).toEqual({ PAUSED: total });
    expect([await pending(taskId), (await lastEvent(taskId)).detail.messages]).toEqual([false, total]);

    // Resumed, then paused again before any sweep: the rows follow the latest status only.
    await controlTask(stack.deps.pool, taskId, 'resume');
    expect(await countsOf(taskId)).toEqual({ CREATED: CONTROL_ANSWER_ROWS, PAUSED: total - CONTROL_ANSWER_ROWS });
    await controlTask(stack.deps.pool, taskId, 'pause');
    expect(await countsOf(taskId)).toEqual({ PAUSED: total });
    expect(await pending(taskId)).toBe(false);

    await controlTask(stack.deps.pool, taskId, 'resume');
    await sweep(stack.deps.pool, { taskId });
    expect(await countsOf(taskId)).toEqual({ CREATED: total });
    expect((await lastEvent(taskId)).detail.messages).toBe(total);
    // Every row's timeline holds each change once: paused, resumed, paused, resumed.
    const { rows } = await stack.deps.pool.query(
      `select count(*)::int as n from message_events e join messages m on m.id = e.message_id where m.task_id = $1 and e.source = 'control'`,
      [taskId],
    );
    expect(rows[0].n).toBe(total * 2 + CONTROL_ANSWER_ROWS * 2);

    // A canceled task is the stream's too (its workflow may be gone): whichever sweep comes first.
    await controlTask(stack.deps.pool, taskId, 'cancel');
    await sweep(stack.deps.pool, { taskId });
    await eventually(() => countsOf(taskId), (counts) => counts.CANCELED === total, 10_000, 100);
    expect([await pending(taskId), (await lastEvent(taskId)).detail.messages]).toEqual([false, total]);
  }, 60_000);

  it('a campaign through the API: paused, resumed and canceled mid-dispatch, every waiting row follows and nothing is handed over after', async () => {
    const c = await campaign({ recipients: total });
    await eventually(() => handedOver(c.taskId), (n) => n >= 100, 20_000, 50);
    await control(c.taskId, 'pause').expect(200, { status: 'paused' });
    await sleep(1000);
    const aSecondLater = await handedOver(c.taskId);
    const paused = await eventually(() => countsOf(c.taskId), (counts) => counts.PAUSED === total - aSecondLater, 20_000, 200);
    expect(paused.CREATED).toBeUndefined();
    expect(await handedOver(c.taskId)).toBe(aSecondLater);
    // The timeline counts the rows the pause moved; those a dispatcher was holding it gave back
    // PAUSED itself, each with its own event.
    expect((await lastEvent(c.taskId)).detail.messages + (await givenBack(c.taskId, 'PAUSED'))).toBe(total - aSecondLater);

    await control(c.taskId, 'resume').expect(200, { status: 'in_progress' });
    await eventually(() => handedOver(c.taskId), (n) => n > aSecondLater + 50, 20_000, 50);
    await control(c.taskId, 'cancel').expect(200, { status: 'canceled' });
    expect(await c.handle.result()).toEqual({ status: 'canceled' });
    const handed = await handedOver(c.taskId);
    const canceled = await countsOf(c.taskId);
    expect(canceled.CANCELED).toBe(total - handed);
    expect(waitingRows({ counts: canceled })).toBe(0);
    expect((await lastEvent(c.taskId)).detail.messages + (await givenBack(c.taskId, 'CANCELED'))).toBe(total - handed);
  }, 120_000);

  it('an API send: the notifications stream moves the rest of its rows', async () => {
    const templateId = await smsTemplate(stack);
    const sent = await sendSms(templateId, phones(9000, '30', '0'));
    await control(sent.taskId, 'pause').expect(200, { status: 'paused' });
    const paused = await eventually(() => countsOf(sent.taskId), (counts) => !counts.CREATED && !counts.QUEUED, 20_000, 200);
    const handed = await handedOver(sent.taskId);
    expect(paused.PAUSED).toBe(9000 - handed);
    expect(await pending(sent.taskId)).toBe(false);
    await control(sent.taskId, 'cancel').expect(200, { status: 'canceled' });
    const canceled = await eventually(() => countsOf(sent.taskId), (counts) => waitingRows({ counts }) === 0, 20_000, 200);
    expect(canceled.CANCELED).toBe(9000 - (await handedOver(sent.taskId)));
  }, 120_000);
});
