import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createDispatchActivities } from '../../activities/dispatch';
import { claimForDispatch } from '../../db/dispatch';
import { sweep } from '../../db/sweep';
import { seedSmsCampaign } from '../../scripts/bench/seed-campaign';
import { approvedSender, eventually, smsTemplate, startStack, type TestStack, postWebhook } from '../support/harness';
import { GatedProvider, sandboxWith, ThrottlingProvider } from '../support/providers';

/**
 * Receipts are never dropped, and a claimed row is owned by one dispatch attempt: the engine alone
 * (a sandbox with its deduplication switched off, like a provider without idempotency keys) never
 * hands a row over twice, and one recipient the carrier keeps throttling holds nobody else up.
 * SMS goes through a provider whose answers the test can hold back; Viber throttles one number.
 */
const THROTTLED = '+79960009990';
let gated: GatedProvider;
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    worker: true,
    providers: (pool) =>
      sandboxWith(pool, {
        sms: (sandbox) => (gated = new GatedProvider(sandbox)),
        viber: (sandbox) => new ThrottlingProvider(sandbox, (to) => to === THROTTLED, 1000),
      }),
  });
});
afterAll(async () => {
  await stack.close();
});

const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;
const task = async (id: string) => (await stack.admin().get(`/api/v1/tasks/${id}`).expect(200)).body;
async function send(templateId: string, phones: string[]) {
  const res = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'A', order: 'B' }, recipients: phones.map((phone) => ({ phone })) });
  if (res.status !== 202) throw new Error(`send: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  return res.body as { taskId: string; messages: { id: string }[] };
}
async function sendIdOf(messageId: string): Promise<string> {
  return (await stack.deps.pool.query('select send_id from messages where id = $1', [messageId])).rows[0].send_id;
}

describe('receipts are never dropped', () => {
  it('a webhook receipt that arrives before the SENT naming its id is kept, and applied once the SENT lands', async () => {
    const templateId = await smsTemplate(stack);
    const gate = gated.arm();
    // Digit 3: the sandbox itself never reports, so the webhook's receipt is the only one.
    const sent = await send(templateId, ['+79960000013']);
    const id = sent.messages[0]!.id;
    await gate.reached;
    const providerMessageId = GatedProvider.providerMessageId(await sendIdOf(id));
    const body = JSON.stringify({ receipts: [{ providerMessageId, status: 'DELIVERED', description: 'carrier: delivered' }] });
    const answer = await postWebhook(stack, '/webhooks/sms/gated', body).expect(200);
    expect(answer.body).toEqual({ applied: 0, unknown: 1 });
    expect((await message(id)).status).toBe('QUEUED');

    gate.release();
    const delivered = await eventually(() => message(id), (m) => m.status === 'DELIVERED', 10_000, 100);
    expect(delivered.providerMessageId).toBe(providerMessageId);
    expect(delivered.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED']);
    expect(delivered.events.at(-1)).toMatchObject({ description: 'carrier: delivered', source: 'webhook:gated' });
    const { rows } = await stack.deps.pool.query('select count(*)::int as n from parked_receipts where provider_message_id = $1', [providerMessageId]);
    expect(rows[0].n).toBe(0);
  });

  it('a receipt applied before the SENT: the provider id and the sent time are still stored', async () => {
    const templateId = await smsTemplate(stack);
    const gate = gated.arm();
    const sent = await send(templateId, ['+79960000023']);
    const id = sent.messages[0]!.id;
    await gate.reached;
    // The carrier's delivery report comes in while our SENT is still on its way.
    await stack.deps.pool.query(`insert into sandbox_receipts (message_id, status, description, due_at) values ($1, 'DELIVERED', 'carrier: fast', now())`, [id]);
    await eventually(() => message(id), (m) => m.status === 'DELIVERED', 10_000, 50);
    gate.release();
    const providerMessageId = GatedProvider.providerMessageId(await sendIdOf(id));
    const after = await eventually(() => message(id), (m) => m.providerMessageId === providerMessageId, 10_000, 50);
    expect(after.status).toBe('DELIVERED');
    expect(after.sentAt).not.toBeNull();
    expect(after.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'DELIVERED', 'SENT']);
    expect(after.events.at(-1).description).toBe('not applied: status was DELIVERED');
  });
});

/** Runs an activity function outside any worker, as another worker's attempt would. */
function runActivity<A, R>(activityId: string, fn: (input: A) => Promise<R>, input: A): Promise<R> {
  return new MockActivityEnvironment({ activityId }).run(fn, input) as Promise<R>;
}

describe('a claimed row is owned by one dispatch attempt', () => {
  /** Dispatch activities of another "worker", whose sandbox does not deduplicate. */
  const outsideDispatcher = () => createDispatchActivities({ pool: stack.deps.pool, providers: sandboxWith(stack.deps.pool, {}, { deduplicate: false }) });
  async function carrierCounts(taskId: string) {
    const { rows } = await stack.deps.pool.query(
      `select count(*)::int as accepted, coalesce(sum(s.duplicates), 0)::int as duplicates
       from sandbox_submissions s join messages m on m.send_id = s.send_id where m.task_id = $1`,
      [taskId],
    );
    return rows[0];
  }
  async function runningCampaign(recipients: number) {
    const { taskId } = await seedSmsCampaign(stack.deps.pool, { recipients, name: `race ${randomUUID().slice(0, 6)}` });
    await stack.deps.pool.query(`update tasks set status = 'in_progress' where id = $1`, [taskId]);
    return taskId;
  }

  it('two dispatchers racing on one campaign hand each row over once', async () => {
    const taskId = await runningCampaign(6000);
    const [a, b] = [outsideDispatcher(), outsideDispatcher()];
    const results = await Promise.all([
      runActivity('a', a.dispatchChannel, { taskId, channel: 'sms' as const }),
      runActivity('b', b.dispatchChannel, { taskId, channel: 'sms' as const }),
    ]);
    expect(results[0].submitted + results[1].submitted).toBe(6000);
    expect(results[0].submitted).toBeGreaterThan(0);
    expect(results[1].submitted).toBeGreaterThan(0);
    expect(await carrierCounts(taskId)).toEqual({ accepted: 6000, duplicates: 0 });
  });

  it('two stream dispatchers (a restarted stream beside the old one) and the worker’s own hand each API send over once', async () => {
    const templateId = await approvedSender(stack, 'push').then(async (sender) => {
      const res = await stack.admin().post('/api/v1/templates').send({ name: `race ${randomUUID().slice(0, 6)}`, channels: [{ channel: 'push', sender, text: 'hi' }] });
      return res.body.id as string;
    });
    const until = new Date(Date.now() + 4000).toISOString();
    const [a, b] = [outsideDispatcher(), outsideDispatcher()];
    const racing = Promise.all([
      runActivity('a', a.streamChannel, { channel: 'push' as const, until }),
      runActivity('b', b.streamChannel, { channel: 'push' as const, until }),
    ]);
    const recipients = Array.from({ length: 3000 }, (_, i) => ({ pushToken: `token-${i}-0` }));
    const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, recipients }).expect(202);
    await racing;
    await eventually(() => carrierCounts(sent.body.taskId), (c) => c.accepted === 3000, 20_000, 200);
    expect(await carrierCounts(sent.body.taskId)).toEqual({ accepted: 3000, duplicates: 0 });
  });

  it('rows of a dispatcher that died are left alone while its lease lasts, then handed over once under the same send id', async () => {
    const taskId = await runningCampaign(700);
    const dead = await claimForDispatch(stack.deps.pool, { scope: { taskId }, channel: 'sms', limit: 200, owner: 'dead-attempt' });
    expect(dead.messages).toHaveLength(200);
    const first = await runActivity('x', outsideDispatcher().dispatchChannel, { taskId, channel: 'sms' as const });
    expect(first.submitted).toBe(500);
    expect((await task(taskId)).counts.QUEUED).toBe(200);
    // Its lease lapses (as 60 s after its claim): the task's sweep gives the rows back, and they are
    // claimed again and sent, once.
    await stack.deps.pool.query(`update messages set lease_until = clock_timestamp() - interval '1 second' where owner = 'dead-attempt'`);
    expect((await sweep(stack.deps.pool, { taskId })).returned).toBe(200);
    const second = await runActivity('x', outsideDispatcher().dispatchChannel, { taskId, channel: 'sms' as const });
    expect(second.submitted).toBe(200);
    expect(await carrierCounts(taskId)).toEqual({ accepted: 700, duplicates: 0 });
    const { rows } = await stack.deps.pool.query(
      `select count(*)::int as n from sandbox_submissions s join messages m on m.id = s.message_id and m.send_id = s.send_id where m.task_id = $1`,
      [taskId],
    );
    expect(rows[0].n).toBe(700);
  });
});

it('a recipient the carrier keeps throttling holds nobody up, and each attempt is in its event log', async () => {
  const sender = await approvedSender(stack, 'viber');
  const templateId = (
    await stack.admin().post('/api/v1/templates').send({ name: `throttle ${randomUUID().slice(0, 6)}`, channels: [{ channel: 'viber', sender, text: 'hi', lifetimeMinutes: 5 }] })
  ).body.id;
  const others = Array.from({ length: 20 }, (_, i) => `+7996000${String(i).padStart(3, '0')}0`);
  const started = Date.now();
  const first = await send(templateId, [THROTTLED, ...others]);
  const [throttled, ...rest] = first.messages;
  await eventually(() => Promise.all(rest.map((m) => message(m.id))), (ms) => ms.every((m) => m.status === 'DELIVERED'), 10_000, 100);
  expect(Date.now() - started).toBeLessThan(3000);
  // A later send on the same channel goes straight through too.
  const later = await send(templateId, ['+79960011110']);
  const laterAt = Date.now();
  await eventually(() => message(later.messages[0]!.id), (m) => m.status === 'DELIVERED', 10_000, 50);
  expect(Date.now() - laterAt).toBeLessThan(2000);

  const held = await eventually(
    () => message(throttled!.id),
    (m) => m.events.filter((e: { description: string | null }) => e.description?.startsWith('carrier: throttled (429); retry after')).length >= 2,
    10_000,
    200,
  );
  expect(held.status).toBe('QUEUED');
  expect(held.events.at(-1)).toMatchObject({ status: 'QUEUED', source: 'provider:sandbox' });
  await stack.admin().post(`/api/v1/tasks/${first.taskId}/cancel`).expect(200);
  await eventually(() => message(throttled!.id), (m) => m.status === 'CANCELED', 5000, 100);
});
